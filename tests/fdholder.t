#!/bin/bash
# ISC license: see LICENSE.
# fdholder: holding a TCP connection across restarts, and what goes wrong.
. "$(dirname "$0")/lib.sh"
TESTS=$(cd "$(dirname "$0")" && pwd)
FAKE="python3 $TESTS/holder.py"

# holders: how many fdholders serve ./ctl.
holders() {
	pgrep -c -f "fdholder -s $PWD/ctl " || true
}

# at_least FILE N: FILE has N lines or more.
at_least() {
	[ "$(cat "$1" 2>/dev/null | wc -l)" -ge "$2" ]
}

# gated N BATCH GATE: print 1..N, BATCH lines at a time, each batch once
# GATE has one line more than before (a line per restart): such a stream
# lasts as many restarts as it has batches, however fast or slow the
# machine.  Paced by progress, never by the clock.
gated() {
	local i=0 k=0
	while [ "$i" -lt "$1" ]; do
		wait_for 60 at_least "$3" "$k"
		seq $((i + 1)) $((i + $2))
		i=$((i + $2))
		k=$((k + 1))
	done
}

# fake STEP ARG ...: a scripted peer (holder.py), its pid in $FAKE_PID,
# its progress in ./fake; wait until it printed STEP.
fake() {
	local step=$1
	shift
	bg $FAKE "$@" >fake 2>fake.err
	FAKE_PID=$!
	wait_for 10 grep -q "^$step" fake
}

# The demonstration: a server streams 1..N and fdholder is restarted from
# a shell loop, each successor started the way an ops person would, until
# the stream is over and at least 50 times while it flows.  The stream is
# paced by the restarts, not by the clock: it comes in 60 parts, each at
# full speed once the loop counted one more restart (./restarted), so that
# it outlasts 59 restarts on a machine of any speed.
restart_stream() {
	local n=20000000 want restarts=0 during=0 cur
	want=$(seq 1 "$n" | wc -c)
	serve "$n" -g restarted -s 60
	hold
	cur=$HOLDER
	# The first holder owns the control socket before anyone restarts
	# it (started at once, the second could bind it first).
	wait_for 10 test -S ctl
	while [ "$(stat -c %s data)" -lt "$want" ]; do
		[ "$restarts" -lt 5000 ] || fail "stream never ended"
		hold
		reap 10 "$cur"
		[ "$RC" = 0 ] || fail "holder $cur exited $RC: $(cat errs)"
		cur=$HOLDER
		restarts=$((restarts + 1))
		[ "$(stat -c %s data)" -ge "$want" ] || during=$((during + 1))
		echo "$restarts" >>restarted
	done
	t_note "N=$n restarts=$restarts during the stream=$during"
	[ "$during" -ge 50 ] || fail "only $during restarts during the stream"
	[ "$(holders)" = 1 ] || fail "$(holders) holders left"
	seq 1 "$n" | cmp - data
	server_done
	reap 10 "$cur"
	[ "$RC" = 0 ] || fail "last holder exited $RC"
	[ ! -e ctl ] || fail "control socket left behind"
	[ ! -s errs ] || fail "errors: $(cat errs)"
}

# The classic: a chat server (Debian's ncat), another client sending the
# numbers; fdholder restarted while they flow.
# listening PORT: something listens on 127.0.0.1 PORT.
listening() {
	ss -ltnH "sport = :$1" | grep -q .
}

chat_port() {
	local try
	for try in 1 2 3 4 5 6 7 8; do
		PORT=$((20000 + RANDOM % 30000))
		bg ncat -l --chat 127.0.0.1 "$PORT"
		SERVER=$!
		sleep 0.2
		kill -0 "$SERVER" 2>/dev/null || continue
		wait_for 5 listening "$PORT"
		return 0
	done
	fail "no free port for ncat"
}

# The sender goes batch by batch, each once the loop counted one more
# restart: 100 batches, 99 restarts between them, on any machine.
chat_send() {
	gated "$1" 200 restarted | ncat 127.0.0.1 "$PORT" >/dev/null
	echo "${PIPESTATUS[*]}" >sent
}

chat() {
	local n=20000 restarts=0 sender cur
	chat_port
	hold
	cur=$HOLDER
	wait_for 5 grep -q "is connected as" data
	bg chat_send "$n"
	sender=$!
	while kill -0 "$sender" 2>/dev/null && [ "$restarts" -lt 500 ]; do
		hold
		reap 10 "$cur"
		[ "$RC" = 0 ] || fail "holder $cur exited $RC: $(cat errs)"
		cur=$HOLDER
		restarts=$((restarts + 1))
		echo "$restarts" >>restarted
		sleep 0.01
	done
	wait_for 10 grep -q "is disconnected" data
	t_note "ncat --chat: N=$n restarts=$restarts"
	[ "$(cat sent)" = "0 0" ] || fail "sender: $(cat sent)"
	[ "$restarts" -ge 99 ] || fail "only $restarts restarts"
	# ncat prefixes what it relays with "<userK> ", anywhere in a line.
	sed 's/<user[0-9]*> //g' data | grep -v '^<announce>' | cmp - <(seq 1 "$n")
	# One connection of ours: announced once, never disconnected.
	[ "$(grep -c 'is connected as' data)" = 2 ] || fail "$(grep announce data)"
	[ "$(grep -c 'is disconnected' data)" = 1 ] || fail "$(grep announce data)"
	[ "$(holders)" = 1 ] || fail "$(holders) holders left"
	kill "$SERVER"
	reap 10 "$cur"
	[ "$RC" = 0 ] || fail "holder exited $RC"
	[ ! -e ctl ] || fail "control socket left behind"
}

# The real holder, and a scripted successor killed at STEP.  Until it
# confirmed, the holder keeps everything and goes on; once it confirmed,
# the holder is gone, and so is the connection: nothing is written twice.
succ_killed() {
	local step=$1 n=300000 before
	serve "$n" -r 200000
	hold
	wait_for 10 lines 1000
	before=$(nfds "$HOLDER")
	fake "$step" succ "$PWD/ctl" "$step"
	kill -KILL "$FAKE_PID"
	if [ "$step" = confirmed ]; then
		reap 10 "$HOLDER"
		[ "$RC" = 0 ] || fail "holder exited $RC"
		seq 1 "$n" | head -n "$(wc -l <data)" | cmp - data
		[ "$(tail -c 1 data | od -An -c | tr -d ' ')" = '\n' ] ||
		    fail "a line cut short"
		# The path went with the successor, stale now: the next
		# holder replaces it, and connects anew.
		[ -S ctl ] || fail "control socket removed"
		hold
		reap 10 "$HOLDER"
		[ "$RC" = 0 ] || fail "new holder exited $RC: $(cat errs)"
		[ ! -e ctl ] || fail "control socket left behind"
		server_done 2
		return 0
	fi
	# The holder closes the successor's socket once it sees it gone.
	wait_for 10 eval '[ "$(nfds "$HOLDER")" = "$before" ]'
	kill -0 "$HOLDER" || fail "holder gone"
	wait_for 10 lines "$n"
	seq 1 "$n" | cmp - data
	server_done
	reap 10 "$HOLDER"
	[ "$RC" = 0 ] || fail "holder exited $RC"
}
succ_connected()	{ succ_killed connected; }
succ_asked()		{ succ_killed asked; }
succ_received()		{ succ_killed received; }
succ_confirmed()	{ succ_killed confirmed; }

# A scripted holder, killed at STEP, and the real successor.  Once the
# holder sent its state, the successor owns it and writes every byte the
# holder had not; before that, the connection died with the holder and
# the successor starts a new one.
holder_killed() {
	local step=$1 n=200000 a=1000 b=3000 c=5000
	serve "$n" -r 100000
	fake listening holder "$PWD/ctl" 127.0.0.1 "$PORT" "$step" $a $b $c
	hold
	if [ "$step" = listening ] || [ "$step" = asked ]; then
		# The connection died with its holder; the successor made a
		# new one (which this server closes at once).
		reap 20 "$HOLDER"
		[ "$RC" = 0 ] || fail "successor exited $RC: $(cat errs)"
		[ ! -s data ] || fail "successor wrote $(wc -c <data) bytes"
		server_done 2
	else
		seq 1 "$n" | tail -c +$((a + 1)) >want
		wait_for 10 lines "$(wc -l <want)"
		cmp want data
		grep -q "^$step" fake || fail "holder said $(cat fake)"
		server_done
		reap 10 "$HOLDER"
		[ "$RC" = 0 ] || fail "successor exited $RC: $(cat errs)"
	fi
	[ ! -e ctl ] || fail "control socket left behind"
}
holder_listening()	{ holder_killed listening; }
holder_asked()		{ holder_killed asked; }
holder_sent()		{ holder_killed sent; }
holder_confirmed()	{ holder_killed confirmed; }

both_lines() {
	[ "$(cat early data | wc -l)" -ge "$1" ]
}

# fifo_full FD: the pipe on FD holds as much as it can.
fifo_full() {
	python3 -c 'import fcntl, struct, sys, termios
fd = int(sys.argv[1])
n = struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0" * 4))[0]
sys.exit(n < fcntl.fcntl(fd, 1032))' "$1"	# F_GETPIPE_SZ
}

# The old holder's standard output is a full pipe nobody reads: it still
# hands over at once, and its successor writes what it had not.
blocked_stdout() {
	local n=400000 old
	serve "$n"
	mkfifo fifo
	exec 7<>fifo
	bg fdholder -s "$PWD/ctl" 127.0.0.1 "$PORT" >fifo 7>&-
	old=$!
	wait_for 10 fifo_full 7
	hold 7>&-
	reap 5 "$old"
	[ "$RC" = 0 ] || fail "blocked holder exited $RC"
	# Read what the old one left in the fifo, to its end.
	exec 6<fifo 7>&-
	bg timeout 10 cat <&6 >early
	exec 6<&-
	reap 10 "$!"
	[ -s early ] || fail "nothing was blocked"
	[ "$(head -n 1 data)" != 1 ] || fail "nothing was handed over"
	wait_for 10 both_lines "$n"
	cat early data | cmp - <(seq 1 "$n")
	server_done
}

# Two successors while a handoff runs: the second is told "busy" and
# touches nothing; the holder goes on when the first vanishes.
busy() {
	local n=200000
	serve "$n" -r 100000
	hold
	wait_for 10 lines 1000
	fake received succ "$PWD/ctl" received
	must_fail 1 fdholder -s "$PWD/ctl" 127.0.0.1 "$PORT"
	expect_err err "fdholder: $PWD/ctl: busy: another successor is taking over"
	[ ! -s out ] || fail "the busy one wrote $(wc -c <out) bytes"
	kill -KILL "$FAKE_PID"
	sleep 0.1
	kill -0 "$HOLDER" || fail "holder gone"
	wait_for 10 lines "$n"
	seq 1 "$n" | cmp - data
	server_done
	reap 10 "$HOLDER"
	[ "$RC" = 0 ] || fail "holder exited $RC"
}

# Two real successors at the same moment: one takes over, the other is
# told "busy" or takes over from the winner; one holder is left.
two_at_once() {
	local n=300000 first a b left
	serve "$n" -r 150000
	hold
	first=$HOLDER
	wait_for 10 lines 1000
	hold
	a=$HOLDER
	hold
	b=$HOLDER
	reap 10 "$first"
	[ "$RC" = 0 ] || fail "first holder exited $RC"
	wait_for 10 eval '[ "$(holders)" = 1 ]'
	left=$(pgrep -f "fdholder -s $PWD/ctl ")
	[ "$left" = "$a" ] || [ "$left" = "$b" ] || fail "left: $left"
	reap 10 "$([ "$left" = "$a" ] && echo "$b" || echo "$a")"
	# The loser was told busy, or took over and handed over in turn.
	if [ "$RC" = 1 ]; then
		expect_err errs "busy: another successor is taking over"
	else
		[ "$RC" = 0 ] || fail "loser exited $RC"
	fi
	wait_for 10 lines "$n"
	seq 1 "$n" | cmp - data
	server_done
	reap 10 "$left"
}

# The server closes: the holder writes what it has, removes the control
# socket and exits 0.
server_closes() {
	serve 1000
	hold
	wait_for 10 lines 1000
	kill -0 "$HOLDER" || fail "holder ended with the stream"
	server_done
	reap 5 "$HOLDER"
	[ "$RC" = 0 ] || fail "holder exited $RC"
	[ ! -e ctl ] || fail "control socket left behind"
	seq 1 1000 | cmp - data
	[ ! -s errs ] || fail "errors: $(cat errs)"
}

# -i: standard input goes to the connection, through every restart, in
# order; -N: its end shuts the connection down.
stdin_copied() {
	local n=30000 restarts=0 cur new
	serve 0 -e
	mkfifo in
	exec 8<>in
	bg fdholder -i -N -s "$PWD/ctl" 127.0.0.1 "$PORT" <in >>data \
	    2>>errs 8>&-
	cur=$!
	# The first holder owns the control socket before anyone restarts
	# it: started at once, the second could claim it first, and the
	# first would then take over from it and live on.
	wait_for 10 test -S ctl
	# 30 batches, each once the loop counted one more restart.
	bg gated "$n" 1000 restarted >&8
	while [ "$(wc -l <data)" -lt "$n" ] && [ "$restarts" -lt 500 ]; do
		bg fdholder -i -N -s "$PWD/ctl" 127.0.0.1 "$PORT" <in \
		    >>data 2>>errs 8>&-
		new=$!
		reap 10 "$cur"
		[ "$RC" = 0 ] || fail "holder $cur exited $RC: $(cat errs)"
		cur=$new
		restarts=$((restarts + 1))
		echo "$restarts" >>restarted
		sleep 0.01
	done
	t_note "-i -N: N=$n restarts=$restarts"
	[ "$restarts" -ge 29 ] || fail "only $restarts restarts"
	exec 8>&-
	reap 10 "$cur"
	[ "$RC" = 0 ] || fail "holder exited $RC: $(cat errs)"
	seq 1 "$n" | cmp - data
	server_done
	[ ! -e ctl ] || fail "control socket left behind"
}

# IPv6 and an abstract control socket.
ipv6_abstract() {
	local sock=@fdholder-test-$$
	serve 5000 -6
	bg fdholder -s "$sock" ::1 "$PORT" >data
	HOLDER=$!
	wait_for 10 lines 5000
	bg fdholder -s "$sock" ::1 "$PORT" >>data
	reap 5 "$HOLDER"
	[ "$RC" = 0 ] || fail "holder exited $RC"
	server_done
	reap 5 "$(tail -n 1 pids)"
	seq 1 5000 | cmp - data
}

# A successor started with another host or port than the connection goes
# to refuses it before it confirms: the holder resumes, nothing is lost.
# A name that resolves to the connection's address is that address.
other_port() {
	local n=100000 old msg
	serve "$n" -r 50000
	hold
	wait_for 10 lines 1000
	must_fail 1 fdholder -s "$PWD/ctl" 127.0.0.1 $((PORT + 1))
	msg="holds a connection to 127.0.0.1:$PORT, not 127.0.0.1:$((PORT + 1))"
	expect_err err "fdholder: $PWD/ctl: $msg"
	[ ! -s out ] || fail "the refused one wrote $(wc -c <out) bytes"
	must_fail 1 fdholder -s "$PWD/ctl" ::1 "$PORT"
	expect_err err "holds a connection to 127.0.0.1:$PORT, not [::1]:$PORT"
	must_fail 111 fdholder -s "$PWD/ctl" no-such-host.invalid "$PORT"
	expect_err err "fdholder: no-such-host.invalid port $PORT: "
	kill -0 "$HOLDER" || fail "holder gone"
	old=$HOLDER
	bg fdholder -s "$PWD/ctl" localhost "$PORT" >>data 2>>errs
	HOLDER=$!
	reap 10 "$old"
	[ "$RC" = 0 ] || fail "holder exited $RC: $(cat errs)"
	wait_for 10 lines "$n"
	seq 1 "$n" | cmp - data
	server_done
	reap 10 "$HOLDER"
	[ "$RC" = 0 ] || fail "successor exited $RC: $(cat errs)"
	[ ! -s errs ] || fail "errors: $(cat errs)"
}

connect_refused() {
	must_fail 111 fdholder -s "$PWD/ctl" 127.0.0.1 1
	expect_err err "fdholder: connect 127.0.0.1 port 1: Connection refused"
	[ ! -e ctl ] || fail "control socket left behind"
	must_fail 111 fdholder -s "$PWD/ctl" localhost 1
	expect_err err "fdholder: connect localhost port 1: Connection refused"
	must_fail 111 fdholder -s "$PWD/ctl" no-such-host.invalid 80
	expect_err err "fdholder: no-such-host.invalid port 80: "
	[ ! -e ctl ] || fail "control socket left behind"
}

# A successor of another uid is refused and told why; the holder logs it.
other_uid() {
	local sock=@fdholder-test-$$
	mkdir -m 755 pub
	cp "$BIN/fdholder" pub/
	chmod 755 . pub pub/fdholder
	serve 100000 -r 50000
	bg fdholder -s "$sock" 127.0.0.1 "$PORT" >data 2>herr
	HOLDER=$!
	wait_for 10 lines 1000
	must_fail 1 setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    pub/fdholder -s "$sock" 127.0.0.1 "$PORT"
	expect_err err "fdholder: $sock: uid 65534 not allowed to take over"
	expect_err herr "fdholder: $sock: refused successor uid 65534"
	wait_for 10 lines 100000
	seq 1 100000 | cmp - data
	server_done
}

# -u take:user lets that user's successor take over.
other_uid_allowed() {
	local sock=@fdholder-test-$$
	mkdir -m 755 pub
	cp "$BIN/fdholder" pub/
	chmod 755 . pub pub/fdholder
	: >data
	chmod 666 data
	serve 100000 -r 50000
	bg fdholder -u take:nobody -s "$sock" 127.0.0.1 "$PORT" >>data
	HOLDER=$!
	wait_for 10 lines 1000
	bg setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    pub/fdholder -s "$sock" 127.0.0.1 "$PORT" >>data
	reap 10 "$HOLDER"
	[ "$RC" = 0 ] || fail "holder exited $RC"
	wait_for 10 lines 100000
	seq 1 100000 | cmp - data
	server_done
}

# A connected successor that never asks is dropped after -t.
# A successor that sent part of its request and waits: the holder goes on
# copying without spinning on the partial frame, then drops it after -t.
half_request() {
	local t0 t1
	serve 100000 -r 20000
	hold -t 2
	wait_for 10 lines 1000
	t0=$(awk '{ print $14 + $15 }' "/proc/$HOLDER/stat")
	python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"FD\x01")
s.settimeout(30)
s.recv(4096)' "$PWD/ctl"
	t1=$(awk '{ print $14 + $15 }' "/proc/$HOLDER/stat")
	wait_for 5 grep -q "request timed out; resumed" errs
	t_note "holder CPU while a successor held half a frame for 2 s:" \
	    "$((t1 - t0)) ticks (streaming 20000 lines/s meanwhile)"
	[ $((t1 - t0)) -lt 50 ] || fail "holder spun: $((t1 - t0)) ticks"
	hold -t 2
	wait_for 10 lines 100000
	seq 1 100000 | cmp - data
	server_done
}

# A holder with no fd left (its RLIMIT_NOFILE lowered to its lowest free fd)
# and a successor connecting: the holder neither spins on accept's EMFILE
# nor leaves the successor waiting.  The successor is refused at once with
# the limit named, the holder says the same in its log and goes on; once
# the limit is raised, a successor takes over.
fd_limit() {
	local t0 t1 n
	serve 100000 -r 20000
	hold -t 2
	wait_for 10 lines 1000
	# Its lowest free fd number is its limit: nothing more can open.
	n=0
	while [ -e "/proc/$HOLDER/fd/$n" ]; do
		n=$((n + 1))
	done
	prlimit --pid "$HOLDER" --nofile="$n:"
	t0=$(awk '{ print $14 + $15 }' "/proc/$HOLDER/stat")
	must_fail 1 timeout 10 fdholder -t 2 -s "$PWD/ctl" 127.0.0.1 "$PORT"
	expect_err err "fdholder: $PWD/ctl: fd limit $n reached"
	sleep 1
	t1=$(awk '{ print $14 + $15 }' "/proc/$HOLDER/stat")
	t_note "holder CPU at its fd limit ($n) with a successor refused," \
	    "then 1 s: $((t1 - t0)) ticks (streaming 20000 lines/s)"
	[ $((t1 - t0)) -lt 50 ] || fail "holder spun: $((t1 - t0)) ticks"
	expect_err errs "fdholder: $PWD/ctl: fd limit $n reached (RLIMIT_NOFILE): refused"
	kill -0 "$HOLDER" || fail "holder gone"
	prlimit --pid "$HOLDER" --nofile=$((n + 8)):
	old=$HOLDER
	hold -t 2
	reap 10 "$old"
	[ "$RC" = 0 ] || fail "old holder exited $RC: $(cat errs)"
	wait_for 10 lines 100000
	seq 1 100000 | cmp - data
}

# A successor that shuts down its writing side mid-header is told code 2
# at once (fdproto(7)), not timed out after -t; the holder goes on.
half_closed_request() {
	serve 1000
	hold -t 10
	wait_for 10 lines 1000
	python3 -c 'import socket, struct, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"FD\x01")
s.shutdown(socket.SHUT_WR)
s.settimeout(5)
h = s.recv(12)
print(struct.unpack(">H", s.recv(2))[0], s.recv(100).decode())' \
	    "$PWD/ctl" >ans
	[ "$(cat ans)" = "2 peer closed mid-frame" ] || fail "told: $(cat ans)"
	kill -0 "$HOLDER"
	server_done
}

# -S with a service manager's fd store (fakesd.py plays systemd): the
# whole service is killed with SIGKILL and started again, five times while
# the stream flows; each new holder takes the connection and the pipe back
# from LISTEN_FDS.  One connection, every byte once; the store emptied at
# the end.  The stream comes in six parts, each once the one before was
# written and the service killed again (./restarted): paced by progress.
systemd_store() {
	local i n=3000000 want size pid
	want=$(seq 1 "$n" | wc -c)
	serve "$n" -g restarted -s 6
	: >data
	bg python3 "$TESTS/fakesd.py" "$PWD/notify" "$PWD/data" -- \
	    fdholder -S -s "$PWD/ctl" 127.0.0.1 "$PORT" >sd 2>sd.err
	SD=$!
	size=0
	for i in 1 2 3 4 5; do
		wait_for 20 grows data "$size"
		pid=$(pgrep -P "$SD")
		kill -USR1 "$SD"
		# One signal at a time: fakesd restarts once for several.
		wait_for 10 eval 'p=$(pgrep -P "$SD") && [ "$p" != "$pid" ]'
		size=$(stat -c %s data)
		[ "$size" -lt "$want" ] || fail "stream ended too soon"
		echo "$i" >>restarted
	done
	wait_for 30 grows data $((want - 1))
	seq 1 "$n" | cmp - data
	server_done
	wait_exit 10 "$SD"
	[ "$(cat sd)" = "exit 0 restarts 5 stored nothing" ] ||
	    fail "$(cat sd) $(cat sd.err)"
}

# -S with standard output a file opened for appending (>>, as systemd's
# StandardOutput=append: opens it): the holder is killed with SIGKILL at
# the very instant it moves bytes to its output (strace injects the kill at
# the entry of its 3rd write(2) or its 5th splice(2)), again and again,
# and the service manager starts it again each time (Restart=on-abnormal).
# No byte lost, none repeated.  Before, the holder read the pipe into
# memory because splice(2) refuses O_APPEND files, and a kill before the
# write lost up to 64 KiB each time.
systemd_store_killed_writing() {
	local n=2000000 restarts want i
	serve "$n"
	: >data
	bg python3 "$TESTS/fakesd.py" -r "$PWD/notify" "$PWD/data" -- \
	    env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	    strace -D -qq -o /dev/null -e trace=write,splice \
	    -e inject=write:signal=KILL:when=3 \
	    -e inject=splice:signal=KILL:when=5 \
	    fdholder -S -s "$PWD/ctl" 127.0.0.1 "$PORT" >sd 2>sd.err
	SD=$!
	want=$(seq 1 "$n" | wc -c)
	# The stream takes a few seconds; a holder that lost bytes never
	# gets there, and the check below says how many are missing.
	for i in $(seq 1 300); do
		[ "$(stat -c %s data)" -lt "$want" ] || break
		sleep 0.1
	done
	[ "$(stat -c %s data)" -ge "$want" ] ||
	    fail "$(seq 1 "$n" | grep -cvxFf data) of $n lines missing"
	server_done
	wait_exit 20 "$SD"
	restarts=$(sed -n 's/^exit 0 restarts \([0-9]*\) stored nothing$/\1/p' sd)
	[ -n "$restarts" ] || fail "$(cat sd) $(cat sd.err)"
	[ "$restarts" -ge 3 ] || fail "only $restarts kills landed"
	seq 1 "$n" | cmp - data
	t_note "$restarts kills while writing out, every line once"
}

# Appending (>>) beside another process that appends to the same file
# through its own O_APPEND descriptor, one record a write, for 1.5 s while
# the stream flows: both writers' bytes all there, each write whole, the
# file as long as the two together.  Before, the holder wrote at the size
# fstat(2) gave, over the records appended since.
APPENDER="python3 $TESTS/appender.py"
append_shared() {
	local n=1000000 count
	serve "$n" -B 4000000
	: >data
	hold
	wait_for 10 grows data 100000
	set -- $($APPENDER append data 1.5)
	count=$1
	wait_for 20 grows data $(($(seq 1 "$n" | wc -c) + $2 - 1))
	server_done
	reap 10 "$HOLDER"
	[ "$RC" = 0 ] || fail "holder exited $RC: $(cat errs)"
	$APPENDER check data "$n" "$count" >check || fail "$(cat check)"
	t_note "$count records appended beside the holder, none lost"
}

# copytruncate, as logrotate does it: the file copied and truncated every
# 3 ms while the holder appends 20 MB/s: no hole of NUL bytes in any copy.
# strace holds the holder 1 ms after each fstat(2), where a write at the
# size it gave lands beyond the end if the file was truncated meanwhile.
append_truncated() {
	local n=5000000 res
	serve "$n" -B 20000000
	: >data
	bg strace -o /dev/null -qq -e trace=fstat,newfstatat \
	    -e inject=fstat,newfstatat:delay_exit=1000 \
	    env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	    "$BIN/fdholder" -s "$PWD/ctl" 127.0.0.1 "$PORT" >>data 2>>errs
	HOLDER=$!
	wait_for 10 grows data 100000
	res=$($APPENDER truncate data 1.5 3)
	t_note "truncations, copies with NUL bytes: $res"
	[ "${res#* }" = 0 ] || fail "$res: holes of NUL bytes"
	! grep -qaP '\x00' data || fail "NUL bytes in the file"
	server_done
	reap 10 "$HOLDER"
	[ "$RC" = 0 ] || fail "holder exited $RC: $(cat errs)"
	[ ! -s errs ] || fail "errors: $(cat errs)"
}

# -S, appending beside another writer, killed again and again by strace
# at the instant between its append and the record of it (the entry of
# its 2nd pwrite(2)) or at its 4th splice(2) (moving bytes in from the
# socket, or consuming those appended): the holder started again finds
# whether the last append landed and consumes it rather than write it
# twice.  Every line of both writers once.
systemd_store_killed_appending() {
	local n=400000 want count restarts
	serve "$n" -B 1500000
	: >data
	bg python3 "$TESTS/fakesd.py" -r "$PWD/notify" "$PWD/data" -- \
	    env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	    strace -D -qq -o /dev/null -e trace=pwrite64,splice \
	    -e inject=pwrite64:signal=KILL:when=2 \
	    -e inject=splice:signal=KILL:when=4 \
	    fdholder -S -s "$PWD/ctl" 127.0.0.1 "$PORT" >sd 2>sd.err
	SD=$!
	wait_for 10 grows data 10000
	set -- $($APPENDER append data 1.5)
	count=$1
	want=$(($(seq 1 "$n" | wc -c) + $2))
	wait_for 30 grows data $((want - 1))
	$APPENDER check data "$n" "$count" >check || fail "$(cat check)"
	server_done
	wait_exit 20 "$SD"
	restarts=$(sed -n 's/^exit 0 restarts \([0-9]*\) stored nothing$/\1/p' sd)
	[ -n "$restarts" ] || fail "$(cat sd) $(cat sd.err)"
	[ "$restarts" -ge 3 ] || fail "only $restarts kills landed"
	t_note "$restarts kills while appending beside $count records, every line once"
}

# full_hold N: a holder of 127.0.0.1 $PORT on ./ctl, appending to data on
# a tmpfs of 1 MiB of its own (a private mount namespace) that a file of
# 700 KiB already fills in part; its pid in $HOLDER, the file system's
# directory, seen from here, in $FS (through a sleep that stays in the
# namespace when the holder is gone).
full_hold() {
	mkdir fs
	bg unshare -m sh -c 'mount -t tmpfs -o size=1m tmpfs fs &&
	    head -c 700k /dev/zero >fs/filler &&
	    { sleep 60 & echo $! >keeper; } &&
	    exec fdholder -s "$1" 127.0.0.1 "$2" >>fs/data' sh \
	    "$PWD/ctl" "$PORT" 2>>errs
	HOLDER=$!
	wait_for 10 test -s keeper
	defer "kill $(cat keeper)"
	FS=/proc/$(cat keeper)/root$PWD/fs
}

# cpu PID: the user and system ticks PID has used.
cpu() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# Standard output on a full file system (ENOSPC): the holder keeps the
# bytes in its pipe and the connection, says so once, does not spin, and
# writes on, every byte once, when there is room again.  Before, it exited
# 111 and the connection and the bytes went with it.
enospc_retry() {
	local n=100000 t0 t1
	serve "$n"
	full_hold
	wait_for 10 grep -q "No space left on device" errs
	kill -0 "$HOLDER" || fail "holder gone: $(cat errs)"
	t0=$(cpu "$HOLDER")
	sleep 1
	t1=$(cpu "$HOLDER")
	t_note "holder CPU for 1 s on a full file system: $((t1 - t0)) ticks"
	[ $((t1 - t0)) -lt 20 ] || fail "holder spun: $((t1 - t0)) ticks"
	expect_err errs "fdholder: write standard output: No space left on device; holding "
	[ "$(grep -c "No space" errs)" = 1 ] || fail "said more than once: $(cat errs)"
	rm "$FS/filler"
	wait_for 10 grows "$FS/data" $(($(seq 1 "$n" | wc -c) - 1))
	seq 1 "$n" | cmp - "$FS/data"
	expect_err errs "fdholder: write standard output: writing again"
	server_done
	reap 10 "$HOLDER"
	[ "$RC" = 0 ] || fail "holder exited $RC: $(cat errs)"
}

# The same, and a successor whose output has room takes over: it writes
# everything the holder could not.
enospc_successor() {
	local n=100000 old
	serve "$n"
	full_hold
	old=$HOLDER
	wait_for 10 grep -q "No space left on device" errs
	hold
	reap 10 "$old"
	[ "$RC" = 0 ] || fail "full holder exited $RC: $(cat errs)"
	wait_for 10 eval '[ "$(cat "$FS/data" data | wc -l)" -ge "$n" ]'
	cat "$FS/data" data | cmp - <(seq 1 "$n")
	server_done
	reap 10 "$HOLDER"
	[ "$RC" = 0 ] || fail "successor exited $RC: $(cat errs)"
}

# Standard output a pipe whose reader is gone (EPIPE): the holder keeps the
# connection and what it has not written, and a successor writes on from
# there.  Before, the holder exited 111 and the server saw a reset.
epipe_kept() {
	local n=200000 old
	serve "$n" -r 50000
	bg bash -c 'fdholder -s "$1" 127.0.0.1 "$2" 2>>errs | head -c 10000 \
	    >early; echo "${PIPESTATUS[0]}" >status' sh "$PWD/ctl" "$PORT"
	old=$!
	wait_for 10 grep -q "Broken pipe; holding" errs
	[ "$(holders)" = 1 ] || fail "holder gone: $(cat errs)"
	hold
	reap 10 "$old"
	[ "$(cat status)" = 0 ] || fail "old holder exited $(cat status)"
	wait_for 20 eval '[ "$(tail -n 1 data)" = "$n" ]'
	# What the dead reader had not read, in its pipe, went with it; the
	# rest comes once, in order, to the end.
	seq 1 "$n" | tail -n "$(wc -l <data)" | cmp - data
	t_note "the reader read $(wc -c <early) bytes; lines in its pipe when it" \
	    "exited, lost: $(($(head -n 1 data) - $(wc -l <early) - 1))"
	server_done
	reap 10 "$HOLDER"
	[ "$RC" = 0 ] || fail "successor exited $RC: $(cat errs)"
}

# Under a service manager (NOTIFY_SOCKET), the holder and the store say
# READY=1 and what they hold in STATUS=, so that a unit of Type=notify
# starts (a datagram socket here reads what systemd would).
ready_twice() {
	[ "$(grep -c READY notes)" = 2 ]
}
notify_ready() {
	serve 100
	bg python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(10)
for i in range(2):
    print(s.recv(4096).decode().replace("\n", "|"), flush=True)
' "$PWD/notify" >notes
	wait_for 5 test -S notify
	NOTIFY_SOCKET=$PWD/notify hold
	wait_for 5 grep -q READY notes
	NOTIFY_SOCKET=$PWD/notify bg fdholder -s "$PWD/store"
	wait_for 5 ready_twice
	cat >want <<-EOT
	READY=1|STATUS=holding a connection to 127.0.0.1 port $PORT
	READY=1|STATUS=store of named fds: 0 entries, 0 fds
	EOT
	diff -u want notes
}

# The connection holder under valgrind's memcheck: a stream, a successor
# refused for being busy, a handoff; no error, no leak, no fd left.
memcheck() {
	local vgpid vg="valgrind -q --error-exitcode=9 --leak-check=full \
	    --errors-for-leak-kinds=definite,indirect --track-fds=yes"
	serve 200000 -r 100000
	bg $vg "$BIN/fdholder" -s "$PWD/ctl" 127.0.0.1 "$PORT" >>data 2>verr
	vgpid=$!
	wait_for 30 lines 1000
	hold
	wait_exit 30 "$vgpid"
	[ "$RC" = 0 ] || { cat verr; fail "holder under valgrind: $RC"; }
	awk '/Open file descriptor [0-9]+:/ { fd = $0; getline;
	    if ($0 !~ /inherited from parent/) { print fd; bad = 1 } }
	    END { exit bad }' verr || fail "fd open at exit: $(cat verr)"
	wait_for 20 lines 200000
	seq 1 200000 | cmp - data
	server_done
}

silent_successor() {
	serve 100000 -r 50000
	hold -t 0.5
	wait_for 10 lines 1000
	fake connected succ "$PWD/ctl" connected
	wait_for 5 grep -q "request timed out; resumed" errs
	hold -t 0.5
	wait_for 10 lines 100000
	seq 1 100000 | cmp - data
	server_done
}

# (LeakSanitizer cannot run under strace: the traced holders of the
# sanitizer build check no leaks.)

# pstate PID: the process's state letter (R, S, T for stopped, ...).
pstate() {
	awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null
}

# policy PID: PID's scheduling policy (its stat's field 41): 0 normal,
# 3 batch.
policy() {
	sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $39 }'
}

# traced CALL INJECTION ERR: a holder with -t 0.5 on ./ctl, appending to
# ./data and to ERR, run by strace with -e inject=CALL:INJECTION; the pid
# (strace's) in $TRACED.
traced() {
	bg strace -o /dev/null -qq -e trace="$1" -e inject="$1:$2" \
	    env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	    "$BIN/fdholder" -t 0.5 -s "$PWD/ctl" 127.0.0.1 "$PORT" \
	    >>data 2>>"$3"
	TRACED=$!
}

# A handoff is one and a half round trips: TAKE, HANDOFF, then the
# successor's ACK, after which it reads at once; the holder never waits
# for its own verdict to reach anyone.  Shown with the holder stopped
# (SIGSTOP, injected by strace as its HANDOFF leaves) for as long as the
# rest of the stream takes: the successor delivers it all meanwhile.
holder_stopped() {
	local n=100000 st old
	serve "$n" -r 20000
	bg strace -o strace.out -qq -e trace=sendmsg \
	    -e inject=sendmsg:signal=SIGSTOP:when=1 \
	    env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	    "$BIN/fdholder" -s "$PWD/ctl" 127.0.0.1 "$PORT" >>data 2>>errs
	STRACE=$!
	wait_for 10 lines 1000
	old=$(pgrep -P "$STRACE" fdholder)
	hold
	wait_for 10 eval '[ "$(pstate "$old")" = t ] ||
	    [ "$(pstate "$old")" = T ]'
	wait_for 30 lines "$n"
	st=$(pstate "$old")
	[ "$st" = t ] || [ "$st" = T ] || fail "holder not stopped: $st"
	kill -CONT "$old"
	reap 10 "$STRACE"
	[ "$RC" = 0 ] || fail "old holder exited $RC: $(cat errs)"
	seq 1 "$n" | cmp - data
	server_done
	reap 10 "$HOLDER"
}

# The successor is late with its ACK (strace delays its second sendmsg
# past the holder's -t): the holder cuts it off and resumes, and the late
# successor, its ACK refused, touches nothing.  The holder's own ERROR
# frame (its second sendmsg) is held back until long after that ACK, so
# that only the cut, not the holder's closing, can refuse it.
late_ack_refused() {
	local n=100000 old succ
	serve "$n" -r 20000
	traced sendmsg delay_enter=1500000:when=2 errs
	old=$TRACED
	wait_for 10 lines 1000
	traced sendmsg delay_enter=800000:when=2 succ.err
	succ=$TRACED
	reap 10 "$succ"
	[ "$RC" != 0 ] || fail "late successor exited 0"
	expect_err succ.err "holder kept what it holds"
	expect_err errs "confirmation timed out; resumed"
	kill -0 "$old" || fail "holder gone"
	# It gave way while it waited; resumed, it runs as before.
	wait_for 5 eval '[ "$(policy "$(pgrep -P "$old" fdholder)")" = 0 ]'
	wait_for 30 lines "$n"
	seq 1 "$n" | cmp - data
	server_done
	reap 10 "$old"
}

# Once its HANDOFF is sent, the holder gives way to its successor: in the
# batch policy, its wake-up by the ACK does not take the successor's CPU
# (it stalled the stream 0.2 ms a restart).  strace holds the successor's
# ACK back 2 s to look at the holder meanwhile; the successor itself runs
# in the normal policy throughout.
gives_way() {
	local n=100000 old succ
	serve "$n" -r 20000
	hold
	wait_for 10 lines 1000
	old=$HOLDER
	[ "$(policy "$old")" = 0 ] || fail "holder starts in policy $(policy "$old")"
	bg strace -o /dev/null -qq -e trace=sendmsg \
	    -e inject=sendmsg:delay_enter=2000000:when=2 \
	    env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	    "$BIN/fdholder" -s "$PWD/ctl" 127.0.0.1 "$PORT" >>data 2>>errs
	succ=$!
	wait_for 10 eval '[ "$(policy "$old")" = 3 ]'
	reap 10 "$old"
	[ "$RC" = 0 ] || fail "old holder exited $RC: $(cat errs)"
	HOLDER=$(pgrep -P "$succ" fdholder) || fail "successor gone: $(cat errs)"
	[ "$(policy "$HOLDER")" = 0 ] || fail "successor in policy $(policy "$HOLDER")"
	wait_for 30 lines "$n"
	seq 1 "$n" | cmp - data
	server_done
	reap 10 "$succ"
	[ ! -s errs ] || fail "errors: $(cat errs)"
}

# The ACK comes while the holder is cutting it off (strace delays the
# holder's shutdown past the successor's late ACK): the ACK is in the
# queue, so the successor owns everything and the holder lets go.
ack_during_cut() {
	local n=100000 old
	serve "$n" -r 20000
	traced shutdown delay_enter=1500000 errs
	old=$TRACED
	wait_for 10 lines 1000
	traced sendmsg delay_enter=800000:when=2 errs
	HOLDER=$TRACED
	reap 10 "$old"
	[ "$RC" = 0 ] || fail "old holder exited $RC: $(cat errs)"
	kill -0 "$HOLDER" || fail "successor gone: $(cat errs)"
	wait_for 30 lines "$n"
	seq 1 "$n" | cmp - data
	server_done
	reap 10 "$HOLDER"
	[ ! -s errs ] || fail "errors: $(cat errs)"
}

removed_on_term() {
	serve 100
	hold
	wait_for 10 lines 100
	kill -TERM "$HOLDER"
	reap 5 "$HOLDER"
	[ ! -e ctl ] || fail "control socket left behind"
}

not_a_socket() {
	echo precious >ctl
	serve 100
	must_fail 111 fdholder -s ctl 127.0.0.1 "$PORT"
	expect_err err "fdholder: listen ctl: exists and is not a socket"
	[ "$(cat ctl)" = precious ] || fail "file changed"
}

usage() {
	must_fail 100 fdholder
	expect_err err "usage: fdholder [-hiNS]"
	must_fail 100 fdholder -s ctl host
	must_fail 100 fdholder -t x -s ctl host 1
	expect_err err "fdholder: timeout invalid: x"
	must_fail 100 fdholder -u nosuchop:root -s ctl host 1
	expect_err err "fdholder: unknown operation nosuchop: nosuchop:root"
	must_fail 100 fdholder -i -s ctl
	expect_err err "fdholder: -i and -N need a connection: host port"
	must_fail 100 fdholder -s "$(printf '%0200d' 0)" host 1
	expect_err err "File name too long"
}

t_case "restarted 50 times during a stream: 1..N once, in order" restart_stream
t_case "ncat --chat: one connection through the restarts" chat
t_case "successor killed before it asks: holder goes on" succ_connected
t_case "successor killed after it asked" succ_asked
t_case "successor killed after it received" succ_received
t_case "successor killed after it confirmed: clean end" succ_confirmed
t_case "holder killed before the successor asks: new connection" holder_listening
t_case "holder killed after the request: new connection" holder_asked
t_case "holder killed after it sent: successor owns all" holder_sent
t_case "holder killed after the confirmation" holder_confirmed
t_case "blocked standard output: unwritten bytes handed over" blocked_stdout
t_case "a second successor during a handoff is told busy" busy
t_case "two successors at once: one holder left, nothing lost" two_at_once
t_case "server closes: exit 0, control socket removed" server_closes
t_case "-i -N: standard input to the connection across restarts" stdin_copied
t_case "IPv6, abstract control socket" ipv6_abstract
t_case "a successor for another host or port refuses: nothing lost" other_port
t_case "connection refused, by number and by name; unknown host" connect_refused
t_case "successor of another uid refused" other_uid
t_case "-u take:nobody lets that uid take over" other_uid_allowed
t_case "a successor that never asks is dropped after -t" silent_successor
t_case "half a request: the holder waits without spinning" half_request
t_case "at its fd limit the holder refuses a successor, without spinning" fd_limit
t_case "a request half-closed mid-header: told code 2 at once" half_closed_request
t_case "-S: the service killed and restarted, connection from LISTEN_FDS" systemd_store
t_case "NOTIFY_SOCKET: READY=1 and STATUS= from holder and store" notify_ready
if command -v strace >/dev/null &&
    strace -qq -o /dev/null -e trace=none true 2>/dev/null; then
	t_case "-S, output opened with O_APPEND: killed while writing out, 0 bytes lost" systemd_store_killed_writing
else
	t_skip systemd_store_killed_writing "strace cannot trace here"
fi
t_case "standard output on a full file system: bytes kept, written once there is room" enospc_retry
t_case "standard output on a full file system: a successor with room writes them" enospc_successor
t_case "standard output a pipe with no reader: a successor writes on" epipe_kept
t_case ">> beside another appender: every record of both, none overwritten" append_shared
if have_strace; then
	t_case ">> under copytruncate every 3 ms: no hole of NUL bytes" append_truncated
else
	t_skip append_truncated "strace cannot trace here"
fi
if have_strace; then
	t_case "-S, >> beside another appender, killed between append and record or at a splice: every line once" systemd_store_killed_appending
else
	t_skip systemd_store_killed_appending "strace cannot trace here"
fi
if [ -z "${SAN:-}" ]; then
	t_case "valgrind memcheck: holder through a handoff" memcheck
else
	t_skip "valgrind memcheck" "sanitizer build"
fi
for c in "holder stopped after its handoff: the successor goes on:holder_stopped" \
    "a late ACK is refused: the holder resumes, the successor reads nothing:late_ack_refused" \
    "an ACK that arrives during the cut: the successor owns all:ack_during_cut" \
    "the holder gives way to its successor once it handed over:gives_way"; do
	if have_strace; then
		t_case "${c%:*}" "${c##*:}"
	else
		t_skip "${c%:*}" "strace cannot trace here"
	fi
done
t_case "control socket removed on SIGTERM" removed_on_term
t_case "a file that is not a socket is kept" not_a_socket
t_case "usage errors" usage
t_done
