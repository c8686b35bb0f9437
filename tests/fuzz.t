#!/bin/bash
# ISC license: see LICENSE.
# The fuzz harnesses (tests/fuzz/*.c): every input of the committed corpus,
# among them the inputs of the bugs fuzzing found, replays clean, and a
# bounded run of each finds nothing.  `make fuzz` runs them longer.
# Found before lib.sh puts the build directory first in PATH.
CLANG=$(command -v "${FUZZCC:-clang}" || :)
. "$(dirname "$0")/lib.sh"
TOP=$(cd "$(dirname "$0")/.." && pwd)
FZ=$BIN/fuzz

# replay NAME: run harness NAME over its corpus, each input once.
replay() {
	local n
	n=$(ls "$TOP/tests/fuzz/corpus/$1" | wc -l)
	[ "$n" -gt 0 ] || fail "no corpus for $1"
	"$FZ/$1" -runs=0 "$TOP/tests/fuzz/corpus/$1" >log 2>&1 ||
	    { tail -n 30 log >&2; fail "$1: an input of the corpus fails"; }
	t_note "$1: $n inputs replayed"
}

# fuzzed NAME: a bounded run of the harness (FUZZ_SECONDS, 10 by default),
# from the committed corpus, which it reads and never writes; what it
# finds is left in ./crash-* and fails the case.
fuzzed() {
	rm -rf corpus && mkdir corpus
	"$FZ/$1" -max_total_time="${FUZZ_SECONDS:-10}" -print_final_stats=1 \
	    -artifact_prefix=./ corpus "$TOP/tests/fuzz/corpus/$1" >log 2>&1 ||
	    { tail -n 30 log >&2; fail "$1: fuzzing found a crash"; }
	t_note "$1: $(sed -n 's/^stat::number_of_executed_units: *//p' log)" \
	    "runs in ${FUZZ_SECONDS:-10} s," \
	    "$(grep -o 'cov: [0-9]*' log | tail -n 1) edges"
}

t_frame() { replay frame; }
t_args() { replay args; }
t_netlink() { replay netlink; }
t_store() { replay store; }
t_mrec() { replay mrec; }

# The regressions themselves: each crashed or leaked before its fix.
t_regressions() {
	local f
	for f in frame/leak-short-header-with-fds netlink/huge-nlmsg-len \
	    netlink/rule-src-past-message netlink/attr-in-last-padding; do
		[ -s "$TOP/tests/fuzz/corpus/$f" ] || fail "missing $f"
		"$FZ/${f%%/*}" "$TOP/tests/fuzz/corpus/$f" >log 2>&1 ||
		    { tail -n 30 log >&2; fail "$f fails again"; }
	done
}

t_fuzz_frame() { fuzzed frame; }
t_fuzz_args() { fuzzed args; }
t_fuzz_netlink() { fuzzed netlink; }
t_fuzz_store() { fuzzed store; }
t_fuzz_mrec() { fuzzed mrec; }

# Under SAN=1 the same harnesses would only be rebuilt: they carry ASan and
# UBSan already.
if [ -n "${SAN:-}" ]; then
	t_skip "fuzz corpus" "harnesses already run under ASan and UBSan"
elif [ -z "$CLANG" ]; then
	t_skip "fuzz corpus" "no clang"
elif ! make -s -C "$TOP" B="$BIN" FUZZCC="$CLANG" fuzz-build >"$T_ROOT/build.log" 2>&1; then
	cat "$T_ROOT/build.log" >&2
	echo "not ok 1 - fuzz harnesses build"
	echo "1..1"
	exit 1
else
	t_case "frame decoder replays its corpus" t_frame
	t_case "argument parsers replay their corpus" t_args
	t_case "netlink parsers replay their corpus" t_netlink
	t_case "the store's request handling replays its corpus" t_store
	t_case "a moved connection's record replays its corpus" t_mrec
	t_case "inputs of fixed bugs stay fixed" t_regressions
	t_case "fuzzing the frame decoder finds nothing" t_fuzz_frame
	t_case "fuzzing the argument parsers finds nothing" t_fuzz_args
	t_case "fuzzing the netlink parsers finds nothing" t_fuzz_netlink
	t_case "fuzzing the store's requests finds nothing" t_fuzz_store
	t_case "fuzzing a moved connection's record finds nothing" t_fuzz_mrec
fi
t_done
