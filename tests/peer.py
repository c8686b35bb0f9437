#!/usr/bin/env python3
# ISC license: see LICENSE.
"""Peers for the tests: well-behaved ones that use Python's own SCM_RIGHTS
calls (socket.send_fds, socket.recv_fds), and hostile ones that send what
the protocol forbids.  Usage: peer.py ACTION SOCKET [ARG ...]"""

import os
import select
import socket
import struct
import subprocess
import sys
import time


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    addr = "\0" + path[1:] if path.startswith("@") else path
    deadline = time.monotonic() + 10
    while True:
        try:
            s.connect(addr)
            return s
        except (FileNotFoundError, ConnectionRefusedError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def header(ftype, nfds, length, flags=0, version=1, magic=b"FD"):
    return magic + struct.pack(">BBHHI", version, ftype, nfds, flags, length)


def sendfds(s, data, fds):
    s.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                        struct.pack("%di" % len(fds), *fds))] if fds else [])


def reply(s):
    """Print the receiver's answer: its frame type and, for an error, the
    code and text."""
    s.settimeout(10)
    data = b""
    while len(data) < 12:
        b = s.recv(12 - len(data))
        if not b:
            print("eof")
            return
        data += b
    _, _, ftype, _, _, n = struct.unpack(">2sBBHHI", data)
    body = b""
    while len(body) < n:
        body += s.recv(n - len(body))
    if ftype == 3:
        code, = struct.unpack(">H", body[:2])
        print("error %d %s" % (code, body[2:].decode()))
    else:
        print("type %d" % ftype)


def main():
    action, path = sys.argv[1], sys.argv[2]
    args = sys.argv[3:]
    r, w = os.pipe()
    if action == "garbage":
        s = connect(path)
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        reply(s)
    elif action == "trunc":
        s = connect(path)
        s.sendall(header(1, 0, 100) + b"x" * 10)
        s.shutdown(socket.SHUT_WR)
        reply(s)
    elif action == "morefds":
        s = connect(path)
        sendfds(s, header(1, 3, 3) + b"\0\0\0", [r])
        reply(s)
    elif action == "fdsnone":
        s = connect(path)
        sendfds(s, header(1, 0, 0), [r, w])
        reply(s)
    elif action == "latefds":
        s = connect(path)
        s.sendall(header(1, 1, 1))
        time.sleep(0.1)
        sendfds(s, b"\0", [r])
        reply(s)
    elif action == "byte5":
        # An offer of a pipe that reads ARG, its fd on byte 5 of the
        # header: bytes 0-4 go alone 0.1 s before, to be read alone.
        s = connect(path)
        os.write(w, args[0].encode() + b"\n")
        os.close(w)
        h = header(1, 1, 1)
        s.sendall(h[:5])
        time.sleep(0.1)
        sendfds(s, h[5:] + b"\0", [r])
        reply(s)
    elif action == "halfclose":
        s = connect(path)
        s.sendall(header(1, 0, 0)[:5])
        s.shutdown(socket.SHUT_WR)
        reply(s)
    elif action == "version":
        s = connect(path)
        sendfds(s, header(1, 1, 1, version=9) + b"\0", [r])
        reply(s)
    elif action == "badname":
        s = connect(path)
        sendfds(s, header(1, 1, 4) + b"\x03a:b", [r])
        reply(s)
    elif action == "evil":
        # Bytes meant for a terminal: in an F_ERROR's text, or ARG "name"
        # in an fd's name.
        s = connect(path)
        if args[:1] == ["name"]:
            sendfds(s, header(1, 1, 5) + b"\x04\x1b[2J", [r])
        else:
            text = b"\x1b[2J\x1b[31mred\nfdrecv: forged\x80\\"
            s.sendall(header(3, 0, 2 + len(text)) + b"\0\x01" + text)
        reply(s)
    elif action == "half":
        # Half a frame, then die without closing cleanly.
        s = connect(path)
        s.sendall(header(1, 0, 50) + b"y" * 5)
        time.sleep(0.2)
        os.kill(os.getpid(), 9)
    elif action == "noack":
        # Listen, take the offer, never confirm; with "close", hang up
        # once the whole offer is in.
        l = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        l.bind(path)
        l.listen(1)
        print("ready", flush=True)
        c, _ = l.accept()
        if args[:1] == ["close"]:
            reply(c)
            c.close()
        else:
            c.recv(65536)
            time.sleep(30)
    elif action == "send_fds":
        # socket.send_fds of a pipe whose other end carries ARG.
        s = connect(path)
        os.write(w, args[0].encode() + b"\n")
        os.close(w)
        socket.send_fds(s, [b"x"], [r])
        s.close()
    elif action == "recv_fds":
        # Listen, receive with socket.recv_fds, print what the fd reads.
        l = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        l.bind(path)
        l.listen(1)
        print("ready", flush=True)
        c, _ = l.accept()
        msg, fds, flags, _ = socket.recv_fds(c, 16, 8)
        print("fds %d bytes %d" % (len(fds), len(msg)))
        with os.fdopen(fds[0]) as f:
            print(f.read(), end="")
    elif action == "notify":
        # Play systemd's NOTIFY_SOCKET: print each notification, with its
        # fds and the first line each fd reads; close a BARRIER=1 fd, and
        # end there.  ARG "hang" keeps the barrier fd open instead.
        d = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        d.bind("\0" + path[1:] if path.startswith("@") else path)
        print("ready", flush=True)
        while True:
            msg, fds, _, _ = socket.recv_fds(d, 4096, 300)
            state = msg.decode().replace("\n", " ")
            if state == "BARRIER=1":
                print("%s fds=%d" % (state, len(fds)), flush=True)
                if args[:1] == ["hang"]:
                    time.sleep(30)
                for fd in fds:
                    os.close(fd)
                return
            first = ""
            if fds:
                # The writer of a pipe may not have written yet (under
                # load, echo ran after fdsend had sent its end): wait
                # for it, bounded.
                os.set_blocking(fds[0], False)
                select.select([fds[0]], [], [], 5)
                try:
                    first = os.read(fds[0], 100).decode().split("\n")[0]
                except OSError:
                    first = "-"
            print("%s fds=%d first=%s" % (state, len(fds), first),
                  flush=True)
            for fd in fds:
                os.close(fd)
    elif action == "probe":
        # Connect and close at once, as a liveness probe does.
        connect(path).close()
    elif action == "stale":
        # Leave a socket file with nobody behind it.
        l = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        l.bind(path)
        l.close()
    elif action == "listen-exec":
        # Hand a listening socket to a program as fd 3: ARG... is the
        # program, and "fd:3" stands for the socket in it.
        l = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        l.bind(path)
        l.listen(1)
        os.dup2(l.fileno(), 3)
        os.execvp(args[0], args)
    elif action == "pair":
        # A socketpair: one end to fdsend, the other to fdrecv, each as
        # fd:N.  ARG... is fdrecv's command line after the address.
        a, b = socket.socketpair()
        rp = subprocess.Popen(["fdrecv", "fd:%d" % b.fileno()] + args,
                              pass_fds=[b.fileno()])
        b.close()
        os.write(w, b"through a socketpair\n")
        os.close(w)
        sp = subprocess.run(["fdsend", "fd:%d" % a.fileno(), "%d" % r],
                            pass_fds=[a.fileno(), r])
        a.close()
        sys.exit(sp.returncode or rp.wait(10))
    elif action == "many":
        # fdsend ARG[0] fds of /dev/null, then the rest of ARG as options.
        n = int(args[0])
        fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(n)]
        cmd = ["fdsend"] + args[1:] + ([path] if path != "-" else []) + \
              ["%d=n%d" % (fd, i) for i, fd in enumerate(fds)]
        sys.exit(subprocess.run(cmd, pass_fds=fds).returncode)
    else:
        sys.exit("peer.py: unknown action " + action)


if __name__ == "__main__":
    main()
