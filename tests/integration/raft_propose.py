"""Sends proposals to Platelet agents over their Unix API sockets, in parallel, and prints
a JSON list of the acknowledged ones: [{"id": ..., "index": ...}, ...].

usage: raft_propose.py [--seconds S] [--workers W] COUNT TAG SOCKET [SOCKET...]
Each proposal's body is {"tag": TAG, "n": i}; a proposal counts as acknowledged only when
the agent answered 200 with its committed index. The run ends after COUNT proposals or S
seconds (default 120), whichever comes first; W proposals are in flight at once (default 8).
"""
import http.client
import json
import socket
import sys
import threading
import time


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=5)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(5)
        self.sock.connect(self.path)


def main():
    args = sys.argv[1:]
    seconds, workers = 120.0, 8
    while args and args[0].startswith("--"):
        if len(args) < 2:
            sys.exit(f"raft_propose.py: {args[0]} needs a value")
        if args[0] == "--seconds":
            seconds = float(args[1])
        elif args[0] == "--workers":
            workers = int(args[1])
        else:
            sys.exit(f"raft_propose.py: unknown flag {args[0]}")
        args = args[2:]
    if len(args) < 3:
        sys.exit("usage: raft_propose.py [--seconds S] [--workers W] COUNT TAG SOCKET [SOCKET...]")
    count, tag, sockets = int(args[0]), args[1], args[2:]
    acked, lock = [], threading.Lock()
    next_n = iter(range(count))
    deadline = time.monotonic() + seconds  # the whole run is bounded in time, not only in count

    def work(w):
        conn = None
        for n in next_n:
            if time.monotonic() > deadline:
                break
            path = sockets[(n + w) % len(sockets)]
            body = json.dumps({"kind": "note", "body": {"tag": tag, "n": n}})
            try:
                conn = UnixConnection(path)
                conn.request("POST", "/v1/propose", body, {"Content-Type": "application/json"})
                resp = conn.getresponse()
                data = resp.read()
                if resp.status == 200:
                    with lock:
                        acked.append({"n": n, "index": json.loads(data)["index"]})
            except (OSError, http.client.HTTPException, ValueError):
                pass
            finally:
                if conn is not None:
                    conn.close()

    threads = [threading.Thread(target=work, args=(w,)) for w in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    json.dump(acked, sys.stdout)


if __name__ == "__main__":
    main()
