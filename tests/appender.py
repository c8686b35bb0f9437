#!/usr/bin/env python3
# ISC license: see LICENSE.
"""Another process beside a holder, on the holder's output file.

appender.py append FILE SECONDS: append the records "[w0]\\n", "[w1]\\n",
... to FILE through a descriptor of its own opened with O_APPEND, one
write(2) each, for SECONDS; print how many, and their bytes.

appender.py truncate FILE SECONDS MS: as logrotate's copytruncate does,
every MS milliseconds copy FILE (read it whole) and truncate it to 0, for
SECONDS; print the truncations and how many copies held NUL bytes (a hole
left by a write at an offset found before the truncation).

appender.py check FILE N COUNT: FILE holds the lines 1..N, with the COUNT
records of append in order, each whole, anywhere in it (a write of the
holder may end in the middle of a line); print what is wrong and exit 1.
"""
import os
import re
import sys
import time


def append(path, seconds):
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    end = time.monotonic() + seconds
    i = size = 0
    while time.monotonic() < end:
        size += os.write(fd, b"[w%d]\n" % i)
        i += 1
    print(i, size)


def truncate(path, seconds, ms):
    fd = os.open(path, os.O_RDWR)
    end = time.monotonic() + seconds
    n = holes = 0
    while time.monotonic() < end:
        time.sleep(ms / 1000)
        data = os.pread(fd, os.fstat(fd).st_size, 0)
        os.ftruncate(fd, 0)
        n += 1
        if b"\0" in data:
            holes += 1
    print(n, holes)


def check(path, n, count):
    with open(path, "rb") as f:
        data = f.read()
    want = b"".join(b"%d\n" % i for i in range(1, n + 1))
    recs = [int(x) for x in re.findall(rb"\[w(\d+)\]\n", data)]
    rest = re.sub(rb"\[w\d+\]\n", b"", data)
    bad = []
    if recs != list(range(count)):
        lost = count - len(set(recs) & set(range(count)))
        bad.append("%d of %d records lost, %d found" % (lost, count,
                                                        len(recs)))
    if rest != want:
        i = next((k for k in range(min(len(rest), len(want)))
                  if rest[k] != want[k]), min(len(rest), len(want)))
        bad.append("stream: %d bytes, want %d, first difference at %d" %
                   (len(rest), len(want), i))
    extra = len(data) - len(want) - sum(len(b"[w%d]\n" % i)
                                        for i in range(count))
    if extra:
        bad.append("file %+d bytes off the sum of both writers" % extra)
    if bad:
        print("; ".join(bad))
        sys.exit(1)


cmd = sys.argv[1]
if cmd == "append":
    append(sys.argv[2], float(sys.argv[3]))
elif cmd == "truncate":
    truncate(sys.argv[2], float(sys.argv[3]), float(sys.argv[4]))
else:
    check(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
