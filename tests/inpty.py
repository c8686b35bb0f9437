#!/usr/bin/env python3
# ISC license: see LICENSE.
"""inpty.py SECONDS CMD ...: run CMD on a new pseudo-terminal as its
controlling terminal, copy what it writes there to standard output, and
exit with its status (124 if still running after SECONDS: killed)."""

import os
import pty
import select
import signal
import sys
import time


def main():
    limit = float(sys.argv[1])
    pid, master = pty.fork()
    if pid == 0:
        os.execvp(sys.argv[2], sys.argv[2:])
    end = time.monotonic() + limit
    status = None
    while True:
        left = end - time.monotonic()
        if left <= 0:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            sys.exit(124)
        r, _, _ = select.select([master], [], [], min(left, 0.1))
        if r:
            try:
                data = os.read(master, 65536)
            except OSError:
                data = b""
            if data:
                sys.stdout.buffer.write(data)
                continue
        if status is None:
            done, st = os.waitpid(pid, os.WNOHANG)
            if done:
                status = st
        if status is not None and not r:
            break
        if status is not None and r and not data:
            break
    sys.stdout.flush()
    sys.exit(os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    main()
