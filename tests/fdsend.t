#!/bin/bash
# ISC license: see LICENSE.
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
	bg fdrecv -t 10 -m 0 s sh -c 'sleep 0.2; cat' >held
	wait_for 5 listening
	echo held | fdsend -t 5 s 0
	wait_exit 5 "$(tail -n 1 pids)"
	[ "$RC" = 0 ] && [ "$(cat held)" = held ] || fail "fdrecv: $RC $(cat held)"
	# Not before: a receiver that takes the offer and hangs up unconfirmed.
	bg $PEER noack s2 close
	wait_for 5 test -S s2
	must_fail 111 fdsend -t 5 s2 0
	expect_err err "fdsend: s2: peer closed without confirming"
}

not_open() {
	bg fdrecv -t 1 s cat
	must_fail 100 fdsend -t 1 s 9
	expect_err err "fdsend: fd 9: not open in the calling process"
	wait_exit 5 "$(tail -n 1 pids)"
	[ "$RC" = 99 ] || fail "fdrecv got something: exit $RC"
}

# Whether 1,000 fds are open is asked in a few calls, not two fcntl per fd
# (strace counts fdsend's: was 2,009).
send_checks() {
	bg fdrecv -t 10 s true
	# LeakSanitizer cannot run under ptrace (SAN=1 builds).
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	    bash -c 'for i in $(seq 3 1002); do eval "exec $i</dev/null"; done
	    exec strace -qq -c -o calls fdsend -t 10 s $(seq 3 1002)'
	n=$(calls calls fcntl fstat newfstatat poll ppoll)
	[ "$n" -le 100 ] || fail "$n fcntl, fstat and poll for 1000 fds"
	t_note "fcntl, fstat, poll for 1000 fds: $n"
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

# Past the ack, -t still bounds the wait for the receiver's program to
# start (its exec held for 3 s here); the program runs later all the same.
timeout_exec() {
	local cat spid
	cat=$(command -v cat)
	bg slow_exec 3000000 fdrecv -t 20 -m 0 s "$cat" >out
	spid=$!
	wait_for 5 listening
	must_fail 99 sh -c 'echo late | exec fdsend -t 0.5 s 0'
	expect_err err "fdsend: s: timed out waiting for the receiver's program to start"
	wait_exit 10 "$spid"
	[ "$RC" = 0 ] || fail "fdrecv exited $RC"
	[ "$(cat out)" = late ] || fail "read: $(cat out)"
}

# fdsend -l: a receiver that confirms and then cannot run its program ends
# fdsend with its error (the fds are still fdsend's; no second receiver).
listen_exec_fails() {
	printf '#!/nonexistent/sh\n' >script
	chmod 755 script
	bg sh -c 'echo kept | exec fdsend -l -t 10 s 0 2>serr'
	wait_for 5 listening
	must_fail 127 fdrecv -c -t 5 s ./script
	expect_err err "fdrecv: exec ./script: No such file or directory"
	wait_exit 5 "$(tail -n 1 pids)"
	[ "$RC" = 1 ] || fail "fdsend exited $RC"
	expect_err serr "fdsend: s: receiver's program did not run: exec ./script: No such file or directory"
	[ ! -e s ] || fail "socket left behind"
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

# fd:N that is a stream socket neither bound, connected nor listening is
# named as such, by every tool (issue 22 item 12; fdsend said "refused
# receiver uid 4294967295", fdholder "a connected socket, not a listening
# one").
on3_unconnected() {
	python3 -c 'import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)
os.execvp(sys.argv[1], sys.argv[1:])' "$@"
}
unconnected_fd() {
	local want="fd:3: a stream socket neither connected nor listening"
	must_fail 100 on3_unconnected fdsend -t 2 fd:3 0
	expect_err err "fdsend: $want"
	must_fail 100 on3_unconnected fdsend -n x -t 2 fd:3 0
	expect_err err "fdsend: $want"
	must_fail 100 on3_unconnected fdrecv -t 2 fd:3 true
	expect_err err "fdrecv: $want"
	must_fail 100 on3_unconnected fdholder -t 2 -s fd:3
	expect_err err "fdholder: $want"
	must_fail 100 on3_unconnected fdholder -L -t 2 -s fd:3
	expect_err err "fdholder: $want"
}

# A process holding a pipe with pending bytes and a TCP connection to a
# server on loopback; its pid and fd numbers land in ./held, what the server
# receives in ./server.
holder_and_server() {
	cat >tcp.py <<-'EOT'
	import os, socket, sys, time
	srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
	if os.fork() == 0:
	    c, _ = srv.accept(); c.settimeout(20)
	    with open("server", "wb") as f:
	        while (b := c.recv(100)):
	            f.write(b); f.flush()
	    os._exit(0)
	r, w = os.pipe(); os.write(w, b"pending\n")
	t = socket.create_connection(srv.getsockname())
	with open("held.tmp", "w") as f:
	    print(os.getpid(), r, t.fileno(), file=f)
	os.rename("held.tmp", "held")
	time.sleep(60)
	EOT
	bg python3 tcp.py
	wait_for 5 test -s held
	read -r HPID HPIPE HTCP <held
}

take_from_pid() {
	holder_and_server
	bg fdsend -p "$HPID" -t 10 s "$HPIPE=pipe"
	fdrecv -t 10 -m 0 s head -n 1 >out
	[ "$(cat out)" = pending ] || fail "read: $(cat out)"
	bg fdsend -p "$HPID" -t 10 s "$HTCP"
	fdrecv -t 10 -m 1 s echo via-taken-fd
	wait_for 5 grep -qx via-taken-fd server
	kill -0 "$HPID" || fail "the source process ended"
}

take_refusals() {
	local dead
	holder_and_server
	must_fail 100 fdsend -p "$HPID" -t 1 s 999
	expect_err err "fdsend: pid $HPID: fd 999: Bad file descriptor"
	sh -c 'exit 0' &
	dead=$!
	wait "$dead"
	must_fail 100 fdsend -p "$dead" -t 1 s 0
	expect_err err "fdsend: pid $dead: No such process"
	mkdir -m 755 pub
	cp "$BIN/fdsend" pub/
	chmod 755 . pub pub/fdsend
	must_fail 1 setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    pub/fdsend -p "$HPID" -t 1 s "$HPIPE"
	expect_err err "fdsend: pid $HPID: fd $HPIPE: Operation not permitted (needs ptrace rights"
	must_fail 100 fdsend -p 0 s 0
	expect_err err "fdsend: pid too small: 0"
}

# A server whose listeners are not on fd 3, as a real one's are not: a
# dummy fd or two, then TCP on IPv4 and IPv6 of one port, UDP on another,
# a UNIX socket; its pid and ports land in ./lpid.
listeners() {
	cat >lsn.py <<-'EOT'
	import os, socket, time
	junk = [os.open("/dev/null", os.O_RDONLY) for _ in range(2)]
	t4 = socket.socket(); t4.bind(("127.0.0.1", 0)); t4.listen(1)
	port = t4.getsockname()[1]
	t6 = socket.socket(socket.AF_INET6)
	t6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
	t6.bind(("::1", port)); t6.listen(1)
	u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	u.bind(("127.0.0.1", 0))
	x = socket.socket(socket.AF_UNIX); x.bind("lsn.sock"); x.listen(1)
	c = socket.create_connection(("127.0.0.1", port))
	with open("lpid.tmp", "w") as f:
	    print(os.getpid(), port, u.getsockname()[1], t4.fileno(),
	        t6.fileno(), file=f)
	os.rename("lpid.tmp", "lpid")
	time.sleep(60)
	EOT
	bg python3 lsn.py
	wait_for 5 test -s lpid
	read -r LPID LPORT UPORT LFD4 LFD6 <lpid
}

# fdsend -p PID OPERAND to a receiver that prints what it got: ./out.
take_by_name() {
	bg fdsend -p "$LPID" -t 10 s "$@"
	fdrecv -t 10 s sdcheck >out
	wait_exit 5 "$(tail -n 1 pids)"
	[ "$RC" = 0 ] || fail "fdsend exited $RC"
}

take_listener() {
	listeners
	[ "$LFD4" -gt 3 ] || fail "the listener is on fd $LFD4"
	# Both families of the port, named, and the one a client reaches.
	take_by_name "tcp:$LPORT=web"
	printf '2\n3 web socket\n4 web socket\n' >want
	diff -u want out
	take_by_name "udp:$UPORT" "unix:lsn.sock=ctl"
	printf '2\n3 unknown socket\n4 ctl socket\n' >want
	diff -u want out
	# They are the listeners themselves, IPv4 and IPv6 in fd order.
	bg fdsend -p "$LPID" -t 10 s "tcp:$LPORT"
	fdrecv -t 10 s python3 -c '
import socket
for fd in 3, 4:
    s = socket.socket(fileno=fd)
    print(s.getsockname()[0], s.getsockname()[1])' >out
	printf '127.0.0.1 %s\n::1 %s\n' "$LPORT" "$LPORT" >want
	diff -u want out
	# Ours too: a listener that fdsend inherits on fd 8.
	bg python3 -c '
import os, socket
t = socket.socket(); t.bind(("127.0.0.1", 0)); t.listen(1)
port = t.getsockname()[1]
os.dup2(t.fileno(), 8); t.close()
os.execlp("fdsend", "fdsend", "-t", "10", "s", "tcp:%d=mine" % port)'
	fdrecv -t 10 s sdcheck >out
	printf '1\n3 mine socket\n' >want
	diff -u want out
}

take_listener_none() {
	listeners
	must_fail 100 fdsend -p "$LPID" -t 1 s tcp:1
	expect_err err "fdsend: pid $LPID: no listening socket tcp:1; it listens on tcp:$LPORT (fd $LFD4), tcp:$LPORT (fd $LFD6), udp:$UPORT (fd"
	grep -q ", unix:lsn.sock (fd [0-9]*)\$" err || fail "$(cat err)"
	# The connected socket is no listener.
	! grep -q "fd $((LFD6 + 3))" err || fail "$(cat err)"
	must_fail 100 fdsend -t 1 s udp:1
	expect_err err "fdsend: no listening socket udp:1; this process listens on nothing"
	must_fail 100 fdsend s tcp:x
	expect_err err "fdsend: invalid port: tcp:x"
	must_fail 100 fdsend s tcp:70000
	expect_err err "fdsend: invalid port: tcp:70000"
	must_fail 100 fdsend s unix:
	expect_err err "fdsend: invalid fd[=name]: unix:"
}

fdstore() {
	bg $PEER notify n >log
	wait_for 5 test -S n
	echo stored | NOTIFY_SOCKET=$PWD/n fdsend -S -t 5 0=conn 2>err
	wait_exit 5 "$(tail -n 1 pids)"
	cat >want <<-EOT
	ready
	FDSTORE=1 FDNAME=conn fds=1 first=stored
	BARRIER=1 fds=1
	EOT
	diff -u want log
}

fdstore_many() {
	local sock=@fdtools-notify-$$
	bg $PEER notify "$sock" >log
	wait_for 5 grep -q "fdtools-notify-$$" /proc/net/unix
	NOTIFY_SOCKET=$sock $PEER many - 300 -S -t 10
	wait_exit 5 "$(tail -n 1 pids)"
	grep -c '^FDSTORE=1 FDNAME=n[0-9]* fds=1 ' log >count
	[ "$(cat count)" = 300 ] || fail "$(cat count) stored"
}

fdstore_remove() {
	bg $PEER notify n >log
	wait_for 5 test -S n
	NOTIFY_SOCKET=n fdsend -S -D -t 5 conn
	wait_exit 5 "$(tail -n 1 pids)"
	grep -qx 'FDSTOREREMOVE=1 FDNAME=conn fds=0 first=' log ||
	    fail "$(cat log)"
}

fdstore_errors() {
	must_fail 100 env -u NOTIFY_SOCKET fdsend -S 0=x
	expect_err err "fdsend: NOTIFY_SOCKET is not set"
	bg $PEER notify n hang >log
	wait_for 5 test -S n
	must_fail 99 env NOTIFY_SOCKET=n fdsend -S -t 0.5 0=x
	expect_err err "fdsend: wait for the service manager: Connection timed out"
	must_fail 100 fdsend -S -D a:b
	expect_err err "fdsend: invalid name: a:b"
}

usage() {
	must_fail 100 fdsend
	expect_err err "usage: fdsend [-hlr]"
	must_fail 100 fdsend s
	must_fail 100 fdsend -t 1.2345678901 s 0
	expect_err err "fdsend: timeout invalid: 1.2345678901"
	must_fail 100 fdsend @ 0
	expect_err err "fdsend: @: Invalid argument"
	must_fail 100 fdsend "" 0
	expect_err err "fdsend: empty socket address"
	must_fail 100 fdsend -u no-such-user-here s 0
	expect_err err "fdsend: unknown user: no-such-user-here"
	must_fail 100 fdsend -S -l 0
	expect_err err "fdsend: cannot use -l with -S"
	must_fail 100 fdsend -n x -S s 0
	expect_err err "fdsend: cannot use -S with -n"
	must_fail 100 fdsend -D s 0
	expect_err err "fdsend: cannot use -D without -S"
	must_fail 100 fdsend -e 5 s 0
	expect_err err "fdsend: cannot use -e without -n"
	must_fail 100 fdsend -S -D -p 1 x
	expect_err err "fdsend: cannot use -p with -D"
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
t_traced "1000 fds: checked open in a few calls, not per fd" send_checks
t_case "bad fd[=name] operands" bad_spec
t_case "a name of 255 bytes" name_255
t_case "raw mode to Python's socket.recv_fds" raw_to_python
t_case "-t bounds the wait for the socket" timeout_connect
t_case "no waiting where the socket cannot appear" no_parent_dir
t_case "-t bounds the wait for confirmation" timeout_confirm
t_case "receiver killed before confirming" receiver_vanishes
if have_strace; then
	t_case "-t bounds the wait for the receiver's program to start" timeout_exec
else
	t_skip "-t bounds the wait for the receiver's program to start" "no strace"
fi
t_case "-l: a receiver whose exec fails after the ack ends fdsend with its error" listen_exec_fails
t_case "-l serves one receiver and removes its socket" listen_one
t_case "-l refuses a receiver of another uid and serves the next" listen_refuses_then_serves
t_case "a file that is not a socket: no waiting" not_a_socket
t_case "fd:N neither connected nor listening: said so by every tool" unconnected_fd
t_case "-p: a pipe and a TCP connection taken from a running process" take_from_pid
t_case "-p: no such fd, no such process, no ptrace rights" take_refusals
t_case "tcp:PORT, udp:PORT, unix:PATH: the listeners, on any fd, named" take_listener
t_case "tcp:PORT with no match: what the process does listen on" take_listener_none
t_case "-S: into a service manager's fd store, confirmed by a barrier" fdstore
t_case "-S: 300 fds" fdstore_many
t_case "-S -D: remove from the fd store" fdstore_remove
t_case "-S: errors" fdstore_errors
t_case "usage errors" usage
if [ -z "${SAN:-}" ]; then
	t_case "valgrind memcheck: no errors, leaks or open fds" memcheck
else
	t_skip "valgrind memcheck" "sanitizer build"
fi
t_done
