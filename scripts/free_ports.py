#!/usr/bin/env python3
"""Prints N ports P on 127.0.0.1 such that P and P+1 are both free for TCP and UDP right now
(an agent listens for gossip on P and for Raft on P+1 by default).

usage: free_ports.py N [USED_FILE]
With USED_FILE, ports listed there (and their neighbours) are never handed out, and the
ports handed out are appended to it, so repeated calls in one test never collide.

Tests run in parallel (ctest -j) and a port is only reserved by binding it, which the
agent does a moment later; so every call also records what it hands out in a machine-wide
file under flock and skips what another call handed out in the last RESERVE_S seconds.
The file is per user (another user's would not be ours to write); a user's ports still
skip every port bound right now, whoever bound it.

Ports come from below the kernel's ephemeral range (net.ipv4.ip_local_port_range) when it
leaves room: a test that SIGKILLs an agent and starts it again on the same port must not
find it taken meanwhile by some process's outgoing connection, which the kernel gives a
source port from that range. Without room, the kernel's bind(0) choice is used.
"""
import fcntl
import os
import random
import socket
import sys
import tempfile
import time

RESERVE_S = 600
SHARED = os.path.join(tempfile.gettempdir(), "platelet-free-ports-%d" % os.getuid())


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


def recent(f, now):
    """Ports other calls handed out in the last RESERVE_S seconds, from the shared file."""
    keep = {}
    f.seek(0)
    for line in f.read().split("\n"):
        fields = line.split()
        if len(fields) == 2 and fields[0].isdigit():
            try:
                when = float(fields[1])
            except ValueError:
                continue
            if now - when < RESERVE_S:
                keep[int(fields[0])] = when
    return keep


def main():
    want = int(sys.argv[1])
    used_file = sys.argv[2] if len(sys.argv) > 2 else None
    used = set()
    if used_file:
        try:
            used = {int(x) for x in open(used_file).read().split()}
        except OSError:
            pass
    with open(SHARED, "a+") as shared:
        fcntl.flock(shared, fcntl.LOCK_EX)
        now = time.time()
        reserved = recent(shared, now)
        got = pick(want, used | set(reserved) | {p + 1 for p in reserved})
        for p in got:
            reserved[p] = now
        shared.seek(0)
        shared.truncate()
        shared.write("".join(f"{p} {when:.0f}\n" for p, when in sorted(reserved.items())))
    if used_file:
        with open(used_file, "a") as f:
            f.write(" ".join(f"{p} {p + 1}" for p in got) + "\n")
    print(*got)


def below_ephemeral():
    """(low, high) below the kernel's ephemeral ports, or None when there is no room."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            first = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    low = 10000
    return (low, first - 2) if first - 2 - low >= 4096 else None


def pick(want, used):
    got = []
    span = below_ephemeral()
    rng = random.SystemRandom()
    while len(got) < want:
        if span:
            port = rng.randint(*span)
        else:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
        taken = used | set(got) | {p + 1 for p in got}
        if port >= 65535 or {port - 1, port, port + 1} & taken:
            continue
        if free(port) and free(port + 1):
            got.append(port)
    return got


if __name__ == "__main__":
    main()
