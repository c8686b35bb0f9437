#!/usr/bin/env python3
# ISC license: see LICENSE.
"""Peers that connect and say nothing, as a hostile local user would.

  idlepeers.py ADDR N     open N connections to ADDR (a path, or @NAME for
                          an abstract socket) without waiting for any to be
                          accepted; print "open K" (K connected or queued),
                          then hold them all until SIGTERM, and print
                          "closed C" (C of them hung up by the server)
  idlepeers.py ADDR once  one connection, silent: print how the server
                          ended it ("closed", or "error CODE MESSAGE") and
                          after how many seconds, as "after S"
"""
import errno
import select
import signal
import socket
import struct
import sys
import time


def address(a):
    return "\0" + a[1:] if a.startswith("@") else a


def hold(addr, n):
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_UNIX)
        s.setblocking(False)
        try:
            s.connect(addr)
        except OSError as e:
            if e.errno not in (errno.EINPROGRESS, errno.EAGAIN):
                s.close()
                break
        socks.append(s)
    print("open", len(socks), flush=True)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    while not stop:
        time.sleep(0.05)
    print("closed", sum(ended(s) for s in socks), flush=True)


def ended(s):
    """Whether the server hung up on s (after an error frame or not)."""
    try:
        while s.recv(4096, socket.MSG_DONTWAIT):
            pass
        return True
    except BlockingIOError:
        return False
    except OSError:
        return True


def once(addr):
    s = socket.socket(socket.AF_UNIX)
    s.connect(addr)
    t0 = time.monotonic()
    select.select([s], [], [], 30)
    data = s.recv(4096)
    if len(data) >= 14:
        n = struct.unpack(">I", data[8:12])[0]
        code, = struct.unpack(">H", data[12:14])
        print("error", code, data[14:12 + n].decode(errors="replace"))
    else:
        print("closed")
    print("after %.1f" % (time.monotonic() - t0))


if __name__ == "__main__":
    if sys.argv[2] == "once":
        once(address(sys.argv[1]))
    else:
        hold(address(sys.argv[1]), int(sys.argv[2]))
