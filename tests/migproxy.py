#!/usr/bin/env python3
# ISC license: see LICENSE.
"""The transport of tests/migrate.t, in place of ssh, that can misbehave.

migproxy.py [-V VERSION] [-K confirm] [-H confirm] [-R TYPE] CMD ...

Run CMD (the exporter) with pipes for its standard input and output and
pass fdproto(7) frames between them and ours (the importer's), whole.
-V: make the record's version (the first byte of F_STATE's payload)
VERSION.  -K confirm: die (SIGKILL) when the importer's F_ACK comes,
before passing it on: the transport cut before the confirmation.
-H confirm: hang there instead, passing nothing on, until the importer
closes its end.  -R: pass the importer's F_ACK on as a frame of type
TYPE."""

import getopt
import os
import select
import signal
import struct
import subprocess
import sys

F_STATE = 24
F_ACK = 2


def split(buf):
    if len(buf) < 12:
        return None, buf
    n = struct.unpack(">I", buf[8:12])[0]
    if len(buf) < 12 + n:
        return None, buf
    return buf[:12 + n], buf[12 + n:]


def main():
    opts, cmd = getopt.getopt(sys.argv[1:], "V:K:H:R:")
    opts = dict(opts)
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    up, down = p.stdin.fileno(), p.stdout.fileno()
    bufs = {0: b"", down: b""}
    live = [0, down]
    hung = False
    while 0 in live:
        r, _, _ = select.select(live, [], [])
        for fd in r:
            d = os.read(fd, 65536)
            if not d:
                live.remove(fd)
                if fd == 0:
                    p.stdin.close()
                continue
            bufs[fd] += d
            while True:
                f, bufs[fd] = split(bufs[fd])
                if f is None:
                    break
                if fd == down and f[3] == F_STATE and "-V" in opts:
                    f = f[:12] + bytes([int(opts["-V"])]) + f[13:]
                if fd == 0 and f[3] == F_ACK and \
                        opts.get("-K") == "confirm":
                    os.kill(os.getpid(), signal.SIGKILL)
                if fd == 0 and f[3] == F_ACK and \
                        opts.get("-H") == "confirm":
                    hung = True
                if fd == 0 and f[3] == F_ACK and "-R" in opts:
                    f = f[:3] + bytes([int(opts["-R"])]) + f[4:]
                if not hung:
                    os.write(up if fd == 0 else 1, f)
    if hung:
        p.kill()
    sys.exit(p.wait())


main()
