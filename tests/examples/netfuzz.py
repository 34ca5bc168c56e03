#!/usr/bin/env python3
"""Hostile traffic for a network example: seeded, bounded by a connection count (never by time).

usage: netfuzz.py PORT PROTOCOL(kv|http|echo) CONNECTIONS [SEED]

Eight workers open CONNECTIONS connections in all. On each they send a few requests of the
protocol, most of them mutated (bytes flipped, cut, duplicated, huge or negative numbers spliced
in), in pieces of random size, sometimes reading what came back. Then they end the connection in
one of three ways: a plain close, a reset (SO_LINGER 0), or a half-close followed by reading until
the server closes. Afterwards a clean request on a new connection must get the right answer.
Exit status 0 if it did, 1 if not. The server's own checks (no crash, no sanitizer report, a clean
exit on SIGTERM) are the caller's.
"""
import random
import socket
import struct
import sys
import threading

SEEDS = {
    "kv": [
        b"*1\r\n$4\r\nPING\r\n",
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n",
        b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
        b"*5\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n$2\r\nPX\r\n$3\r\n100\r\n",
        b"*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n",
        b"*3\r\n$4\r\nMSET\r\n$1\r\nx\r\n$1\r\ny\r\n",
        b"*3\r\n$6\r\nEXPIRE\r\n$1\r\na\r\n$2\r\n-5\r\n",
        b"*2\r\n$3\r\nTTL\r\n$1\r\na\r\n",
        b"PING\r\n",
        b"SET a b EX 10\r\n",
        b"*-1\r\n",
        b"*99999999999\r\n",
        b"$-5\r\n",
        b"*2\r\n$99999999\r\nab\r\n",
    ],
    "http": [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.0\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
        b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        b"GET /%00 HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        b"GET / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
        b"GET / HTTP/9.9\r\n\r\n",
        b" / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nA: " + b"x" * 20000 + b"\r\n\r\n",
    ],
    "echo": [b"hello", bytes(range(256)) * 20],
}
NUMBERS = [b"0", b"-1", b"2147483648", b"9223372036854775808", b"18446744073709551616", b"1" * 30]


def mutate(rng, seeds, data):
    b = bytearray(data)
    for _ in range(rng.randint(0, 4)):
        if not b:
            b = bytearray(rng.randbytes(8))
        i = rng.randrange(len(b))
        op = rng.randrange(6)
        if op == 0:
            b[i] = rng.randrange(256)
        elif op == 1:
            del b[i:i + rng.randint(1, 8)]
        elif op == 2:
            b[i:i] = rng.randbytes(rng.randint(1, 16))
        elif op == 3:
            b[i:i] = rng.choice(seeds)
        elif op == 4:
            b[i:i] = rng.choice(NUMBERS)
        else:
            b = b + b
    return bytes(b)


def worker(port, seeds, count, seed, errors):
    rng = random.Random(seed)
    for _ in range(count):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                for _ in range(rng.randint(1, 12)):
                    data = b"".join(mutate(rng, seeds, rng.choice(seeds)) if rng.random() < 0.7
                                    else rng.choice(seeds) for _ in range(rng.randint(1, 4)))
                    while data:
                        k = rng.randint(1, len(data))
                        s.sendall(data[:k])
                        data = data[k:]
                    if rng.random() < 0.3:
                        s.settimeout(0.05)
                        try:
                            s.recv(65536)
                        except socket.timeout:
                            pass
                        s.settimeout(5)
                end = rng.random()
                if end < 0.3:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                elif end < 0.5:
                    s.shutdown(socket.SHUT_WR)
                    while s.recv(65536):
                        pass
        except OSError:  # the server may close or reset a connection that broke its protocol
            errors[0] += 1


def main():
    port, proto, total = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    seeds = SEEDS[proto]
    errors = [0]
    workers = [threading.Thread(target=worker, args=(port, seeds, total // 8, seed * 100 + i, errors))
               for i in range(8)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        request, want = {
            "kv": (b"*1\r\n$4\r\nPING\r\n", b"+PONG\r\n"),
            "http": (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"HTTP/1.1 200"),
            "echo": (b"ping", b"ping"),
        }[proto]
        s.sendall(request)
        got = b""
        while len(got) < len(want):
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
    ok = got.startswith(want)
    print(f"{proto}: {total} connections, {errors[0]} ended by the server; "
          f"a clean request afterwards: {'answered' if ok else 'FAILED, got %r' % got[:80]}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
