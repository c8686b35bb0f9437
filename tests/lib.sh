# ISC license: see LICENSE.
# Shared helpers of the test scripts, which prove runs (prove -e bash).
# Each script defines cases as functions and calls t_case for each, then
# t_done.  A case runs in its own subshell, in its own directory, with
# "set -e"; it starts processes with bg, registers cleanups with defer, and
# bounds every wait.  Whatever it started is killed by pid when it ends.

set -u
: "${BIN:?BIN must name the build directory}"
PATH=$BIN:$BIN/tests:$PATH
export PATH LC_ALL=C
T_ROOT=$(mktemp -d "${TMPDIR:-/tmp}/fdtools.XXXXXX")
T_N=0
T_FAILED=0
T_CASE_LIMIT=${T_CASE_LIMIT:-120}
trap 'rm -rf "$T_ROOT"' EXIT

# fail MESSAGE: end the case as failed.
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# bg CMD ...: start CMD in the background; its pid is in $!.
bg() {
	"$@" &
	echo $! >>"$T_DIR/pids"
}

# defer CMD: run CMD (a string) when the case ends, last registered first.
defer() {
	printf '%s\n' "$*" | cat - "$T_DIR/defer" >"$T_DIR/defer.new" 2>/dev/null
	mv "$T_DIR/defer.new" "$T_DIR/defer"
}

# wait_for SECONDS CMD ...: poll CMD until it succeeds; fail after SECONDS.
wait_for() {
	local limit=$1 i=0
	shift
	while ! "$@" 2>/dev/null; do
		i=$((i + 1))
		[ "$i" -le $((limit * 50)) ] || fail "timed out after ${limit}s: $*"
		sleep 0.02
	done
}

# hung PID: show what of PID's kind runs, and kill it.
hung() {
	ps -o pid,stat,wchan:20,args -C "$(ps -o comm= -p "$1")" >&2 || :
	kill -KILL "$1"
	wait "$1" 2>/dev/null || :
}

# wait_exit SECONDS PID: wait for a child to exit; its status is in $RC.
wait_exit() {
	local limit=$1 pid=$2 i=0
	while kill -0 "$pid" 2>/dev/null; do
		if ! ps -o stat= -p "$pid" | grep -q Z; then
			i=$((i + 1))
			[ "$i" -le $((limit * 50)) ] || {
				[ -z "${3-}" ] || hung "$pid"
				fail "pid $pid still running after ${limit}s"
			}
		else
			break
		fi
		sleep 0.02
	done
	RC=0
	wait "$pid" || RC=$?
}

# reap SECONDS PID: wait_exit, but a child still running after SECONDS is
# killed, and what of its kind ran then shown, before the case fails.
reap() {
	wait_exit "$1" "$2" kill
}

# slow_exec US CMD ...: run CMD with each execve it makes (fdrecv's
# program) held for US microseconds on entry, by strace.  CMD's own execve
# is not counted: strace sees only its end.
slow_exec() {
	local us=$1
	shift
	exec strace -f -qq -o /dev/null -e trace=execve \
	    -e inject=execve:delay_enter="$us" "$@"
}

# have_strace: strace is there and may trace (slow_exec works).
have_strace() {
	command -v strace >/dev/null && strace -qq -o /dev/null true 2>/dev/null
}

# t_traced NAME FUNCTION: t_case, or a skip that says why where strace
# cannot trace (a case that needs it never passes without it).
t_traced() {
	if have_strace; then
		t_case "$1" "$2"
	else
		t_skip "$1" "strace cannot trace here"
	fi
}

# bare CMD ...: CMD with fds 0-2 alone open, as a service manager starts it.
# (No redirection on the loop: bash would keep fd 2's copy above 9, the
# loop close it, and CMD get the redirection's /dev/null as its fd 2.)
bare() {
	bash -c 'for fd in $(ls /proc/$$/fd); do
	    [ "$fd" -le 2 ] || eval "exec $fd<&-"; done
	    exec "$@"' bare "$@"
}

# calls FILE NAME ...: how many calls of these names strace -c counted in
# FILE (its fourth column is the count, with or without errors).
calls() {
	local f=$1
	shift
	awk -v names=" $* " 'index(names, " " $NF " ") && $4 ~ /^[0-9]+$/ {
	    n += $4 } END { print n + 0 }' "$f"
}

# The stream server of the tests (stream.py), and what its users share.
STREAM="python3 $(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/stream.py"

# serve N [OPTION ...]: the stream server of 1..N in the background; its
# port in $PORT, its pid in $SERVER, and "accepted K" in ./acc once it ends.
serve() {
	local n=$1
	shift
	bg $STREAM "$@" port "$n" >acc
	SERVER=$!
	wait_for 10 test -s port
	PORT=$(cat port)
}

# server_done [K]: stop the server (a holder sees the end of its
# connection) and check that it accepted K connections, 1 by default.
server_done() {
	kill -TERM "$SERVER"
	wait_exit 10 "$SERVER"
	[ "$(cat acc)" = "accepted ${1:-1}" ] || fail "server: $(cat acc)"
}

# hold [OPTION ...]: a holder of 127.0.0.1 $PORT on ./ctl, appending to
# ./data; its pid in $HOLDER.
hold() {
	bg fdholder "$@" -s "$PWD/ctl" 127.0.0.1 "$PORT" >>data 2>>errs
	HOLDER=$!
}

# lines N: ./data holds N lines (stream may still be running).
lines() {
	[ "$(wc -l <data)" -ge "$1" ]
}

# grows FILE SIZE: FILE is larger than SIZE bytes.
grows() {
	[ "$(stat -c %s "$1")" -gt "$2" ]
}

# nfds PID: how many fds the process has open.
nfds() {
	ls "/proc/$1/fd" | wc -l
}

# expect_err FILE PATTERN: the error output holds PATTERN (a fixed string).
expect_err() {
	grep -qF -- "$2" "$1" || {
		echo "expected in $1: $2" >&2
		echo "got:" >&2
		cat "$1" >&2
		exit 1
	}
}

_t_cleanup() {
	local pid
	if [ -f "$T_DIR/pids" ]; then
		while read -r pid; do
			kill -TERM "$pid" 2>/dev/null
		done <"$T_DIR/pids"
		sleep 0.05
		while read -r pid; do
			kill -KILL "$pid" 2>/dev/null
		done <"$T_DIR/pids"
	fi
	if [ -f "$T_DIR/defer" ]; then
		while read -r cmd; do
			eval "$cmd" >/dev/null 2>&1
		done <"$T_DIR/defer"
	fi
}

# t_case NAME FUNCTION: run one case and report it in TAP.  With T_TODO
# set, a failure is a known bug, TAP's "# TODO $T_TODO".
t_case() {
	local name=$1 fn=$2 rc pid dog t0=${EPOCHREALTIME/./}
	T_N=$((T_N + 1))
	# T_ONLY=FUNCTION runs that case alone, for debugging.
	if [ -n "${T_ONLY:-}" ] && [ "$fn" != "$T_ONLY" ]; then
		echo "ok $T_N - $name # SKIP T_ONLY=$T_ONLY"
		return 0
	fi
	T_DIR=$T_ROOT/$T_N
	mkdir -p "$T_DIR"
	: >"$T_DIR/defer"
	(
		cd "$T_DIR" || exit 1
		set -e
		"$fn"
	) </dev/null >"$T_DIR/log" 2>&1 &
	pid=$!
	( sleep "$T_CASE_LIMIT" && kill -TERM "$pid" ) >/dev/null 2>&1 &
	dog=$!
	rc=0
	wait "$pid" || rc=$?
	pkill -P "$dog" sleep 2>/dev/null
	kill "$dog" 2>/dev/null
	wait "$dog" 2>/dev/null
	_t_cleanup
	# T_TIMES=1: each case's wall time, to find where the suite's goes.
	[ -z "${T_TIMES:-}" ] || printf '# %s: %d ms\n' "$fn" \
	    $(( (${EPOCHREALTIME/./} - t0) / 1000 ))
	if [ "$rc" -eq 0 ]; then
		echo "ok $T_N - $name${T_TODO:+ # TODO $T_TODO}"
		# What a case wants the reader to see (t_note), as comments.
		[ ! -s "$T_DIR/note" ] || sed 's/^/# /' "$T_DIR/note"
	elif [ -n "${T_TODO:-}" ]; then
		# A known bug (TAP's TODO): reported, not counted as a failure.
		echo "not ok $T_N - $name # TODO $T_TODO"
		sed -n 's/^FAIL: /# /p' "$T_DIR/log"
	else
		T_FAILED=$((T_FAILED + 1))
		echo "not ok $T_N - $name"
		sed 's/^/# /' "$T_DIR/log" | tail -n 40
		# prove shows a script's standard error, not its comments:
		# the reason goes there too, named, for whoever ran make check.
		sed "s|^|${0##*/} $T_N ($fn): |" "$T_DIR/log" | tail -n 40 >&2
	fi
}

# t_note TEXT: print TEXT under the case's "ok" line, for figures a reader
# wants to see (prove -v shows them).
t_note() {
	printf '%s\n' "$*" >>"$T_DIR/note"
}

# t_skip NAME REASON
t_skip() {
	T_N=$((T_N + 1))
	echo "ok $T_N - $1 # SKIP $2"
}

t_done() {
	echo "1..$T_N"
	[ "$T_FAILED" -eq 0 ]
}

# must_fail STATUS CMD ...: CMD must exit with STATUS; its standard output
# is left in ./out, its standard error in ./err.  (Never "! cmd && ...":
# set -e does not stop on a failure inside such a list.)
must_fail() {
	local want=$1 rc=0
	shift
	"$@" >out 2>err || rc=$?
	if [ "$rc" -ne "$want" ]; then
		echo "expected exit $want, got $rc: $*" >&2
		cat err >&2
		exit 1
	fi
}
