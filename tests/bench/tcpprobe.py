#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Small TCP tools for the bench, stdlib only.

  tcpprobe.py echo PORT [--bind ADDR] [--lifetime SECS]
      echo server: every connection gets its bytes back.
  tcpprobe.py rtt HOST PORT [--socks HOST:PORT] [--count N] [--timeout SECS]
      connect (directly or through a SOCKS5 proxy, the name resolved by the
      proxy), then COUNT times send one byte and wait for it to come back.
      Prints "rtt_ms median=M avg=A min=N max=X count=C".
"""
import argparse
import socket
import statistics
import struct
import sys
import threading
import time


def echo(args):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((args.bind, args.port))
    srv.listen(16)
    srv.settimeout(1.0)
    deadline = time.monotonic() + args.lifetime

    def serve(c):
        c.settimeout(args.lifetime)
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                b = c.recv(65536)
                if not b:
                    break
                c.sendall(b)
        except OSError:
            pass
        finally:
            c.close()

    while time.monotonic() < deadline:
        try:
            c, _ = srv.accept()
        except socket.timeout:
            continue
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        chunk = s.recv(n - len(b))
        if not chunk:
            raise OSError("connection closed")
        b += chunk
    return b


def socks5_connect(proxy, host, port, timeout):
    ph, pp = proxy.rsplit(":", 1)
    s = socket.create_connection((ph, int(pp)), timeout=timeout)
    s.sendall(b"\x05\x01\x00")
    if recv_exact(s, 2) != b"\x05\x00":
        raise OSError("SOCKS5: no acceptable authentication")
    name = host.encode()
    s.sendall(b"\x05\x01\x00\x03" + bytes([len(name)]) + name +
              struct.pack(">H", port))
    rep = recv_exact(s, 4)
    if rep[1] != 0:
        raise OSError("SOCKS5: connect failed, reply %d" % rep[1])
    atyp = rep[3]
    if atyp == 1:
        recv_exact(s, 4 + 2)
    elif atyp == 4:
        recv_exact(s, 16 + 2)
    else:
        recv_exact(s, recv_exact(s, 1)[0] + 2)
    return s


def rtt(args):
    if args.socks:
        s = socks5_connect(args.socks, args.host, args.port, args.timeout)
    else:
        s = socket.create_connection((args.host, args.port),
                                     timeout=args.timeout)
    s.settimeout(args.timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    samples = []
    for i in range(args.count + 1):
        t0 = time.perf_counter()
        s.sendall(b"x")
        recv_exact(s, 1)
        if i:   # the first one also builds the stream: not a sample
            samples.append((time.perf_counter() - t0) * 1e3)
    s.close()
    print("rtt_ms median=%.3f avg=%.3f min=%.3f max=%.3f count=%d" % (
        statistics.median(samples), statistics.mean(samples), min(samples),
        max(samples), len(samples)))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("echo")
    e.add_argument("port", type=int)
    e.add_argument("--bind", default="127.0.0.1")
    e.add_argument("--lifetime", type=float, default=600)
    r = sub.add_parser("rtt")
    r.add_argument("host")
    r.add_argument("port", type=int)
    r.add_argument("--socks")
    r.add_argument("--count", type=int, default=20)
    r.add_argument("--timeout", type=float, default=30)
    args = p.parse_args()
    try:
        echo(args) if args.cmd == "echo" else rtt(args)
    except (OSError, ValueError) as ex:
        print("tcpprobe: %s" % ex, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
