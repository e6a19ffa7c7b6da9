#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Prints COUNT distinct TCP ports that are free on 127.0.0.1, one a line.
"""ports.py COUNT

Ports are drawn at random from 20000-32767: below Linux's ephemeral range (32768-60999), so an
outgoing connection cannot take one between this pick and the server's bind, and random so
that several stacks started at once on this machine rarely pick the same one. Each port is
held bound until all are picked; the small window after that is closed by stack.sh, which
checks that each listening socket belongs to the server it started.
"""
import random
import socket
import sys


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    count = int(sys.argv[1])
    held = []
    rng = random.SystemRandom()
    for _ in range(1000):
        if len(held) == count:
            break
        port = rng.randrange(20000, 32768)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            sock.close()
            continue
        held.append(sock)
    if len(held) != count:
        sys.exit("ports.py: found only %d free ports in 20000-32767" % len(held))
    for sock in held:
        print(sock.getsockname()[1])
        sock.close()


if __name__ == "__main__":
    main()
