#!/usr/bin/env python3
# ISC license: see LICENSE.
"""A holder's output, timed, for tests/migrate.t.

tsink.py IN OUT TIMES

Copy IN (a FIFO a holder writes to) to OUT until its end, and then write
to TIMES one line: the monotonic times in seconds of the first and the
last bytes that came, and the longest wait between two reads that brought
bytes: "FIRST LAST MAXGAP"."""

import os
import sys
import time


def main():
    src, dst, times = sys.argv[1:4]
    first = last = None
    maxgap = 0.0
    fd = os.open(src, os.O_RDONLY)
    with open(dst, "wb") as out:
        while True:
            d = os.read(fd, 1 << 16)
            if not d:
                break
            now = time.monotonic()
            if first is None:
                first = now
            else:
                maxgap = max(maxgap, now - last)
            last = now
            out.write(d)
    with open(times, "w") as t:
        t.write("%f %f %f\n" % (first or 0, last or 0, maxgap))


main()
