#!/usr/bin/env python3
# ISC license: see LICENSE.
"""A parent that shares a socket's open file description with the tools it
starts, as a supervisor or a script does, and watches the description's
flags (F_GETFL) from its own copy: before, while they run, and after.

  sharer.py listen PATH CMD ... -- CMD ...
      A listening socket at PATH, blocking, passed to each command; "fd:FD"
      in a command stands for it.  The commands start together.
  sharer.py pair CMD ... -- CMD ...
      A socketpair: "fd:FD" is one end in the first command, the other end
      in the second.

Prints "before FLAGS", "during FLAGS ..." (every value seen while the
commands ran: with pair, until the second one ended), "after FLAGS", then
"exit STATUS" of each command, in order.  A command still running after
30 s is killed.
"""

import fcntl
import os
import socket
import subprocess
import sys
import time


def flags(socks):
    return ",".join("%o" % fcntl.fcntl(s, fcntl.F_GETFL) for s in socks)


def main():
    mode = sys.argv[1]
    rest = sys.argv[2:]
    if mode == "listen":
        path, rest = rest[0], rest[1:]
        l = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        l.bind(path)
        l.listen(8)
        socks = [l]
    else:
        socks = list(socket.socketpair())
    cmds, cur = [], []
    for a in rest + ["--"]:
        if a == "--":
            cmds.append(cur)
            cur = []
        else:
            cur.append(a)
    print("before", flags(socks), flush=True)
    procs = []
    for i, cmd in enumerate(cmds):
        s = socks[i % len(socks)]
        fd = "fd:%d" % s.fileno()
        procs.append(subprocess.Popen([a.replace("fd:FD", fd) for a in cmd],
                                      pass_fds=[s.fileno()]))
    seen = []
    deadline = time.monotonic() + 30
    # A socketpair's end is kept only until the last command is done: the
    # first one may wait for the end of file of the other end.
    while (procs[-1].poll() is None or (mode == "listen" and
            any(p.poll() is None for p in procs))) and \
            time.monotonic() < deadline:
        f = flags(socks)
        if f not in seen:
            seen.append(f)
        time.sleep(0.001)
    print("during", *seen, flush=True)
    print("after", flags(socks), flush=True)
    for s in socks:
        s.close()
    for p in procs:
        try:
            print("exit", p.wait(max(deadline - time.monotonic(), 1)),
                  flush=True)
        except subprocess.TimeoutExpired:
            p.kill()
            print("exit", p.wait(), "killed", flush=True)


main()
