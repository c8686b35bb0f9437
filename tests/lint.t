#!/bin/bash
# ISC license: see LICENSE.
# Static checks in every make check: cppcheck over the C sources (as make
# lint runs it); the man pages' lint is in man.t.
. "$(dirname "$0")/lib.sh"
SRC=$(cd "$(dirname "$0")/.." && pwd)

cppcheck_clean() {
	cppcheck -q --error-exitcode=1 --enable=warning,portability \
	    --inline-suppr -I"$SRC/common" "$SRC/common" "$SRC/cmd" 2>report ||
	    { cat report >&2; fail "cppcheck: $(grep -c 'error\|warning' report) findings"; }
}

# Every source file, page, script and test carries the licence's notice
# in its first lines, as LICENSE says; so do the examples and debian/, but
# for the two files there whose format has no comments.
licence_notices() {
	local f missing=0
	[ -s "$SRC/LICENSE" ] || fail "no LICENSE"
	for f in $(cd "$SRC" && git ls-files 2>/dev/null | grep -v '^tests/fuzz/corpus/' |
	    grep -E '\.(c|h|py|sh|t|[178])$|Makefile$|^bench/(run|effif)$|^\.ci/|^completions/|^examples/|^debian/' |
	    grep -v -x 'debian/changelog\|debian/source/format'); do
		head -n 3 "$SRC/$f" | grep -q 'ISC license' ||
		    { echo "no notice: $f" >&2; missing=$((missing + 1)); }
	done
	[ "$missing" = 0 ] || fail "$missing files without the notice"
}

if command -v cppcheck >/dev/null; then
	t_case "cppcheck: no warning in common/ and cmd/" cppcheck_clean
else
	t_skip cppcheck_clean "cppcheck not installed (.ci/deps installs it)"
fi
if [ -d "$SRC/.git" ] && command -v git >/dev/null; then
	t_case "LICENSE, and its notice atop every source file" licence_notices
else
	t_skip licence_notices "not a git checkout: no list of the files"
fi
t_done
