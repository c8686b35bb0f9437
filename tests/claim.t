#!/bin/bash
# ISC license: see LICENSE.
# Claiming a socket path against every other claimant, and what a tool
# finds there: one owner at every moment (DESIGN's "same rule holds between
# processes that start at the same moment"), errors that say what was
# found, fd:N only for UNIX-domain sockets, and an ignored SIGINT that
# stays ignored.
. "$(dirname "$0")/lib.sh"
TESTS=$(cd "$(dirname "$0")" && pwd)

# accepted: how many connections the server saw (it says so as it ends).
accepted() {
	kill -TERM "$SERVER"
	wait_exit 10 "$SERVER"
	sed -n 's/^accepted //p' acc
}

# alive PATTERN: how many processes run with PATTERN in their arguments.
alive() {
	pgrep -c -f "$1" || true
}

# has_lines N: ./data has N lines or more.
has_lines() {
	[ "$(wc -l <data)" -ge "$1" ]
}

# one_alive PATTERN: exactly one process has PATTERN in its arguments.
one_alive() {
	[ "$(alive "$1")" = 1 ]
}

# Can strace inject a delay here?  (Not inside every container.)
STRACE_OK=
if command -v strace >/dev/null 2>&1 &&
    strace -qq -o /dev/null -e trace=none true 2>/dev/null; then
	STRACE_OK=1
fi

# slow_listen CMD ...: run CMD with every listen(2) delayed by 0.5 s, the
# instant between bind and listen held open.  strace -D makes CMD itself
# the child: $! is its pid.  LeakSanitizer cannot run under ptrace: the
# sanitizer pass checks leaks in every other case.
slow_listen() {
	bg env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	    strace -D -qq -o /dev/null -e trace=listen \
	    -e inject=listen:delay_enter=500000 "$@"
}

# Two holders on one fresh control socket, the first held between bind and
# listen: the second waits for the claim lock, finds a live holder and
# takes over from it.  Before the fix it took the bound, not yet listening
# socket for stale, replaced it, and both held a connection.
holders_bind_listen() {
	local n=2000 a b
	serve "$n"
	slow_listen fdholder -s "$PWD/ctl" 127.0.0.1 "$PORT" >>data 2>>errs
	a=$!
	wait_for 10 test -S ctl		# bound, not yet listening
	bg fdholder -s "$PWD/ctl" 127.0.0.1 "$PORT" >>data 2>>errs
	b=$!
	wait_exit 10 "$a"
	[ "$RC" = 0 ] || fail "first holder exited $RC: $(cat errs)"
	wait_for 10 has_lines "$n"
	kill -0 "$b" || fail "second holder gone: $(cat errs)"
	[ "$(alive "fdholder -s $PWD/ctl ")" = 1 ] || fail "two holders"
	seq 1 "$n" | cmp - data
	[ "$(accepted)" = 1 ] || fail "server: $(cat acc)"
	[ ! -s errs ] || fail "errors: $(cat errs)"
}

# The same for two stores: one store, and what is stored is listed.
stores_bind_listen() {
	local a b
	slow_listen fdholder -s "$PWD/ctl" 2>>errs
	a=$!
	wait_for 10 test -S ctl
	bg fdholder -s "$PWD/ctl" 2>>errs
	b=$!
	wait_exit 10 "$a"
	[ "$RC" = 0 ] || fail "first store exited $RC: $(cat errs)"
	fdsend -t 5 -n x ctl 0 </dev/null
	[ "$(fdholder -L -s ctl | cut -f1)" = x ] || fail "x not listed"
	kill -0 "$b" || fail "second store gone"
	[ "$(alive "fdholder -s $PWD/ctl")" = 1 ] || fail "two stores"
	[ ! -s errs ] || fail "errors: $(cat errs)"
}

# Two fdrecv on one path, the first held between bind and listen: the
# second is told at once that a live socket is there; the first receives.
# Before the fix the second replaced the socket and the first hung.
fdrecv_bind_listen() {
	local a b
	slow_listen fdrecv -t 10 "$PWD/s" >out.a 2>err.a
	a=$!
	wait_for 10 test -S s
	must_fail 111 fdrecv -t 10 "$PWD/s"
	expect_err err "a live socket is listening there"
	echo hello >f
	fdsend -t 10 s 3 3<f
	wait_exit 10 "$a"
	[ "$RC" = 0 ] || fail "first fdrecv exited $RC: $(cat err.a)"
	[ "$(cat out.a)" = hello ] || fail "first fdrecv got: $(cat out.a)"
}

# SIGTERM between bind and listen: the path still goes with the process.
# Before, the handler that removes it was set up only after listen, and the
# socket was left behind.
term_bind_listen() {
	local pid
	slow_listen fdrecv -t 10 "$PWD/r" 2>/dev/null
	pid=$!
	wait_for 10 test -S r
	kill -TERM "$pid"
	wait_exit 10 "$pid"
	[ ! -e r ] || fail "fdrecv: socket left behind"
	slow_listen fdholder -s "$PWD/ctl" 2>/dev/null
	pid=$!
	wait_for 10 test -S ctl
	kill -TERM "$pid"
	wait_exit 10 "$pid"
	[ ! -e ctl ] || fail "fdholder: socket left behind"
}

# Holders started together, round after round: each round ends with one
# holder and one connection, every line once; a holder that loses the race
# either handed over (0) or was told the holder is busy (1).
holders_together() {
	local round rounds=20 n=300 k pids pid rc
	for round in $(seq 1 "$rounds"); do
		mkdir "r$round"
		cd "r$round"
		serve "$n"
		pids=
		for k in 1 2 3 4; do
			bg fdholder -t 10 -s "$PWD/ctl" 127.0.0.1 "$PORT" \
			    >>data 2>>errs
			pids="$pids $!"
		done
		wait_for 10 has_lines "$n"
		wait_for 10 one_alive "fdholder -t 10 -s $PWD/ctl "
		for pid in $pids; do
			kill -0 "$pid" 2>/dev/null && continue
			wait_exit 1 "$pid"
			rc=$RC
			[ "$rc" = 0 ] || [ "$rc" = 1 ] ||
			    fail "round $round: holder exited $rc: $(cat errs)"
		done
		seq 1 "$n" | cmp - data || fail "round $round: data"
		k=$(accepted)
		[ "$k" = 1 ] || fail "round $round: $k connections"
		cd ..
	done
	t_note "$rounds rounds of 4 holders started together: 1 holder and" \
	    "1 connection each"
}

# A live socket of another program (s6's fdholder daemon): fdholder says
# what it found, and leaves it alone.  Before: "listen s6.sock: Success".
foreign_socket() {
	mkdir -p rules/uid/"$(id -u)"
	touch rules/uid/"$(id -u)"/allow
	local s6 ino
	bg s6-fdholder-daemon -i rules "$PWD/s6.sock"
	s6=$!
	wait_for 10 test -S s6.sock
	ino=$(stat -c %i s6.sock)
	must_fail 111 fdholder -t 2 -s s6.sock 127.0.0.1 9
	expect_err err "s6.sock: a live socket that does not speak fdproto"
	must_fail 111 fdholder -t 2 -s s6.sock
	expect_err err "s6.sock: a live socket that does not speak fdproto"
	# s6 still serves its own socket.
	kill -0 "$s6" || fail "s6-fdholder-daemon gone"
	[ "$(stat -c %i s6.sock)" = "$ino" ] || fail "s6.sock replaced"
}

# A path that is not a socket: said so, and the file is left as it was.
not_a_socket() {
	echo keep >file
	must_fail 111 fdholder -s file 127.0.0.1 9
	expect_err err "file: exists and is not a socket"
	must_fail 111 fdholder -s file
	expect_err err "file: exists and is not a socket"
	must_fail 111 fdrecv -t 1 file
	expect_err err "file: exists and is not a socket"
	mkdir dir
	must_fail 111 fdholder -s dir
	expect_err err "dir: a directory, not a socket"
	[ "$(cat file)" = keep ] || fail "file changed"
	# No directory for it: said of the path asked for, not of the lock.
	must_fail 111 fdholder -s "$PWD/nodir/ctl"
	expect_err err "listen $PWD/nodir/ctl: No such file or directory"
}

# fd:N must be a UNIX-domain socket: a TCP connection or a listening TCP
# socket is a usage error, and the network peer receives nothing.  Before,
# fdsend wrote error frames to it ("refused receiver uid 4294967295").
fd_tcp() {
	local port
	bg python3 -c '
import socket, sys
l = socket.socket()
l.bind(("127.0.0.1", 0)); l.listen(8)
open("port", "w").write(str(l.getsockname()[1]))
n = 0
l.settimeout(10)
while True:
    try:
        c, _ = l.accept()
    except OSError:
        break
    c.settimeout(1)
    try:
        while True:
            b = c.recv(4096)
            if not b:
                break
            n += len(b)
            open("got", "w").write(str(n))
    except OSError:
        pass
' 
	wait_for 10 test -s port
	port=$(cat port)
	exec 7<>"/dev/tcp/127.0.0.1/$port"
	must_fail 100 fdsend -t 1 fd:7 0
	expect_err err "fd:7: not a UNIX-domain socket"
	must_fail 100 fdrecv -t 1 fd:7
	expect_err err "fd:7: not a UNIX-domain socket"
	must_fail 100 fdholder -t 1 -s fd:7 127.0.0.1 "$port"
	expect_err err "fd:7: not a UNIX-domain socket"
	must_fail 100 fdholder -t 1 -L -s fd:7
	expect_err err "fd:7: not a UNIX-domain socket"
	exec 7>&-
	python3 -c '
import socket, os, subprocess, sys
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(1)
os.set_inheritable(l.fileno(), True)
r = subprocess.run(["fdrecv", "-t", "1", "fd:%d" % l.fileno()],
    pass_fds=[l.fileno()], capture_output=True, text=True)
sys.exit(0 if r.returncode == 100 and "not a UNIX-domain" in r.stderr
    else "listening TCP fd:N: %d %s" % (r.returncode, r.stderr))
'
	sleep 0.3
	[ ! -s got ] || fail "the network peer received $(cat got) bytes"
}

# sigign PID SIG: is SIG ignored by PID (SigIgn of /proc/PID/status)?
sigign() {
	local mask
	mask=$(sed -n 's/^SigIgn:[[:space:]]*//p' "/proc/$1/status")
	[ $(( (0x$mask >> ($2 - 1)) & 1 )) = 1 ]
}

# A script's background job starts with SIGINT ignored (sh(1)); the tools
# keep it so, and a Ctrl-C meant for the script leaves the holder and the
# connection alone.  Started with SIGINT at its default, a holder still
# removes its socket when interrupted.
sigint_ignored() {
	local n=100 pid
	serve "$n"
	# bash starts an asynchronous command with SIGINT ignored when
	# there is no job control, as here: that is what is tested.
	bg sleep 30
	sigign $! 2 || fail "premise: bash did not ignore SIGINT in a job"
	bg fdholder -s "$PWD/ctl" 127.0.0.1 "$PORT" >>data 2>>errs
	pid=$!
	wait_for 10 test -S ctl
	sigign "$pid" 2 || fail "the holder caught the SIGINT it was started with ignored"
	wait_for 10 has_lines "$n"
	kill -INT "$pid"
	sleep 0.3
	kill -0 "$pid" || fail "the holder died of an ignored SIGINT"
	bg fdholder -s "$PWD/store" 2>>errs
	pid=$!
	wait_for 10 test -S store
	kill -INT "$pid"
	sleep 0.3
	kill -0 "$pid" || fail "the store died of an ignored SIGINT"
	bg fdrecv -t 10 "$PWD/r" >/dev/null 2>>errs
	pid=$!
	wait_for 10 test -S r
	kill -INT "$pid"
	sleep 0.3
	kill -0 "$pid" || fail "fdrecv died of an ignored SIGINT"
	# Not ignored: it ends, and takes its path with it.
	bg env --default-signal=INT fdholder -s "$PWD/s2" 2>>errs
	pid=$!
	wait_for 10 test -S s2
	sigign "$pid" 2 && fail "premise: SIGINT ignored despite env"
	kill -INT "$pid"
	wait_exit 5 "$pid"
	[ "$RC" = 130 ] || fail "store with SIGINT caught exited $RC"
	[ ! -e s2 ] || fail "s2 left behind"
}

if [ -n "$STRACE_OK" ]; then
	t_case "two holders, the first between bind and listen: one holder, one connection" holders_bind_listen
	t_case "two stores, the first between bind and listen: one store" stores_bind_listen
	t_case "two fdrecv, the first between bind and listen: second told, first receives" fdrecv_bind_listen
	t_case "SIGTERM between bind and listen: the path is removed" term_bind_listen
else
	for c in holders_bind_listen stores_bind_listen fdrecv_bind_listen \
	    term_bind_listen; do
		t_skip "$c" "strace cannot trace here (not installed, or ptrace refused)"
	done
fi
t_case "4 holders started together, 20 rounds: one holder, one connection each" holders_together
if command -v s6-fdholder-daemon >/dev/null; then
	t_case "a live s6-fdholder-daemon socket: said so, left alone" foreign_socket
else
	t_skip foreign_socket "s6-fdholder-daemon not installed (Debian's s6)"
fi
t_case "a regular file or directory as the socket: not a socket, left alone; no directory: said so" not_a_socket
t_case "fd:N a TCP socket: usage error, the network peer receives nothing" fd_tcp
t_case "SIGINT ignored at start stays ignored; caught otherwise" sigint_ignored
t_done
