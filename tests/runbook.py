#!/usr/bin/env python3
# ISC license: see LICENSE.
"""The sessions of a runbook page, as tests/runbook.t runs them:

  runbook.py PAGE N DIR [FROM TO] ...

takes the literal blocks (.Bd -literal ... .Ed) of the Nth subsection
(.Ss) of PAGE, each FROM replaced by TO.  A block whose first line is
"# /PATH" is a file: it is written to PATH.  In the others, a line
"$ COMMAND" (continued on the next while it ends with a backslash) is a
command; the lines under it, what it prints.  DIR/session.sh gets the
commands as a bash script: a command with no output is run once and must
succeed; one with output is run again, for up to 10 s, until it prints
exactly those lines (an operator who looks again), as a server comes up.
The script ends the jobs it started, by pid, when it exits, and adds
them to the case's ($T_DIR/pids), which lib.sh ends if the case is cut
short.
"""
import shlex
import sys

page, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
subst = list(zip(sys.argv[4::2], sys.argv[5::2]))


def unescape(line):
    return line.replace("\\e", "\\").replace("\\&", "")


def blocks(lines, n):
    ss, cur = 0, None
    for line in lines:
        if line.startswith(".Ss "):
            ss += 1
        elif line.startswith(".Sh "):
            ss = ss and 1000
        elif ss == n and line.startswith(".Bd -literal"):
            cur = []
        elif cur is not None and line == ".Ed":
            yield cur
            cur = None
        elif cur is not None:
            yield_line = unescape(line)
            for a, b in subst:
                yield_line = yield_line.replace(a, b)
            cur.append(yield_line)


PRELUDE = r'''trap 'kill $(jobs -p) 2>/dev/null || :' EXIT
check() {
	local i=0
	while :; do
		eval "$1" >got 2>&1 || :
		[ "$(cat got)" != "$2" ] || return 0
		i=$((i + 1))
		if [ "$i" -ge 50 ]; then
			echo "FAIL: $1" >&2
			printf '%s\n' "$2" | diff -u - got >&2
			exit 1
		fi
		sleep 0.2
	done
}
run() {
	eval "$1" || { echo "FAIL: exit $?: $1" >&2; exit 1; }
	# A job is the case's too, ended by pid however the case ends.
	case $1 in
	*'&')	[ -z "${T_DIR-}" ] || echo $! >>"$T_DIR/pids" ;;
	esac
}
'''

cmds = []
with open(page) as f:
    found = list(blocks(f.read().split("\n"), n))
if not found:
    sys.exit("runbook.py: no session in subsection %d of %s" % (n, page))
for b in found:
    if b and b[0].startswith("# /"):
        with open(b[0][2:], "w") as f:
            f.write("\n".join(b[1:]) + "\n")
        continue
    i = 0
    while i < len(b):
        if not b[i].startswith("$ "):
            sys.exit("runbook.py: output before any command: " + b[i])
        cmd = b[i][2:]
        while cmd.endswith("\\") and i + 1 < len(b):
            i += 1
            cmd = cmd[:-1] + b[i].strip()
        want = []
        while i + 1 < len(b) and not b[i + 1].startswith("$ "):
            i += 1
            want.append(b[i])
        cmds.append((cmd, "\n".join(want)))
        i += 1
with open(out + "/session.sh", "w") as f:
    f.write(PRELUDE)
    for cmd, want in cmds:
        if want:
            f.write("check %s %s\n" % (shlex.quote(cmd), shlex.quote(want)))
        else:
            f.write("run %s\n" % shlex.quote(cmd))
