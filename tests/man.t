#!/bin/bash
# The manual pages: clean under mandoc -Tlint, and each tool's usage
# message is its page's SYNOPSIS, character for character.
. "$(dirname "$0")/lib.sh"
MAN=$(cd "$(dirname "$0")/../man" && pwd)

lint() {
	mandoc -Tlint -W warning "$MAN"/*.[1-8] >out 2>&1 || true
	[ ! -s out ] || { cat out; fail "mandoc -Tlint is not silent"; }
}

synopsis() {
	local page=$1 tool
	tool=$(basename "${page%.*}")
	mandoc -Tascii -O width=300 "$page" | col -b |
	    sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' | sed '1d;$d' |
	    sed 's/^ *//;/^$/d' | tr -s ' ' >want
	"$BIN/$tool" -\? 2>&1 >/dev/null </dev/null |
	    sed -n '/^usage:/,$p' | sed 's/^usage: *//;s/^ *//' |
	    tr -s ' ' >got
	diff -u want got
}

# Every tool has its page.
pages() {
	local dir tool missing=
	for dir in "$MAN"/../cmd/*/; do
		tool=$(basename "$dir")
		ls "$MAN/$tool".[18] >/dev/null 2>&1 || missing="$missing $tool"
	done
	[ -z "$missing" ] || fail "no manual page for:$missing"
}

t_case "mandoc -Tlint -W warning is silent" lint
t_case "every tool in cmd/ has a manual page" pages
for page in "$MAN"/*.[18]; do
	tool=$(basename "${page%.*}")
	if [ -x "$BIN/$tool" ]; then
		eval "syn_$tool() { synopsis '$page'; }"
		t_case "$tool: usage is the SYNOPSIS of $(basename "$page")" "syn_$tool"
	fi
done
t_done
