"""Sends proposals to Platelet agents over their Unix API sockets, in parallel, and prints
a JSON list of the acknowledged ones: [{"id": ..., "index": ...}, ...].

usage: raft_propose.py COUNT TAG SOCKET [SOCKET...]
Each proposal's body is {"tag": TAG, "n": i}; a proposal counts as acknowledged only when
the agent answered 200 with its committed index.
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
    count, tag, sockets = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    acked, lock = [], threading.Lock()
    next_n = iter(range(count))
    workers = 8
    deadline = time.monotonic() + 120  # the whole run is bounded in time, not only in count

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
