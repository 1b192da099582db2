#!/usr/bin/env python3
"""Prints N ports P on 127.0.0.1 such that P and P+1 are both free for TCP and UDP right now
(an agent listens for gossip on P and for Raft on P+1 by default).

usage: free_ports.py N [USED_FILE]
With USED_FILE, ports listed there (and their neighbours) are never handed out, and the
ports handed out are appended to it, so repeated calls in one test never collide.
"""
import socket
import sys


def free(port):
    socks = []
    try:
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            s = socket.socket(socket.AF_INET, kind)
            socks.append(s)
            s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        for s in socks:
            s.close()


def main():
    want = int(sys.argv[1])
    used_file = sys.argv[2] if len(sys.argv) > 2 else None
    used = set()
    if used_file:
        try:
            used = {int(x) for x in open(used_file).read().split()}
        except OSError:
            pass
    got = []
    while len(got) < want:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        taken = used | set(got) | {p + 1 for p in got}
        if port >= 65535 or {port - 1, port, port + 1} & taken:
            continue
        if free(port) and free(port + 1):
            got.append(port)
    if used_file:
        with open(used_file, "a") as f:
            f.write(" ".join(f"{p} {p + 1}" for p in got) + "\n")
    print(*got)


if __name__ == "__main__":
    main()
