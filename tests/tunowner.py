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
# -u: the sockets are made as UID (its fsuid: the tun device by root,
# first; a mark may still be set).
# -k MARK: a child, forked once the tun is open, holds it too, with a
# socket of its own marked MARK (to the same peer, from SPORT + 1 when -p
# is given); -n: the parent has no socket (SIGUSR1 goes to the child).
# The child ends with the parent.
# -W: on SIGUSR1 each socket in turn (the parent's, its IPv6 one, the
# child's) sends one datagram, and one line says by which device each
# left, as a packet socket opened at the start (as root) saw it go out:
# "left DEV ...", each DEV "none" (not seen within a second) or
# "unreachable" (send failed) when not a device.
# -C opens a second socket, IPv6, marked and bound the same, connected to
# PEER6, as wireguard-go keeps one socket per family.
import argparse
import ctypes
import fcntl
import os
import select
import signal
import socket
import struct
import time

TUNSETIFF = 0x400454ca
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
SO_MARK = 36


def udp(o, six, peer):
    s = socket.socket(socket.AF_INET6 if six else socket.AF_INET,
                      socket.SOCK_DGRAM)
    if six:
        # Beside an IPv4 socket of the same port, as wireguard-go's.
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
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
    a.add_argument("-W", action="store_true")
    o = a.parse_args()
    sigs = {signal.SIGTERM, signal.SIGINT, signal.SIGUSR1}
    signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    # ETH_P_ALL: only such packet sockets see what goes out.
    sniff = None
    if o.W:
        sniff = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM,
                              socket.htons(3))
    tun = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(tun, TUNSETIFF,
                struct.pack("16sH", o.tun.encode(), IFF_TUN | IFF_NO_PI))
    if o.u is not None:
        # A socket's uid, which routing sees, is the fsuid that made it;
        # the fsuid alone keeps CAP_NET_ADMIN for SO_MARK.
        libc = ctypes.CDLL(None)
        libc.setfsgid(o.u)
        libc.setfsuid(o.u)
    child = None
    if o.k is not None:
        child, cport = fork_child(o, sigs)
    # What sends each datagram, and its ports.
    socks = []
    s = None
    if not o.n:
        s = udp(o, o.six, o.c)
        socks.append((s.send, s.getsockname()[1], s.getpeername()[1]
                      if o.c else 0))
    if o.C is not None:
        s6 = udp(o, True, o.C)
        socks.append((s6.send, s6.getsockname()[1], s6.getpeername()[1]))
    if child is not None:
        socks.append((lambda _: os.kill(child, signal.SIGUSR1), cport,
                      int(o.c.rsplit(":", 1)[1]) if o.c else 0))
    print("ready %d %d" % (os.getpid(), s.getsockname()[1] if s else 0),
          flush=True)
    while signal.sigwait(sigs) == signal.SIGUSR1:
        if sniff is None:
            socks[0][0](b"x")
        else:
            print("left %s" % " ".join(sent_by(x, sniff, tun, o.tun)
                                       for x in socks), flush=True)
    if child is not None:
        os.kill(child, signal.SIGTERM)
        os.waitpid(child, 0)


def ours(data, sport, dport):
    """Whether an IP packet is a UDP datagram between those ports (IPv6:
    with no extension header, as ours are sent)."""
    if len(data) >= 28 and data[0] >> 4 == 4 and data[9] == 17:
        hl = (data[0] & 15) * 4
    elif len(data) >= 48 and data[0] >> 4 == 6 and data[6] == 17:
        hl = 40
    else:
        return False
    return struct.unpack("!HH", data[hl:hl + 4]) == (sport, dport)


def sent_by(sock, sniff, tun, name):
    """Send a datagram by sock (its send, source and destination ports);
    the device it went out by, as sniff saw it, or the tun device itself
    when it arrives on the tun fd."""
    send, sport, dport = sock
    # What an earlier socket's datagram left queued (seen on the tun fd
    # first, the packet socket saw it too) is not this one's.
    while select.select([sniff, tun], [], [], 0)[0]:
        for f in select.select([sniff, tun], [], [], 0)[0]:
            if f is sniff:
                sniff.recv(65536)
            else:
                os.read(tun, 65536)
    try:
        send(b"x")
    except OSError:
        return "unreachable"
    deadline = time.monotonic() + 1
    while time.monotonic() < deadline:
        r, _, _ = select.select([sniff, tun], [], [],
                                max(0, deadline - time.monotonic()))
        if not r:
            break
        if tun in r and ours(os.read(tun, 65536), sport, dport):
            return name
        if sniff not in r:
            continue
        data, addr = sniff.recvfrom(65536)
        if addr[1] in (0x0800, 0x86dd) and \
                addr[2] == socket.PACKET_OUTGOING and ours(data, sport, dport):
            return addr[0]
    return "none"


def fork_child(o, sigs):
    r, w = os.pipe()
    pid = os.fork()
    if pid > 0:
        os.close(w)
        port = os.read(r, 16)
        os.close(r)
        return pid, int(port or 0)
    os.close(r)
    # PR_SET_PDEATHSIG: the child ends with its parent, however it ends.
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)
    o.m = o.k
    if o.p:
        o.p += 1
    s = udp(o, o.six, o.c)
    os.write(w, b"%d\n" % s.getsockname()[1])
    while signal.sigwait(sigs) == signal.SIGUSR1:
        s.send(b"x")
    os._exit(0)


if __name__ == "__main__":
    main()
