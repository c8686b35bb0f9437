#!/usr/bin/env python3
# ISC license: see LICENSE.
"""A TCP server on loopback for the fdholder tests, demo and benchmark.

stream.py [-6] [-e] [-B BYTES] [-g FILE -s STEPS] [-R FILE] [-r LINES] [-t]
          PORTFILE N

Listen on an ephemeral port of 127.0.0.1 (::1 with -6), write the port to
PORTFILE, and send the lines 1..N to the first connection: as fast as the
peer takes them (seq(1) writes straight into the socket), or LINES lines a
second with -r, or at BYTES bytes a second with -B (seq's output, paced),
or paced by progress with -g and -s: in STEPS parts, part k+1 once FILE
has k lines (a test appends one at each restart; at most 60 s each).  -t prefixes every line with the send time (monotonic
nanoseconds and a space).  With -e, echo what the peer sends instead.  The
connection stays open after the stream until the peer closes it; with
-R, the number of bytes the peer sent on it is written to FILE at the end.
Connections after the first are counted and closed at once.  On SIGTERM,
close everything, print "accepted K" and exit 0."""

import getopt
import os
import select
import signal
import socket
import subprocess
import sys
import time

stop = False


def on_term(sig, frame):
    global stop
    stop = True


def paced(c, n, rate, stamp):
    """Send 1..n at rate lines a second, in small bursts."""
    c.setblocking(True)
    start = time.monotonic()
    i = 1
    burst = max(1, rate // 200)
    while i <= n and not stop:
        j = min(n, i + burst - 1)
        if stamp:
            t = time.monotonic_ns()
            data = "".join("%d %d\n" % (t, k) for k in range(i, j + 1))
        else:
            data = "".join("%d\n" % k for k in range(i, j + 1))
        c.sendall(data.encode())
        i = j + 1
        ahead = start + (i - 1) / rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)


def bytepaced(c, n, rate):
    """Send seq 1 n, rate bytes a second, in chunks of 64 KiB."""
    c.setblocking(True)
    seq = subprocess.Popen(["seq", "1", str(n)], stdout=subprocess.PIPE)
    start = time.monotonic()
    sent = 0
    try:
        while not stop:
            data = seq.stdout.read(65536)
            if not data:
                break
            c.sendall(data)
            sent += len(data)
            ahead = start + sent / rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
    finally:
        seq.kill()
        seq.wait()


def lines(path):
    try:
        with open(path) as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0


def gated(c, n, gate, steps):
    """Send seq 1 n in steps parts, each once gate has one line more."""
    for k in range(steps):
        limit = time.monotonic() + 60
        while lines(gate) < k and not stop:
            if time.monotonic() > limit:
                sys.exit("stream.py: %s: no line %d in 60 s" % (gate, k))
            time.sleep(0.005)
        if stop:
            return
        lo, hi = k * n // steps + 1, (k + 1) * n // steps
        if lo <= hi:
            subprocess.run(["seq", str(lo), str(hi)], stdout=c.fileno(),
                           check=True)


def echo(c, l):
    """Send back what arrives, until the peer closes or we are told to."""
    accepted = 0
    while not stop:
        try:
            r, _, _ = select.select([c, l], [], [], 0.05)
        except InterruptedError:
            continue
        if l in r:
            l.accept()[0].close()
            accepted += 1
        if c in r:
            try:
                data = c.recv(65536)
                if not data:
                    break
                c.sendall(data)
            except ConnectionError:
                break
    return accepted


def main():
    opts, args = getopt.getopt(sys.argv[1:], "6B:eg:R:r:s:t")
    opts = dict(opts)
    portfile, n = args[0], int(args[1])
    family = socket.AF_INET6 if "-6" in opts else socket.AF_INET
    host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
    signal.signal(signal.SIGTERM, on_term)
    l = socket.socket(family, socket.SOCK_STREAM)
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind((host, 0))
    l.listen(8)
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % l.getsockname()[1])
    os.rename(portfile + ".tmp", portfile)
    c, _ = l.accept()
    accepted = 1
    if "-e" in opts:
        accepted += echo(c, l)
    else:
        if "-g" in opts:
            try:
                gated(c, n, opts["-g"], int(opts.get("-s", "1")))
            except (ConnectionError, subprocess.CalledProcessError):
                pass
        elif "-B" in opts:
            try:
                bytepaced(c, n, int(opts["-B"]))
            except ConnectionError:
                pass
        elif "-r" in opts or "-t" in opts:
            rate = int(opts.get("-r", "1000000000"))
            try:
                paced(c, n, rate, "-t" in opts)
            except ConnectionError:
                pass
        else:
            # A peer that goes away kills seq with SIGPIPE: that is fine.
            subprocess.run(["seq", "1", str(n)], stdout=c.fileno())
        # Hold the connection open until the peer closes it.
        c.setblocking(False)
        got = 0
        while not stop:
            try:
                r, _, _ = select.select([c, l], [], [], 0.05)
            except InterruptedError:
                continue
            if l in r:
                l.accept()[0].close()
                accepted += 1
            if c in r:
                try:
                    data = c.recv(65536)
                    if not data:
                        break
                    got += len(data)
                except BlockingIOError:
                    pass
                except ConnectionError:
                    break
        if "-R" in opts:
            with open(opts["-R"], "w") as f:
                f.write("%d\n" % got)
    c.close()
    # Count (and close) the connections that come later, until SIGTERM.
    while not stop:
        try:
            r, _, _ = select.select([l], [], [], 0.05)
        except InterruptedError:
            continue
        if r:
            l.accept()[0].close()
            accepted += 1
    print("accepted %d" % accepted, flush=True)


if __name__ == "__main__":
    main()
