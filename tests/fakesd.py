#!/usr/bin/env python3
# ISC license: see LICENSE.
"""A service manager with an fd store, as systemd's sd_notify(3) and
sd_listen_fds(3) describe it, for one service:

  fakesd.py [-r] NOTIFY OUT -- prog [arg ...]

runs prog with NOTIFY_SOCKET=NOTIFY and its standard output appended to
OUT.  prog's FDSTORE=1 / FDNAME= notifications put fds in the store (an open
file already stored is not stored twice), FDSTOREREMOVE=1 takes them out.
The store hands them back newest first, as systemd (252) does: the fds of
the latest message first (tests/systemd.t, store_order, shows it with the
real manager).  Within one message, systemd's order is that of a hash
table, not the order sent; fakesd keeps the order sent, and no test may
depend on it.  On
SIGUSR1 it kills prog with SIGKILL and starts it again, with the store in
LISTEN_FDS, LISTEN_FDNAMES and LISTEN_PID.  When prog exits by itself,
fakesd prints "exit STATUS restarts N stored NAMES" and exits; with -r
(as Restart=on-abnormal), a prog killed by a signal is started again
instead, and counted among the restarts.
"""
import array
import fcntl
import os
import signal
import socket
import sys

args = sys.argv[1:]
on_abnormal = args[:1] == ["-r"]
if on_abnormal:
    args = args[1:]
notify, out = args[0], args[1]
prog = args[3:]
store = []          # [name, fd]
restart = False


def on_usr1(signum, frame):
    global restart
    restart = True


def start():
    pid = os.fork()
    if pid:
        return pid
    env = dict(os.environ, NOTIFY_SOCKET=notify)
    for k in ("LISTEN_FDS", "LISTEN_FDNAMES", "LISTEN_PID"):
        env.pop(k, None)
    fdout = os.open(out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(fdout, 1)
    # Place the stored fds at 3, 4, ... as systemd does, from copies
    # above them all, which no dup2 of the loop below can land on.
    dups = [fcntl.fcntl(fd, fcntl.F_DUPFD, 3 + len(store))
            for _, fd in store]
    for i, fd in enumerate(dups):
        os.dup2(fd, 3 + i)
        os.set_inheritable(3 + i, True)
    if store:
        env["LISTEN_FDS"] = str(len(store))
        env["LISTEN_FDNAMES"] = ":".join(n for n, _ in store)
        env["LISTEN_PID"] = str(os.getpid())
    os.execvpe(prog[0], prog, env)


def same(a, b):
    """The same open file, as near as fstat can tell (systemd asks kcmp):
    a pipe's two ends are one inode, but not one open file."""
    sa, sb = os.fstat(a), os.fstat(b)
    mode = lambda fd: fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE
    return (sa.st_dev, sa.st_ino, mode(a)) == (sb.st_dev, sb.st_ino, mode(b))


def receive(s):
    fds = array.array("i")
    msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(253 * fds.itemsize))
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
    fields = dict(line.split("=", 1)
                  for line in msg.decode().split("\n") if "=" in line)
    name = fields.get("FDNAME", "stored")
    if fields.get("FDSTORE") == "1":
        new = []
        for fd in fds:
            if any(same(fd, f) for _, f in store + new):
                os.close(fd)
            else:
                new.append([name, fd])
        store[:0] = new
    elif fields.get("FDSTOREREMOVE") == "1":
        for entry in [e for e in store if e[0] == name]:
            os.close(entry[1])
            store.remove(entry)
    else:
        for fd in fds:
            os.close(fd)


def main():
    global restart
    signal.signal(signal.SIGUSR1, on_usr1)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(notify)
    s.settimeout(0.05)
    pid = start()
    restarts = 0
    while True:
        try:
            receive(s)
        except (socket.timeout, InterruptedError):
            pass
        if restart:
            restart = False
            # Whatever it sent before it died is in the store.
            while True:
                try:
                    receive(s)
                except (socket.timeout, InterruptedError):
                    break
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            restarts += 1
            pid = start()
            continue
        done, status = os.waitpid(pid, os.WNOHANG)
        if done and on_abnormal and os.WIFSIGNALED(status):
            while True:
                try:
                    receive(s)
                except (socket.timeout, InterruptedError):
                    break
            restarts += 1
            pid = start()
            continue
        if done:
            while True:
                try:
                    receive(s)
                except (socket.timeout, InterruptedError):
                    break
            print("exit %d restarts %d stored %s" % (
                os.waitstatus_to_exitcode(status), restarts,
                ",".join(n for n, _ in store) or "nothing"))
            return


main()
