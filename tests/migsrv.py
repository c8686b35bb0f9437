#!/usr/bin/env python3
# ISC license: see LICENSE.
"""The server of tests/migrate.t: a connection moved between hosts.

migsrv.py ADDR PORT RATE

Listen on ADDR PORT, write "ready" to standard output, and send the first
connection the lines 1, 2, ... at RATE lines a second, while reading what
the peer sends (lines "K NS": a count and the monotonic time it was
written, by tests/migrate.t's -i writer).  Connections after the first
are counted and closed.  On SIGTERM: stop, and print one line:

  accepted A reset R sent N got G maxgap_ms M maxsend_ms S

A: connections accepted; R: 1 if the connection was reset (ECONNRESET or
EPIPE); N: the last line sent; G: the peer's lines received; M: the
longest time between two of them arriving (the stall the server's reader
saw); S: the longest send call (the server's send stall).  The peer's
lines must come in order, each once: a line out of order is printed as
"bad LINE" before the summary."""

import os
import select
import signal
import socket
import sys
import time

stop = False


def on_term(sig, frame):
    global stop
    stop = True


class Peer:
    """What the peer sent: its lines, in order, and the longest gap."""

    def __init__(self):
        self.got = 0
        self.want = None
        self.bad = []
        self.buf = b""
        self.last = None
        self.maxgap = 0.0

    def take(self, d):
        now = time.monotonic()
        self.buf += d
        *lines, self.buf = self.buf.split(b"\n")
        for ln in lines:
            k = int(ln.split()[0])
            if self.want is not None and k != self.want:
                self.bad.append(ln.decode())
            self.want = k + 1
            self.got += 1
            if self.last is not None:
                self.maxgap = max(self.maxgap, now - self.last)
            self.last = now


def drain(c, p):
    """Our end of the stream, then the peer's: a close with nothing
    unread sends no reset."""
    c.setblocking(True)
    c.shutdown(socket.SHUT_WR)
    c.settimeout(5)
    try:
        while True:
            d = c.recv(65536)
            if not d:
                return 0
            p.take(d)
    except (ConnectionResetError, BrokenPipeError):
        return 1
    except socket.timeout:
        return 0


def main():
    addr, port, rate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    signal.signal(signal.SIGTERM, on_term)
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(8)
    print("ready", flush=True)
    accepted = reset = sent = 0
    maxsend = 0.0
    p = Peer()
    c = None
    start = None
    while not stop:
        rd = [ls] + ([c] if c else [])
        try:
            r, _, _ = select.select(rd, [], [], 0.002)
        except InterruptedError:
            continue
        if ls in r:
            n, _ = ls.accept()
            accepted += 1
            if c is None:
                c = n
                c.setblocking(False)
                start = time.monotonic()
            else:
                n.close()
        if c is None:
            continue
        if c in r:
            try:
                d = c.recv(65536)
            except BlockingIOError:
                d = None
            except (ConnectionResetError, BrokenPipeError):
                reset = 1
                break
            if d == b"":
                break
            if d:
                p.take(d)
        due = int((time.monotonic() - start) * rate)
        if due > sent:
            data = "".join("%d\n" % k for k in range(sent + 1, due + 1))
            t = time.monotonic()
            c.setblocking(True)
            try:
                c.sendall(data.encode())
            except (ConnectionResetError, BrokenPipeError):
                reset = 1
                break
            c.setblocking(False)
            maxsend = max(maxsend, time.monotonic() - t)
            sent = due
    if c is not None and not reset:
        reset = drain(c, p)
    for b in p.bad[:5]:
        print("bad", b)
    print("accepted %d reset %d sent %d got %d maxgap_ms %.1f maxsend_ms %.1f"
          % (accepted, reset, sent, p.got, p.maxgap * 1000, maxsend * 1000),
          flush=True)


main()
