#!/bin/bash
# ISC license: see LICENSE.
# The option letters (README, "Option letters"): -h prints the usage on
# standard output and exits 0; the letters that the scheme took away are
# usage errors, their message and the usage on standard error.
. "$(dirname "$0")/lib.sh"

# help TOOL: -h is the usage, on standard output only, exit 0, the same
# usage lines that bad usage prints on standard error, then a line per
# option (tests/messages.t).
help() {
	local tool=$1
	"$tool" -h >help 2>err
	[ ! -s err ] || fail "$tool -h wrote to standard error: $(cat err)"
	grep -q "^usage: $tool " help || fail "$tool -h: $(cat help)"
	must_fail 100 "$tool" -@
	grep -v '^  -' help | diff -u <(sed -n '/^usage:/,$p' err) -
}

# gone TOOL LETTER ARG...: TOOL refuses -LETTER: exit 100, "invalid
# option", then the usage, on standard error; nothing on standard output.
gone() {
	local tool=$1 letter=$2
	shift 2
	must_fail 100 "$tool" "-$letter" "$@"
	expect_err err "$tool: invalid option -- '$letter'"
	grep -q "^usage: $tool " err || fail "no usage: $(cat err)"
	[ ! -s out ] || fail "$tool -$letter wrote: $(cat out)"
}

help_fdsend() { help fdsend; }
help_fdrecv() { help fdrecv; }
help_fdholder() { help fdholder; }

# The old letters, each in the place it used to work.
removed() {
	NOTIFY_SOCKET=$PWD/n gone fdsend N 0=x
	NOTIFY_SOCKET=$PWD/n gone fdsend d -S name
	gone fdrecv L name true
	gone fdholder l 10 -s ctl
	[ ! -e ctl ] || fail "fdholder -l started a store"
}

t_case "fdsend -h: usage on standard output, exit 0" help_fdsend
t_case "fdrecv -h: usage on standard output, exit 0" help_fdrecv
t_case "fdholder -h: usage on standard output, exit 0" help_fdholder
t_case "fdsend -N -d, fdrecv -L, fdholder -l are usage errors" removed
t_done
