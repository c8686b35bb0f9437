#!/bin/bash
# fdsend: what it sends, when it waits, and when it gives up.
. "$(dirname "$0")/lib.sh"
PEER="python3 $(cd "$(dirname "$0")" && pwd)/peer.py"

listening() {
	[ -S s ]
}

sender_first() {
	bg sh -c 'echo early | fdsend -t 10 s 0'
	sleep 0.3
	fdrecv -t 10 s >out
	[ "$(cat out)" = early ] || fail "read: $(cat out)"
	wait_exit 5 "$(tail -n 1 pids)"
	[ "$RC" = 0 ] || fail "fdsend exited $RC"
}

confirmed_exit() {
	# fdsend ends 0 only once fdrecv holds the fd: here fdrecv is slow to
	# start its program, and fdsend has already ended when it runs.
	bg fdrecv -t 10 -m 0 s sh -c 'sleep 0.2; cat'
	wait_for 5 listening
	echo held | fdsend -t 5 s 0
	wait_exit 5 "$(tail -n 1 pids)"
}

not_open() {
	bg fdrecv -t 1 s cat
	must_fail 100 fdsend -t 1 s 9
	expect_err err "fdsend: fd 9: Bad file descriptor"
	wait_exit 5 "$(tail -n 1 pids)"
	[ "$RC" = 99 ] || fail "fdrecv got something: exit $RC"
}

bad_spec() {
	must_fail 100 fdsend s 0=a:b
	expect_err err "fdsend: invalid fd[=name]: 0=a:b"
	must_fail 100 fdsend s "0=$(printf '%0256d' 0)"
	expect_err err "fdsend: invalid fd[=name]: 0=000"
	must_fail 100 fdsend s x
	expect_err err "fdsend: invalid fd[=name]: x"
	must_fail 100 fdsend -r s 0=name
	expect_err err "fdsend: raw mode sends no names: 0=name"
}

name_255() {
	local name
	name=$(printf 'n%.0s' $(seq 255))
	bg sh -c "echo | fdsend -t 10 s 0=$name"
	fdrecv -t 10 s sdcheck >out
	grep -qx "3 $name fifo" out || fail "$(cat out)"
}

raw_to_python() {
	bg $PEER recv_fds s >out
	wait_for 5 listening
	echo to-python | fdsend -r -t 5 s 0
	wait_exit 5 "$(tail -n 1 pids)"
	printf 'ready\nfds 1 bytes 1\nto-python\n' | diff -u - out
}

timeout_connect() {
	must_fail 99 fdsend -t 0.3 s 0
	expect_err err "fdsend: connect s: timed out"
}

no_parent_dir() {
	must_fail 111 fdsend -t 5 no/such/dir/s 0
	expect_err err "fdsend: connect no/such/dir/s: No such file or directory"
}

timeout_confirm() {
	bg $PEER noack s
	wait_for 5 listening
	must_fail 99 fdsend -t 0.5 s 0
	expect_err err "timed out"
}

receiver_vanishes() {
	local pid
	bg $PEER noack s
	pid=$!
	wait_for 5 listening
	bg fdsend s 0 2>err
	sleep 0.2
	kill -KILL "$pid"
	wait_exit 5 "$(tail -n 1 pids)"
	[ "$RC" = 111 ] || fail "fdsend exited $RC"
	expect_err err "fdsend: s: peer closed without confirming"
}

listen_one() {
	bg sh -c 'echo once | fdsend -l -t 10 s 0'
	wait_for 5 listening
	fdrecv -c -t 5 s >out
	[ "$(cat out)" = once ] || fail "read: $(cat out)"
	wait_exit 5 "$(tail -n 1 pids)"
	[ "$RC" = 0 ] || fail "fdsend exited $RC"
	[ ! -e s ] || fail "socket left behind"
	must_fail 99 fdsend -l -t 0.3 s 0
	expect_err err "fdsend: s: timed out waiting for a receiver"
	[ ! -e s ] || fail "socket left behind after a timeout"
}

not_a_socket() {
	echo precious >s
	must_fail 111 fdsend -t 5 s 0
	expect_err err "fdsend: connect s: Socket operation on non-socket"
	[ "$(cat s)" = precious ] || fail "file changed"
}

listen_refuses_then_serves() {
	local sock=@fdtools-test-$$
	mkdir -m 755 pub
	cp "$BIN/fdrecv" pub/
	chmod 755 . pub pub/fdrecv
	bg sh -c "echo good | fdsend -l -t 10 $sock 0 2>serr"
	wait_for 5 grep -q "fdtools-test-$$" /proc/net/unix
	must_fail 1 setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    pub/fdrecv -c -t 5 "$sock"
	expect_err err "refused by sender: uid 65534 not allowed by the sender"
	fdrecv -c -t 5 "$sock" >out
	[ "$(cat out)" = good ] || fail "read: $(cat out)"
	expect_err serr "refused receiver uid 65534"
}

usage() {
	must_fail 100 fdsend
	expect_err err "usage: fdsend [-lr]"
	must_fail 100 fdsend s
	must_fail 100 fdsend -h
	must_fail 100 fdsend -t 1.2345678901 s 0
	expect_err err "fdsend: timeout invalid: 1.2345678901"
	must_fail 100 fdsend @ 0
	expect_err err "fdsend: @: Invalid argument"
	must_fail 100 fdsend "" 0
	expect_err err "fdsend: empty socket address"
	must_fail 100 fdsend -u no-such-user-here s 0
	expect_err err "fdsend: unknown user: no-such-user-here"
}

# Both tools under valgrind's memcheck: no invalid access, no leak, and no
# fd left open at exit beyond the standard three.
memcheck() {
	local vg="valgrind -q --error-exitcode=9 --leak-check=full \
	    --errors-for-leak-kinds=definite,indirect --track-fds=yes"
	bg sh -c "echo checked | $vg $BIN/fdsend -t 20 s 0=name 2>serr"
	$vg "$BIN/fdrecv" -t 20 s >out 2>rerr
	wait_exit 20 "$(tail -n 1 pids)"
	[ "$RC" = 0 ] || { cat serr; fail "fdsend under valgrind: $RC"; }
	[ "$(cat out)" = checked ] || fail "read: $(cat out)"
	if grep -q 'Open file descriptor [3-9]' serr rerr; then
		cat serr rerr
		fail "fd open at exit"
	fi
}

t_case "sender first waits for the receiver" sender_first
t_case "exit 0 after the receiver confirmed" confirmed_exit
t_case "an fd not open is an error before anything is sent" not_open
t_case "bad fd[=name] operands" bad_spec
t_case "a name of 255 bytes" name_255
t_case "raw mode to Python's socket.recv_fds" raw_to_python
t_case "-t bounds the wait for the socket" timeout_connect
t_case "no waiting where the socket cannot appear" no_parent_dir
t_case "-t bounds the wait for confirmation" timeout_confirm
t_case "receiver killed before confirming" receiver_vanishes
t_case "-l serves one receiver and removes its socket" listen_one
t_case "-l refuses a receiver of another uid and serves the next" listen_refuses_then_serves
t_case "a file that is not a socket: no waiting" not_a_socket
t_case "usage errors" usage
if [ -z "${SAN:-}" ]; then
	t_case "valgrind memcheck: no errors, leaks or open fds" memcheck
else
	t_skip "valgrind memcheck" "sanitizer build"
fi
t_done
