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

# The shape of the sources (issue 25): a file holds one idea, so none in
# cmd/ and common/ is over 600 lines; no function in cmd/ and
# common/ is over 80 lines (KNF: the body from "{" to "}" in column 1);
# none in cmd/ and common/ takes over 6 parameters (a struct then).
# Each prints what it found over the bar.
shape_files() {
	local over
	over=$(cd "$SRC" && wc -l cmd/*/*.[ch] common/*.[ch] |
	    awk '$2 != "total" && $1 > 600 { print $2 ": " $1 " lines" }')
	[ -z "$over" ] || fail "over 600 lines: $over"
}

shape_functions() {
	local over
	over=$(cd "$SRC" && awk '
	    FNR == 1 { s = 0 }
	    /^[a-z_][a-z_0-9]*\(/ { name = $0; sub(/\(.*/, "", name) }
	    /^\{/ { s = FNR }
	    /^\}/ && s { if (FNR - s - 1 > 80) print FILENAME ": " name " " \
		FNR - s - 1 " lines"; s = 0 }' cmd/*/*.c common/*.c)
	[ -z "$over" ] || fail "over 80 lines: $over"
}

shape_params() {
	local over
	# Commas at depth 1 only: a function pointer's own (fd_drain's
	# wakes) are not the function's parameters.
	over=$(cd "$SRC" && awk '
	    FNR == 1 { inp = 0 }
	    /^[a-z_][a-z_0-9]*\(/ { name = $0; sub(/\(.*/, "", name)
		inp = 1; d = 0; n = 1 }
	    inp { for (i = 1; i <= length($0); i++) {
		    c = substr($0, i, 1)
		    if (c == "(") d++
		    else if (c == ")" && --d == 0) { inp = 0; break }
		    else if (c == "," && d == 1) n++ }
		if (!inp && n > 6)
			print FILENAME ": " name " " n }' cmd/*/*.c common/*.c)
	[ -z "$over" ] || fail "over 6 parameters: $over"
}

# One spelling: __dead2 (libbsd's <sys/cdefs.h>, and macOS's).  Includes
# go from cmd/ to common/, never back, in the house order (<sys/types.h>,
# the other <sys/...>, the rest of <...>, then "..."; each run sorted; a
# block under #if starts afresh).
names() {
	local found
	found=$(cd "$SRC" && grep -n '__attribute__((__noreturn__))' \
	    cmd/*/*.[ch] common/*.[ch] || :)
	[ -z "$found" ] || fail "not __dead2: $found"
}

includes() {
	local found
	found=$(cd "$SRC" && for h in $(cd cmd && ls */*.h | xargs -n1 basename); do
		grep -l "#include \"$h\"" common/*.[ch] || :
	done)
	[ -z "$found" ] || fail "common/ includes a header of cmd/: $found"
	found=$(cd "$SRC" && awk '
	    FNR == 1 || /^#if/ { k = -1; last = "" }
	    /^#include/ { h = $2
		if (h == "<sys/types.h>") k1 = 0
		else if (h ~ /^<sys\//) k1 = 1
		else if (h ~ /^<(arpa|linux|net|netinet)\//) k1 = 2
		else if (h ~ /^</) k1 = 3
		else k1 = 4
		if (k1 < k || (k1 == k && k1 != 2 && h < last))
			print FILENAME ": " h " after " last
		k = k1; last = h }' cmd/fdholder/*.[ch] common/*.[ch])
	[ -z "$found" ] || fail "includes out of order: $found"
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
t_case "shape: no file in cmd/ and common/ over 600 lines" shape_files
t_case "shape: no function in cmd/ and common/ over 80 lines" shape_functions
t_case "shape: no function in cmd/ and common/ over 6 parameters" shape_params
t_case "names: __dead2, never __attribute__((__noreturn__))" names
t_case "includes: cmd/ to common/ only, in the house order" includes
t_done
