#!/usr/bin/env python3
# ISC license: see LICENSE.
"""A client of fdholder's store written from fdproto(7) alone: a second
implementation of the protocol, polite or abusive as the test asks.

  storepeer.py CTL store N K DIR    store N entries of K fds each, fd j of
                                    entry i open on DIR/i.j, names up to
                                    255 bytes; prints "stored N K"
  storepeer.py CTL fetch N K DIR    fetch them all back and check that
                                    each fd is DIR/i.j; prints "fetched"
  storepeer.py CTL garbage          bytes that are no frame
  storepeer.py CTL unsolicited      a list request carrying 3 fds
  storepeer.py CTL badversion       a frame of version 9
  storepeer.py CTL half             half a header, then silence
  storepeer.py CTL halfclose        half a header, then shut down writing
  storepeer.py CTL byte5 NAME       store NAME, the fd of its offer on
                                    byte 5 of the header, bytes 0-4 sent
                                    alone 0.1 s before
  storepeer.py CTL big BYTES        a list request of BYTES of payload
  storepeer.py CTL overlimit N      one store of N fds
  storepeer.py CTL load T SECONDS   T threads store, list, fetch, fetch
                                    and remove, and delete for SECONDS;
                                    prints "ops N errors E"
  storepeer.py CTL successor STEP   take over, then die at STEP: "asked"
                                    (after F_TAKE), "received" (after the
                                    handoff, before confirming)
  storepeer.py CTL take NAME HOW    fetch NAME with removal, confirm with
                                    F_ACK, then as a receiver whose exec
                                    failed ("error": F_ERROR), whose exec
                                    happened ("close"), that hangs
                                    ("silent": until the store hangs up),
                                    or that waits for FILE to exist first
                                    ("wait:FILE", then closes; "waiterr:
                                    FILE", then F_ERROR); prints "took N"
                                    and the outcome, or the store's error
  storepeer.py CTL bigstore NAME K DIR
                                    store one entry of K fds, fd j open on
                                    DIR/j and named with 255 bytes
  storepeer.py CTL slowfetch NAME K DIR FILE
                                    fetch it, reading nothing until FILE
                                    exists (FILE.asked says the answer
                                    began to come);
                                    print "intact N" if the N fds that came
                                    are DIR/0 on, then what ended it
  storepeer.py CTL stucklist FILE   ask for the list and never read it;
                                    touch FILE once asked; print how long
                                    until the store hung up on us

Each abusive mode prints what the store answered: "error CODE MESSAGE",
or "closed".
"""
import os
import socket
import struct
import sys

F_OFFER, F_ACK, F_ERROR = 1, 2, 3
F_TAKE, F_HANDOFF, F_STORE, F_FETCH, F_LIST = 16, 17, 18, 19, 20
FF_MORE = 1
MAXFDS = 253


def frame(s, ftype, payload=b"", fds=(), flags=0, version=1):
    hdr = struct.pack(">BBBBHHI", 0x46, 0x44, version, ftype, len(fds),
                      flags, len(payload))
    socket.send_fds(s, [hdr + payload], list(fds))


def recv_exact(s, n, fds):
    buf = b""
    while len(buf) < n:
        data, got, _, _ = socket.recv_fds(s, n - len(buf), MAXFDS)
        fds.extend(got)
        if not data:
            return None
        buf += data
    return buf


def read_frame(s):
    fds = []
    hdr = recv_exact(s, 12, fds)
    if hdr is None:
        return None
    magic1, magic2, version, ftype, nfds, flags, length = struct.unpack(
        ">BBBBHHI", hdr)
    assert (magic1, magic2, version) == (0x46, 0x44, 1), hdr
    data = recv_exact(s, length, fds) if length else b""
    assert len(fds) == nfds, (len(fds), nfds)
    return ftype, flags, data, fds


def name(b):
    return bytes([len(b)]) + b


def answer(s):
    f = read_frame(s)
    if f is None:
        return "closed"
    ftype, _, data, fds = f
    for fd in fds:
        os.close(fd)
    if ftype == F_ERROR:
        code, = struct.unpack(">H", data[:2])
        return "error %d %s" % (code, data[2:].decode())
    if ftype == F_ACK:
        return "ack %d" % struct.unpack(">I", data)
    return "frame %d" % ftype


def connect(ctl):
    import time
    if ctl.startswith("@"):
        ctl = "\0" + ctl[1:]   # a Linux abstract socket, as fdtools say it
    end = time.monotonic() + 20
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(20)
        try:
            s.connect(ctl)
            return s
        except BlockingIOError:
            # A full backlog; our C clients wait it out likewise.
            s.close()
            if time.monotonic() > end:
                raise
            time.sleep(0.005)


def entry_name(i):
    # Every third name is as long as names go: 255 bytes.
    base = "entry-%05d" % i
    return (base + "." + "x" * (254 - len(base))) if i % 3 == 0 else base


def store(ctl, n, k, d):
    for i in range(n):
        fds = [os.open(os.path.join(d, "%d.%d" % (i, j)),
                       os.O_RDONLY | os.O_CREAT, 0o600) for j in range(k)]
        s = connect(ctl)
        frame(s, F_STORE, name(entry_name(i).encode()) +
              struct.pack(">I", 0xffffffff))
        names = b"".join(name(b"fd%d" % j) for j in range(k))
        frame(s, F_OFFER, names, fds)
        got = answer(s)
        if got != "ack %d" % k:
            sys.exit("store %d: %s" % (i, got))
        s.close()
        for fd in fds:
            os.close(fd)
    print("stored %d %d" % (n, k))


def fetch(ctl, n, k, d):
    for i in range(n):
        s = connect(ctl)
        frame(s, F_FETCH, b"\0" + name(entry_name(i).encode()))
        fds, names = [], []
        while True:
            f = read_frame(s)
            if f is None or f[0] != F_OFFER:
                sys.exit("fetch %d: %s" % (i, f and f[0]))
            ftype, flags, data, got = f
            off = 0
            while off < len(data):
                ln = data[off]
                names.append(data[off + 1:off + 1 + ln].decode())
                off += 1 + ln
            fds.extend(got)
            if not flags & FF_MORE:
                break
        s.close()
        want = [os.path.realpath(os.path.join(d, "%d.%d" % (i, j)))
                for j in range(k)]
        have = [os.readlink("/proc/self/fd/%d" % fd) for fd in fds]
        if have != want or names != ["fd%d" % j for j in range(k)]:
            sys.exit("fetch %d: got %s %s" % (i, have[:3], names[:3]))
        for fd in fds:
            os.close(fd)
    print("fetched %d %d" % (n, k))


def fetch_one(ctl, nm, remove):
    s = connect(ctl)
    frame(s, F_FETCH, (b"\1" if remove else b"\0") + name(nm))
    fds = []
    while True:
        f = read_frame(s)
        if f is None or f[0] != F_OFFER:
            raise RuntimeError("fetch %s: %s" % (nm, f and f[0]))
        fds.extend(f[3])
        if not f[1] & FF_MORE:
            break
    if remove:
        frame(s, F_ACK, struct.pack(">I", len(fds)))
    s.close()
    return fds


def wait_file(path):
    import time
    end = time.monotonic() + 30
    while not os.path.exists(path) and time.monotonic() < end:
        time.sleep(0.01)


def hangup(s, seconds):
    """Wait, reading nothing, until the peer hangs up; seconds taken."""
    import select
    import time
    t0 = time.monotonic()
    p = select.poll()
    p.register(s, select.POLLRDHUP)
    while time.monotonic() - t0 < seconds:
        if any(ev & (select.POLLRDHUP | select.POLLHUP)
               for _, ev in p.poll(100)):
            return time.monotonic() - t0
    return None


def take(ctl, nm, how):
    s = connect(ctl)
    frame(s, F_FETCH, b"\1" + name(nm.encode()))
    fds = []
    while True:
        f = read_frame(s)
        if f is None:
            print("closed")
            return
        fds.extend(f[3])
        if f[0] != F_OFFER:
            for fd in fds:
                os.close(fd)
            s.setblocking(True)
            code, = struct.unpack(">H", f[2][:2])
            print("error %d %s" % (code, f[2][2:].decode()))
            return
        if not f[1] & FF_MORE:
            break
    frame(s, F_ACK, struct.pack(">I", len(fds)))
    for fd in fds:
        os.close(fd)
    print("took %d" % len(fds), flush=True)
    if how.startswith("wait"):
        wait_file(how.split(":", 1)[1])
    if how == "error" or how.startswith("waiterr"):
        frame(s, F_ERROR, struct.pack(">H", 9) + b"exec: no such file")
    elif how == "silent":
        t = hangup(s, 30)
        print("dropped" if t is not None else "not dropped")
    s.close()


def big_name(j):
    base = "fd%d." % j
    return (base + "x" * (255 - len(base))).encode()


def bigstore(ctl, nm, k, d):
    fds = [os.open(os.path.join(d, "%d" % j), os.O_RDONLY | os.O_CREAT,
                   0o600) for j in range(k)]
    s = connect(ctl)
    frame(s, F_STORE, name(nm.encode()) + struct.pack(">I", 0xffffffff))
    for i in range(0, k, MAXFDS):
        part = fds[i:i + MAXFDS]
        frame(s, F_OFFER, b"".join(name(big_name(j))
                                   for j in range(i, i + len(part))),
              part, FF_MORE if i + len(part) < k else 0)
    print(answer(s))
    for fd in fds:
        os.close(fd)


def slowfetch(ctl, nm, k, d, path):
    s = connect(ctl)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
    frame(s, F_FETCH, b"\0" + name(nm.encode()))
    # Served, not only asked: the store serves in its own order those
    # that came together, a delete perhaps first.  Peeked, nothing taken.
    s.recv(1, socket.MSG_PEEK)
    open(path + ".asked", "w").close()
    wait_file(path)
    fds, end = [], "end of file"
    while True:
        f = read_frame(s)
        if f is None:
            break
        fds.extend(f[3])
        if f[0] == F_ERROR:
            code, = struct.unpack(">H", f[2][:2])
            end = "error %d %s" % (code, f[2][2:].decode())
            break
        if not f[1] & FF_MORE:
            end = "all"
            break
    have = [os.readlink("/proc/self/fd/%d" % fd) for fd in fds]
    want = [os.path.realpath(os.path.join(d, "%d" % j))
            for j in range(len(fds))]
    print("intact %d" % len(fds) if have == want else "wrong fds")
    print(end)


def stucklist(ctl, path):
    s = connect(ctl)
    # As little room as the kernel gives, so the store's sends fill it.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
    frame(s, F_LIST)
    open(path, "w").close()
    t = hangup(s, 60)
    print("not dropped" if t is None else "dropped after %.1f s" % t)


def load(ctl, nthreads, seconds):
    import threading
    import time
    end = time.monotonic() + seconds
    counts = [0] * nthreads
    errors = []

    def worker(t):
        k = 0
        try:
            while time.monotonic() < end:
                k += 1
                nm = b"load-%d-%d" % (t, k)
                r, w = os.pipe()
                os.write(w, nm)
                s = connect(ctl)
                frame(s, F_STORE, name(nm) + struct.pack(">I", 0xffffffff))
                frame(s, F_OFFER, name(b"r") + name(b"w"), [r, w])
                got = answer(s)
                s.close()
                os.close(r)
                os.close(w)
                if got != "ack 2":
                    raise RuntimeError("store: " + got)
                s = connect(ctl)
                frame(s, F_LIST)
                while True:
                    f = read_frame(s)
                    if f is None or f[0] != 21:
                        raise RuntimeError("list: %s" % (f and f[0]))
                    if not f[1] & FF_MORE:
                        break
                s.close()
                fds = fetch_one(ctl, nm, False)
                for fd in fds:
                    os.close(fd)
                fds = fetch_one(ctl, nm, k % 2 == 0)
                if os.read(fds[0], 100) != nm:
                    raise RuntimeError("fetched the wrong pipe")
                for fd in fds:
                    os.close(fd)
                if k % 2:
                    s = connect(ctl)
                    frame(s, 22, name(nm))
                    got = answer(s)
                    s.close()
                    if got != "ack 2":
                        raise RuntimeError("delete: " + got)
                counts[t] += 5
        except Exception as e:
            errors.append("thread %d: %s" % (t, e))

    threads = [threading.Thread(target=worker, args=(t,))
               for t in range(nthreads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for e in errors[:5]:
        print(e, file=sys.stderr)
    print("ops %d errors %d" % (sum(counts), len(errors)))


def main():
    ctl, mode = sys.argv[1], sys.argv[2]
    if mode == "store":
        return store(ctl, int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    if mode == "load":
        return load(ctl, int(sys.argv[3]), float(sys.argv[4]))
    if mode == "fetch":
        return fetch(ctl, int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    if mode == "take":
        return take(ctl, sys.argv[3], sys.argv[4])
    if mode == "bigstore":
        return bigstore(ctl, sys.argv[3], int(sys.argv[4]), sys.argv[5])
    if mode == "slowfetch":
        return slowfetch(ctl, sys.argv[3], int(sys.argv[4]), sys.argv[5],
                         sys.argv[6])
    if mode == "stucklist":
        return stucklist(ctl, sys.argv[3])
    s = connect(ctl)
    if mode == "garbage":
        s.sendall(b"GET / HTTP/1.0\r\n\r\n" + bytes(range(256)))
    elif mode == "unsolicited":
        r, w = os.pipe()
        frame(s, F_LIST, b"", [r, w, r])
        os.close(r)
        os.close(w)
    elif mode == "badversion":
        frame(s, F_LIST, version=9)
    elif mode == "half":
        s.sendall(b"FD\x01")
    elif mode == "halfclose":
        s.sendall(b"FD\x01\x14\x00")
        s.shutdown(socket.SHUT_WR)
    elif mode == "byte5":
        import time
        frame(s, F_STORE, name(sys.argv[3].encode()) +
              struct.pack(">I", 0xffffffff))
        hdr = struct.pack(">BBBBHHI", 0x46, 0x44, 1, F_OFFER, 1, 0, 1)
        s.sendall(hdr[:5])
        time.sleep(0.1)
        socket.send_fds(s, [hdr[5:] + b"\0"], [0])
    elif mode == "big":
        # The store reads while we write: from another thread, all of it
        # (one sendmsg sends what the socket takes).
        import threading
        n = int(sys.argv[3])
        hdr = struct.pack(">BBBBHHI", 0x46, 0x44, 1, F_LIST, 0, 0, n)
        threading.Thread(target=s.sendall, args=(hdr + b"\0" * n,),
                         daemon=True).start()
    elif mode == "midframe":
        # A store whose offer is cut off mid-frame: the peer goes away.
        frame(s, F_STORE, name(b"cut") + struct.pack(">I", 0xffffffff))
        hdr = struct.pack(">BBBBHHI", 0x46, 0x44, 1, F_OFFER, 1, 0, 100)
        socket.send_fds(s, [hdr + b"\x01"], [0])
        print("dropped")
        return
    elif mode == "slowread":
        # Ask for a list and read it a second later.
        import time
        frame(s, F_LIST)
        time.sleep(1)
    elif mode == "overlimit":
        n = int(sys.argv[3])
        frame(s, F_STORE, name(b"toomany") + struct.pack(">I", 0xffffffff))
        null = os.open("/dev/null", os.O_RDONLY)
        try:
            for i in range(0, n, MAXFDS):
                k = min(MAXFDS, n - i)
                frame(s, F_OFFER, b"\0" * k, [null] * k,
                      FF_MORE if i + k < n else 0)
        except (BrokenPipeError, ConnectionResetError):
            pass
    elif mode == "successor":
        frame(s, F_TAKE, b"\x02")
        if sys.argv[3] == "received":
            while True:
                f = read_frame(s)
                if f is None:
                    break
                for fd in f[3]:
                    os.close(fd)
                if not f[1] & FF_MORE:
                    break
        os._exit(0)
    else:
        sys.exit("unknown mode " + mode)
    print(answer(s))


main()
