#!/usr/bin/env python3
"""A stand-in for systemd's notify socket: binds an AF_UNIX datagram socket (a path, or an
abstract name written "@name" as in $NOTIFY_SOCKET) and prints every datagram it receives
on one line, newlines shown as '|', flushed at once, until it is killed.

usage: notify_listener.py SOCKET
"""
import socket
import sys


def main():
    if len(sys.argv) != 2:
        print("usage: notify_listener.py SOCKET", file=sys.stderr)
        return 2
    name = sys.argv[1]
    addr = "\0" + name[1:] if name.startswith("@") else name
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(addr)
    print("listening", flush=True)
    while True:
        data = s.recv(4096)
        print(data.decode("utf-8", "replace").replace("\n", "|"), flush=True)


if __name__ == "__main__":
    sys.exit(main())
