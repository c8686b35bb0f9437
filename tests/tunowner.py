#!/usr/bin/env python3
# ISC license: see LICENSE.
# A user-space tunnel owner, as wireguard-go, tailscaled and openvpn are:
# it opens a tun device and a UDP socket that carries the tunnel's
# packets, with SO_MARK and SO_BINDTODEVICE when asked, connected to the
# peer (or not, as wireguard-go's), then says "ready PID PORT" and waits
# for SIGTERM or SIGINT.  A packet is sent only on SIGUSR1: one datagram
# from the first socket, to its peer.
#
# usage: tunowner.py TUNNAME [-m MARK] [-d DEVICE] [-c PEER:PORT] [-6]
#                     [-C PEER6:PORT] [-p SPORT] [-u UID]
# -u: the sockets are made as UID (the tun device, by root, first).
# -k MARK: a child, forked once the tun is open, holds it too, with a
# socket of its own marked MARK (to the same peer); -n: the parent has no
# socket (SIGUSR1 goes to the child).  The child ends with the parent.
# -C opens a second socket, IPv6, marked and bound the same, connected to
# PEER6, as wireguard-go keeps one socket per family.
import argparse
import ctypes
import fcntl
import os
import signal
import socket
import struct

TUNSETIFF = 0x400454ca
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
SO_MARK = 36


def udp(o, six, peer):
    s = socket.socket(socket.AF_INET6 if six else socket.AF_INET,
                      socket.SOCK_DGRAM)
    if o.m is not None:
        s.setsockopt(socket.SOL_SOCKET, SO_MARK, o.m)
    if o.d is not None:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE,
                     o.d.encode())
    s.bind(("::" if six else "0.0.0.0", o.p))
    if peer is not None:
        host, port = peer.rsplit(":", 1)
        s.connect((host.strip("[]"), int(port)))
    return s


def main():
    a = argparse.ArgumentParser()
    a.add_argument("tun")
    a.add_argument("-m", type=lambda x: int(x, 0))
    a.add_argument("-d")
    a.add_argument("-c")
    a.add_argument("-6", dest="six", action="store_true")
    a.add_argument("-C")
    a.add_argument("-p", type=int, default=0)
    a.add_argument("-u", type=int)
    a.add_argument("-k", type=lambda x: int(x, 0))
    a.add_argument("-n", action="store_true")
    o = a.parse_args()
    sigs = {signal.SIGTERM, signal.SIGINT, signal.SIGUSR1}
    signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    tun = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(tun, TUNSETIFF,
                struct.pack("16sH", o.tun.encode(), IFF_TUN | IFF_NO_PI))
    if o.u is not None:
        os.setgroups([])
        os.setresgid(o.u, o.u, o.u)
        os.setresuid(o.u, o.u, o.u)
    child = None
    if o.k is not None:
        child = fork_child(o, sigs)
    if o.n:
        s = None
    else:
        s = udp(o, o.six, o.c)
    if o.C is not None:
        s6 = udp(o, True, o.C)
    print("ready %d %d" % (os.getpid(), s.getsockname()[1] if s else 0),
          flush=True)
    while signal.sigwait(sigs) == signal.SIGUSR1:
        if s is not None:
            s.send(b"x")
        else:
            os.kill(child, signal.SIGUSR1)
    if child is not None:
        os.kill(child, signal.SIGTERM)
        os.waitpid(child, 0)


def fork_child(o, sigs):
    r, w = os.pipe()
    pid = os.fork()
    if pid > 0:
        os.close(w)
        os.read(r, 1)
        os.close(r)
        return pid
    os.close(r)
    # PR_SET_PDEATHSIG: the child ends with its parent, however it ends.
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)
    o.m = o.k
    s = udp(o, o.six, o.c)
    os.write(w, b"x")
    while signal.sigwait(sigs) == signal.SIGUSR1:
        s.send(b"x")
    os._exit(0)


if __name__ == "__main__":
    main()
