#!/usr/bin/env python3
# ISC license: see LICENSE.
"""Scripted peers of fdholder's handoff, fdproto(7), that stop at a step
so that the tests can kill them there with SIGKILL.

holder.py succ SOCK STEP
    A successor: connect, ask (F_TAKE), receive the handoff, confirm.  It
    prints "connected", "asked", "received N", "confirmed" as it goes and
    stops (sleeps) after STEP; it never writes a byte of what it got.
holder.py holder SOCK HOST PORT STEP A B C
    A holder of a connection to HOST PORT: read A+B+C bytes of it, write
    the first A to standard output, keep B in memory and put C in a pipe,
    listen on SOCK, then hand over (F_HANDOFF with the B bytes and the
    pipe) to the successor that asks.  It prints "listening", "asked",
    "sent", "confirmed", and kills itself (SIGKILL) after STEP."""

import os
import signal
import socket
import struct
import sys
import time

F_ACK, F_ERROR, F_TAKE, F_HANDOFF = 2, 3, 16, 17
HOLD_CONN, HF_PIPE = 1, 4


def header(ftype, nfds, length, flags=0):
    return b"FD" + struct.pack(">BBHHI", 1, ftype, nfds, flags, length)


def recv_exact(s, n):
    data = b""
    while len(data) < n:
        b = s.recv(n - len(data))
        if not b:
            return None
        data += b
    return data


def recv_frame(s):
    """A frame: (type, payload, fds), or None at end of file."""
    fds = []
    msg, anc, _, _ = s.recvmsg(12, socket.CMSG_SPACE(253 * 4))
    for level, typ, data in anc:
        if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
            fds += list(struct.unpack("%di" % (len(data) // 4),
                                      data[:len(data) - len(data) % 4]))
    if not msg:
        return None
    if len(msg) < 12:
        msg += recv_exact(s, 12 - len(msg))
    _, _, ftype, _, _, n = struct.unpack(">2sBBHHI", msg)
    return ftype, recv_exact(s, n) if n else b"", fds


def say(what):
    print(what, flush=True)


def stop(step, at, die=False):
    if step != at:
        return
    if die:
        os.kill(os.getpid(), signal.SIGKILL)
    while True:
        time.sleep(60)


def unix_addr(path):
    return "\0" + path[1:] if path.startswith("@") else path


def succ(path, step):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(unix_addr(path))
    say("connected")
    stop(step, "connected")
    s.sendall(header(F_TAKE, 0, 1) + bytes([HOLD_CONN]))
    say("asked")
    stop(step, "asked")
    f = recv_frame(s)
    if f is None or f[0] != F_HANDOFF:
        say("no handoff: %r" % (f,))
        sys.exit(1)
    say("received %d" % len(f[2]))
    stop(step, "received")
    s.sendall(header(F_ACK, 0, 4) + struct.pack(">I", len(f[2])))
    say("confirmed")
    stop(step, "confirmed")


def holder(path, host, port, step, a, b, c):
    conn = socket.create_connection((host, int(port)))
    data = recv_exact(conn, a + b + c)
    os.write(1, data[:a])
    r, w = os.pipe()
    os.write(w, data[a + b:])
    l = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    l.bind(unix_addr(path))
    l.listen(4)
    st = os.stat(path) if not path.startswith("@") else None
    say("listening")
    stop(step, "listening", True)
    s, _ = l.accept()
    f = recv_frame(s)
    say("asked")
    stop(step, "asked", True)
    kept = data[a:a + b]
    payload = struct.pack(">BBHQQII", HOLD_CONN, HF_PIPE, 0,
                          st.st_dev if st else 0, st.st_ino if st else 0,
                          len(kept), 0) + kept
    fds = [conn.fileno(), l.fileno(), r, w]
    s.sendmsg([header(F_HANDOFF, len(fds), len(payload)) + payload],
              [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                struct.pack("%di" % len(fds), *fds))])
    say("sent")
    stop(step, "sent", True)
    f = recv_frame(s)
    say("confirmed" if f and f[0] == F_ACK else "not confirmed: %r" % (f,))
    stop(step, "confirmed", True)


def main():
    if sys.argv[1] == "succ":
        succ(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "holder":
        holder(*sys.argv[2:6], *map(int, sys.argv[6:9]))
    else:
        sys.exit("holder.py: unknown action " + sys.argv[1])


if __name__ == "__main__":
    main()
