#!/usr/bin/env python3
# ISC license: see LICENSE.
"""bench/interleave.py ROUNDS SPEC: time the commands of SPEC in turns.

SPEC has a line per command, FIGURE, LABEL, PREPARE and COMMAND apart by
tabs; PREPARE is "-" for none.  Each is split as a shell would split it
and run without a shell, as hyperfine -N runs them.  Three rounds not
counted, then ROUNDS rounds; in each every command runs once, after its
PREPARE (not timed), in an order shuffled anew each round (seeded: a run
can be repeated).  So the commands compared with each other (T(n) with
T(1), ours with the floor) see the same drifts of the machine: timed in
blocks one after the other, a drift between two blocks moved the cost
per fd at 1,000 fds by up to 2x from run to run.

Prints bench/run's lines, ms: FIGURE|LABEL|MEDIAN|Q1|Q3|ms| of the wall
times, and FIGUREc|LABEL|MEAN|-|-|ms| of the CPU time (user and system
of the command and of the children it waited for, from wait4); the mean,
as the kernel accounts a process of a few milliseconds coarsely.  A
command that fails is said on standard error and its figure left out.
"""
import os
import random
import shlex
import statistics
import sys
import time

WARMUP = 3


def run(argv):
    """Wall and CPU time of one run of argv (ms), or None if it failed."""
    t = time.perf_counter_ns()
    pid = os.posix_spawnp(argv[0], argv, os.environ)
    _, status, ru = os.wait4(pid, 0)
    t = time.perf_counter_ns() - t
    if os.waitstatus_to_exitcode(status) != 0:
        return None
    return t / 1e6, (ru.ru_utime + ru.ru_stime) * 1e3


def main():
    rounds = int(sys.argv[1])
    cmds = []
    for line in open(sys.argv[2]):
        fig, label, prep, cmd = line.rstrip("\n").split("\t")
        cmds.append((fig, label, None if prep == "-" else shlex.split(prep),
                     shlex.split(cmd)))
    wall = [[] for _ in cmds]
    cpu = [[] for _ in cmds]
    failed = set()
    rng = random.Random(26)
    for r in range(WARMUP + rounds):
        order = list(range(len(cmds)))
        rng.shuffle(order)
        for i in order:
            if i in failed:
                continue
            fig, label, prep, cmd = cmds[i]
            if prep is not None:
                os.waitpid(os.posix_spawnp(prep[0], prep, os.environ), 0)
            got = run(cmd)
            if got is None:
                print("interleave: failed: %s" % label, file=sys.stderr)
                failed.add(i)
            elif r >= WARMUP:
                wall[i].append(got[0])
                cpu[i].append(got[1])
    for i, (fig, label, _, _) in enumerate(cmds):
        if i in failed:
            continue
        w = sorted(wall[i])
        q = lambda x: w[min(len(w) - 1, int(len(w) * x))]
        print("%s|%s|%.3f|%.3f|%.3f|ms|" % (fig, label, statistics.median(w),
                                            q(.25), q(.75)))
        print("%sc|%s|%.3f|-|-|ms|" % (fig, label, statistics.mean(cpu[i])))


main()
