#!/bin/bash
# ISC license: see LICENSE.
# Least privilege: no new privileges, and a seccomp filter in the
# long-running modes (fdholder, effif -w).  The whole suite runs with them
# on; these cases prove that they are on, and that the filter refuses.
# An ASan build has no filter (LeakSanitizer needs ptrace at exit).
. "$(dirname "$0")/lib.sh"
TESTS=$(cd "$(dirname "$0")" && pwd)

# status PID FIELD: a field of /proc/PID/status.
status() {
	sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status"
}

# confined PID: no new privileges, and a filter unless this is ASan.
confined() {
	[ "$(status "$1" NoNewPrivs)" = 1 ] || fail "NoNewPrivs: $(status "$1" NoNewPrivs)"
	if [ "${SAN:-}" = 1 ]; then
		return 0
	fi
	[ "$(status "$1" Seccomp)" = 2 ] || fail "Seccomp: $(status "$1" Seccomp)"
}

has_nnp() {
	[ "$(status "$1" NoNewPrivs)" = 1 ]
}

# fdsend, waiting for its receiver, has no_new_privs; fdrecv, which runs a
# program that may have to gain privileges, has not.
nnp() {
	bg fdsend -t 10 "$PWD/s" 0 </dev/null
	pid=$!
	wait_for 10 has_nnp "$pid"
	bg fdrecv -t 10 "$PWD/r"
	pid=$!
	wait_for 10 test -S r
	[ "$(status "$pid" NoNewPrivs)" = 0 ] || fail "fdrecv has NoNewPrivs"
}

refused_calls() {
	sbcheck >out || { cat out; fail "sbcheck exited $?"; }
	grep -qx "socket: refused" out
	grep -qx "open: refused" out
	grep -qx "execve: refused" out
	grep -qx "write: allowed" out
	grep -qx "sched_setscheduler fifo: refused" out
	grep -qx "sched_setscheduler batch: allowed" out
}

fdholder_confined() {
	bg python3 "$TESTS/stream.py" -r 100 port 100000 >acc
	wait_for 10 test -s port
	bg fdholder -s "$PWD/ctl" 127.0.0.1 "$(cat port)" >data
	wait_for 10 test -s data
	confined "$!"
	# Confined, it still hands over.
	bg fdholder -s "$PWD/ctl" 127.0.0.1 "$(cat port)" >>data
	wait_exit 10 "$(sed -n 2p pids)"
	[ "$RC" = 0 ] || fail "first holder exited $RC"
	confined "$(tail -n 1 pids)"
}

effif_confined() {
	local ns=fdtools-sb-$$
	ip netns add "$ns"
	defer "ip netns del $ns"
	ip -n "$ns" link set lo up
	bg ip netns exec "$ns" effif -a -w >out 2>err
	wait_for 10 eval '[ -n "$(pgrep -f "effif -a -w" | head -n 1)" ]'
	sleep 0.3
	confined "$(pgrep -nf "^effif -a -w|/effif -a -w")"
	# Confined, it still sees a change: a new interface and its route.
	ip -n "$ns" link add dummy0 type veth peer name dummy1
	ip -n "$ns" addr add 10.9.8.1/24 dev dummy0
	ip -n "$ns" link set dummy0 up
	sleep 1
	kill -0 "$(tail -n 1 pids)" || fail "effif -w died: $(cat err)"
	[ ! -s err ] || fail "effif -w: $(cat err)"
}

if [ "${SAN:-}" = 1 ]; then
	t_skip "the filter refuses socket, open, execve" "no filter in an ASan build"
else
	t_case "the filter refuses socket, open, execve" refused_calls
fi
t_case "fdholder runs confined, and still hands over" fdholder_confined
t_case "fdsend gains no privileges; fdrecv leaves that to its program" nnp
t_case "effif -w runs confined" effif_confined
t_done
