#!/bin/bash
# Static checks in every make check: cppcheck over the C sources (as make
# lint runs it); the man pages' lint is in man.t.
. "$(dirname "$0")/lib.sh"
SRC=$(cd "$(dirname "$0")/.." && pwd)

cppcheck_clean() {
	cppcheck -q --error-exitcode=1 --enable=warning,portability \
	    --inline-suppr -I"$SRC/common" "$SRC/common" "$SRC/cmd" 2>report ||
	    { cat report >&2; fail "cppcheck: $(grep -c 'error\|warning' report) findings"; }
}

if command -v cppcheck >/dev/null; then
	t_case "cppcheck: no warning in common/ and cmd/" cppcheck_clean
else
	t_skip cppcheck_clean "cppcheck not installed (.ci/deps installs it)"
fi
t_done
