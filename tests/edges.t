#!/bin/bash
# ISC license: see LICENSE.
# The process's edges: what a tool is started with (closed fds 0-2), what
# it shares with the shell (a terminal, a pipe), what it is handed (a
# connection that broke).  Each case failed before the fix it checks.
. "$(dirname "$0")/lib.sh"
TESTS=$(cd "$(dirname "$0")" && pwd)
SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")

# connected PORT: one established TCP connection to 127.0.0.1:PORT.
connected() {
	ss -tnH state established "dport = :$1" | grep -q .
}

# Standard output closed: before, the TCP connection landed on fd 1 and
# the server's data went back to the server.  Now the holder refuses
# before it connects.
stdout_closed() {
	local rc=0
	serve 1000 -R got
	timeout 5 fdholder -s "$PWD/ctl" 127.0.0.1 "$PORT" >&- 2>err || rc=$?
	[ "$rc" = 100 ] || fail "exit $rc, not 100: $(cat err)"
	expect_err err "fdholder: standard output is closed"
	! connected "$PORT" || fail "it connected"
	[ ! -e got ] || fail "the server got $(cat got) bytes back"
}

# Standard error closed: before, a silent client on the control socket
# made the holder's "request timed out" go into the TCP stream.
stderr_closed() {
	serve 100 -R got
	bg fdholder -t 1 -s "$PWD/ctl" 127.0.0.1 "$PORT" >data 2>&-
	HOLDER=$!
	wait_for 10 lines 100
	python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
time.sleep(2)' "$PWD/ctl"
	kill -TERM "$HOLDER"
	reap 10 "$HOLDER"
	wait_for 10 test -s got
	[ "$(cat got)" = 0 ] || fail "the server got $(cat got) bytes"
	seq 1 100 | cmp - data
	server_done
}

# -i with standard input closed: before, the connection was read as
# standard input and sent back to the server.
stdin_closed() {
	local rc=0
	serve 1000 -R got
	timeout 5 fdholder -i -s "$PWD/ctl" 127.0.0.1 "$PORT" <&- >data \
	    2>err || rc=$?
	[ "$rc" = 100 ] || fail "exit $rc, not 100: $(cat err)"
	expect_err err "fdholder: -i: standard input is closed"
	! connected "$PORT" || fail "it connected"
}

# fdrecv started with 0, 1 and 2 closed: the program it runs finds them
# on /dev/null, and the fd it was sent on 3 (before: 0-2 closed, the
# listening socket had taken fd 0).
fdrecv_closed() {
	bg fdrecv -t 10 "$PWD/s" python3 -c 'import os
with open("seen", "w") as f:
    for fd in range(4):
        print(os.readlink("/proc/self/fd/%d" % fd), file=f)
    print(os.environ["LISTEN_FDS"], file=f)' <&- >&- 2>&-
	local rcv=$!
	wait_for 10 test -S s
	echo x | fdsend -t 10 "$PWD/s" 0
	reap 10 "$rcv"
	[ "$RC" = 0 ] || fail "fdrecv exited $RC"
	[ "$(sed -n 1,3p seen | sort -u)" = /dev/null ] ||
	    fail "fds 0-2: $(cat seen)"
	sed -n 4p seen | grep -q '^pipe:' || fail "fd 3: $(cat seen)"
	[ "$(sed -n 5p seen)" = 1 ] || fail "LISTEN_FDS: $(cat seen)"
}

# fdsend with 0-2 closed still sends what it is told, and refuses to send
# a closed fd 0 (before: its own socket, which had landed there).
fdsend_closed() {
	local rc=0
	fdsend -t 2 "$PWD/s" 0 <&- 2>err || rc=$?
	[ "$rc" = 100 ] || fail "fdsend 0 with fd 0 closed: exit $rc"
	expect_err err "fdsend: fd 0: not open in the calling process"
	[ ! -e s ] || fail "it made the socket"
	exec 5<"$SELF"
	bg fdrecv -t 10 "$PWD/s" sh -c 'readlink /proc/$$/fd/3 >seen'
	local rcv=$!
	wait_for 10 test -S s
	fdsend -t 10 "$PWD/s" 5 <&- >&- 2>&-
	reap 10 "$rcv"
	[ "$RC" = 0 ] || fail "fdrecv exited $RC"
	[ "$(cat seen)" = "$SELF" ] || fail "fd 3: $(cat seen)"
}

# Holder and successor started from one shell on a terminal: after the
# handoff the terminal's flags are what they were (before: O_NONBLOCK left
# set, 04002, and the next big write in that shell failed with EAGAIN).
shared_tty() {
	serve 1000000 -r 200
	cat >script <<EOS
cd "$PWD"
grep flags /proc/\$\$/fdinfo/1 >before
fdholder -s "$PWD/ctl" 127.0.0.1 $PORT 2>>errs &
h1=\$!
echo \$h1 >>pids
for i in \$(seq 200); do
	ss -tnH state established "dport = :$PORT" | grep -q . && break
	sleep 0.05
done
fdholder -s "$PWD/ctl" 127.0.0.1 $PORT 2>>errs &
h2=\$!
echo \$h2 >>pids
wait \$h1
echo "old holder: \$?" >status
grep flags /proc/\$\$/fdinfo/1 >after
head -c 4000000 /dev/zero
echo "head: \$?" >>status
kill \$h2
wait \$h2
echo "successor: \$?" >>status
EOS
	python3 "$TESTS/inpty.py" 60 bash script >tty.out
	printf "old holder: 0\nhead: 0\nsuccessor: 143\n" | diff -u - status
	diff -u before after
	server_done
}

# A successor that could not write refuses before it asks: the old holder
# goes on with everything (before: it handed over and the successor died
# at its first write, with the connection).
succ_cannot_write() {
	local rc n
	serve 1000000 -r 2000
	hold
	wait_for 10 lines 200
	rc=0
	python3 -c 'import os, sys
r, w = os.pipe()
os.close(r)
os.dup2(w, 1)
os.execvp(sys.argv[1], sys.argv[1:])' fdholder -s "$PWD/ctl" 127.0.0.1 \
	    "$PORT" 2>err || rc=$?
	[ "$rc" = 111 ] || fail "pipe with no reader: exit $rc: $(cat err)"
	expect_err err "fdholder: standard output: a pipe with no reader"
	rc=0
	fdholder -s "$PWD/ctl" 127.0.0.1 "$PORT" 1<data 2>err || rc=$?
	[ "$rc" = 111 ] || fail "read-only output: exit $rc: $(cat err)"
	expect_err err "fdholder: standard output: open for reading only"
	if unshare -m true 2>/dev/null; then
		mkdir full
		rc=0
		unshare -m sh -c 'mount -t tmpfs -o size=64k none full &&
		    { head -c 1M /dev/zero >full/fill 2>/dev/null; :; } &&
		    exec fdholder -s "$1" 127.0.0.1 "$2" >>full/out' sh \
		    "$PWD/ctl" "$PORT" 2>err || rc=$?
		[ "$rc" = 111 ] || fail "full file system: exit $rc: $(cat err)"
		expect_err err "fdholder: standard output: no space left"
	else
		t_note "no mount namespace here: the full file system not tried"
	fi
	kill -0 "$HOLDER" || fail "the holder is gone"
	n=$(wc -l <data)
	wait_for 10 lines $((n + 200))
	kill -TERM "$SERVER"
	wait_exit 10 "$SERVER"
	wait_exit 10 "$HOLDER"
	[ "$RC" = 0 ] || fail "holder exited $RC: $(cat errs)"
	n=$(wc -l <data)
	seq 1 "$n" | cmp - data
}

# A holder whose connection broke (reset) with bytes still to write (its
# output a FIFO nobody reads yet) hands
# over; the successor writes them and exits 111, as the holder would have
# (before: 0, "the server closed it").
reset_handed_over() {
	python3 -c 'import os, socket, struct, sys, time
l = socket.socket()
l.bind(("127.0.0.1", 0))
l.listen(1)
with open("port.tmp", "w") as f:
    f.write("%d\n" % l.getsockname()[1])
os.rename("port.tmp", "port")
c, _ = l.accept()
c.settimeout(1)
try:
    c.sendall(b"".join(b"%d\n" % i for i in range(1, 100001)))
except socket.timeout:
    pass
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
c.close()' &
	echo $! >>"$T_DIR/pids"
	wait_for 10 test -s port
	PORT=$(cat port)
	mkfifo fifo
	exec 7<>fifo
	python3 -c 'import fcntl, os
fcntl.fcntl(os.open("fifo", os.O_RDWR), 1031, 4096)'
	bg fdholder -s "$PWD/ctl" 127.0.0.1 "$PORT" >fifo 2>errs
	HOLDER=$!
	wait_for 10 grep -q "Connection reset" errs
	bg fdholder -s "$PWD/ctl" 127.0.0.1 "$PORT" >data 2>errs2
	local succ=$!
	reap 10 "$HOLDER"
	[ "$RC" = 0 ] || fail "old holder exited $RC: $(cat errs) $(cat errs2)"
	reap 10 "$succ"
	[ "$RC" = 111 ] || fail "successor exited $RC: $(cat errs2)"
	expect_err errs2 "the connection broke before the handoff"
	# Both holders are gone: what the FIFO holds is all it will hold.
	python3 -c 'import os, sys
os.set_blocking(7, False)
while True:
    try:
        d = os.read(7, 65536)
    except BlockingIOError:
        break
    sys.stdout.buffer.write(d)' >fifo.out
	# Some of what the server sent was lost with the reset, in its
	# buffers or ours: what was written is a prefix of what it sent
	# (maybe ending in part of a line), nothing missing in between.
	cat fifo.out data >all
	[ -s all ] || fail "nothing written"
	seq 1 100000 | head -c "$(stat -c %s all)" | cmp - all
}

# SHARER: a parent (tests/sharer.py) that keeps a copy of the socket it
# hands the tools as fd:N and reports the description's flags.
SHARER="python3 $TESTS/sharer.py"

# unchanged FILE STATUS ...: sharer.py's report in FILE says the flags
# were 2 (O_RDWR, blocking) before, all along and after, and the commands
# exited with STATUS ..., in order.
unchanged() {
	local f=$1 st
	shift
	{
		printf 'before 2\nduring 2\nafter 2\n'
		for st; do echo "exit $st"; done
	} | diff -u - "$f"
}

# A listening socket inherited on fd:N, from a parent that keeps it:
# fdrecv and fdsend take a peer from it and leave its flags as they were
# (before: O_NONBLOCK set on the parent's copy too, flags 4002, and the
# next program given that socket got EAGAIN from accept).
inherited_listener_flags() {
	bg $SHARER listen "$PWD/r" fdrecv -t 10 -m 0 fd:FD sh -c 'cat >got' \
	    >rflags
	local sh=$!
	wait_for 10 test -S r
	echo to-fdrecv | fdsend -t 10 "$PWD/r" 0
	reap 15 "$sh"
	[ "$(cat got)" = to-fdrecv ] || fail "fdrecv's program read: $(cat got)"
	unchanged rflags 0
	bg $SHARER listen "$PWD/s" sh -c 'echo to-fdrecv-c | fdsend -t 10 fd:FD 0' \
	    >sflags
	sh=$!
	wait_for 10 test -S s
	fdrecv -c -t 10 -m 0 "$PWD/s" cat >got
	reap 15 "$sh"
	[ "$(cat got)" = to-fdrecv-c ] || fail "fdrecv -c read: $(cat got)"
	unchanged sflags 0
}

# A connected socket inherited on fd:N (a socketpair's ends, one to
# fdsend, one to fdrecv): the parent's copies keep their flags (before:
# 4002 on both).
inherited_pair_flags() {
	echo paired | $SHARER pair fdsend -t 10 fd:FD 0 -- \
	    fdrecv -t 10 -m 0 fd:FD sh -c 'cat >got' >flags
	[ "$(cat got)" = paired ] || fail "fdrecv's program read: $(cat got)"
	{
		printf 'before 2,2\nduring 2,2\nafter 2,2\n'
		printf 'exit 0\nexit 0\n'
	} | diff -u - flags
}

# desc_flags PID LINK: the flags of PID's fd that is LINK (socket:[INO]),
# but close-on-exec, which is the fd's own.
desc_flags() {
	local f fl
	for f in /proc/$1/fd/*; do
		[ "$(readlink "$f")" = "$2" ] || continue
		fl=$(sed -n 's/^flags:[[:space:]]*//p' "/proc/$1/fdinfo/${f##*/}")
		printf '%o\n' $((0$fl & ~02000000))
	done | sort -u
}

# A store's control socket inherited on fd:N (socket activation), then
# handed to the store that restarts it: neither store changes the parent's
# flags (before: ep_listen, store_begin and ctl_adopt set O_NONBLOCK, 4002).
inherited_ctl_flags() {
	local sh st1 st2 link
	bg $SHARER listen "$PWD/ctl" fdholder -t 5 -s fd:FD >flags 2>err
	sh=$!
	wait_for 10 eval 'pgrep -P "$sh" -x fdholder >/dev/null'
	st1=$(pgrep -P "$sh" -x fdholder)
	echo kept | fdsend -n x -t 5 "$PWD/ctl" 0
	fdholder -L -t 5 -s "$PWD/ctl" | grep -q '^x' || fail "not stored"
	link=$(readlink /proc/$sh/fd/* | grep '^socket:' | head -n 1)
	[ "$(desc_flags "$st1" "$link")" = 2 ] ||
	    fail "store 1: flags $(desc_flags "$st1" "$link")"
	bg fdholder -t 5 -s "$PWD/ctl" 2>err2
	st2=$!
	reap 10 "$sh"
	unchanged flags 0
	fdholder -L -t 5 -s "$PWD/ctl" | grep -q '^x' || fail "not handed over"
	[ "$(desc_flags "$st2" "$link")" = 2 ] ||
	    fail "store 2: flags $(desc_flags "$st2" "$link")"
	kill -TERM "$st2"
	reap 10 "$st2"
}

# polling N: N fdrecv of this case wait in poll(2) (or ppoll).
polling() {
	local n=0 p
	for p in $(pgrep -x fdrecv); do
		[ "$(readlink "/proc/$p/cwd")" = "$PWD" ] || continue
		case $(cut -d' ' -f1 "/proc/$p/syscall") in
		7|271) n=$((n + 1)) ;;
		esac
	done 2>/dev/null
	[ "$n" -ge "$1" ]
}

# kill_strays DIR: kill, by pid, what still runs in DIR (a tracee of a
# strace that was killed goes on, detached).
kill_strays() {
	local p
	for p in $(ls /proc | grep -x '[0-9]*'); do
		[ "$(readlink "/proc/$p/cwd" 2>/dev/null)" != "$1" ] ||
		    kill -KILL "$p" 2>/dev/null
	done
}

# Two receivers on one inherited listening socket, one sender: one gets
# the fd, the other ends at its -t with 99 (accept has no per-call
# non-blocking flag: a blocking accept would wait for ever there).  First
# the loser forced: its accept4 held by strace until the other has taken
# the sender; then 20 pairs started together, outcomes counted.
two_receivers() {
	local i pid pids= snd= n0=0 n99=0 other=0 st
	defer "kill_strays '$PWD'"
	# LeakSanitizer cannot run under ptrace (the SAN pass).
	bg env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	    $SHARER listen "$PWD/s" strace -f -qq -o /dev/null \
	    -e inject=accept4:delay_enter=500000 \
	    fdrecv -t 2 -m 0 fd:FD sh -c 'cat >got' -- \
	    fdrecv -t 2 -m 0 fd:FD sh -c 'cat >got' >flags 2>err
	pid=$!
	wait_for 10 polling 2
	echo forced | fdsend -t 10 "$PWD/s" 0
	reap 10 "$pid"
	[ "$(cat got)" = forced ] || fail "read: $(cat got)"
	unchanged flags 99 0
	expect_err err "fdrecv: "
	# The senders first: each waits for its socket, and the receivers
	# start with a peer in the backlog, not at the end of their -t.
	for i in $(seq 20); do
		mkdir "r$i"
		bg sh -c 'echo "$1" | exec fdsend -t 10 "$2" 0' sh "r$i" \
		    "$PWD/r$i/s"
		snd="$snd $!"
	done
	for i in $(seq 20); do
		bg $SHARER listen "$PWD/r$i/s" \
		    fdrecv -t 2 -m 0 fd:FD sh -c 'cat >"$0"' "r$i/got" -- \
		    fdrecv -t 2 -m 0 fd:FD sh -c 'cat >"$0"' "r$i/got" \
		    >"r$i/flags" 2>"r$i/err"
		pids="$pids $!"
	done
	for pid in $pids $snd; do
		reap 15 "$pid"
	done
	for i in $(seq 20); do
		grep -qx 'during 2' "r$i/flags" && grep -qx 'after 2' "r$i/flags" ||
		    fail "round $i: $(cat "r$i/flags")"
		[ "$(cat "r$i/got")" = "r$i" ] || fail "round $i read $(cat "r$i/got")"
		for st in $(sed -n 's/^exit //p' "r$i/flags"); do
			case $st in
			0) n0=$((n0 + 1)) ;;
			99) n99=$((n99 + 1)) ;;
			*) other=$((other + 1)) ;;
			esac
		done
	done
	t_note "20 rounds of two receivers, one sender: $n0 exit 0, $n99 exit 99, $other other"
	[ "$n0" = 20 ] && [ "$n99" = 20 ] && [ "$other" = 0 ] ||
	    fail "$n0 exit 0, $n99 exit 99, $other other"
}

t_case "standard output closed: refused, nothing sent back" stdout_closed
t_case "standard error closed: nothing written into the connection" stderr_closed
t_case "-i, standard input closed: refused" stdin_closed
t_case "fdrecv with 0-2 closed: its program gets /dev/null there" fdrecv_closed
t_case "fdsend with 0-2 closed: refuses a closed fd 0, sends fd 5" fdsend_closed
t_case "a terminal shared with the shell: its flags left as they were" shared_tty
t_case "a successor that cannot write refuses: the holder goes on" succ_cannot_write
t_case "a reset before the handoff: the successor exits 111" reset_handed_over
t_case "fd:N listening, a parent's copy: its flags left as they were" inherited_listener_flags
t_case "fd:N connected, a parent's copies: their flags left as they were" inherited_pair_flags
t_case "fd:N as a store's control socket, then handed on: its flags left as they were" inherited_ctl_flags
t_traced "two receivers on one inherited listener: one gets it, the other ends at -t" two_receivers
t_done
