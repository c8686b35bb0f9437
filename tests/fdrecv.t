#!/bin/bash
# ISC license: see LICENSE.
# fdrecv: receiving, placing, copying, and what bad senders get.
. "$(dirname "$0")/lib.sh"
PEER="python3 $(cd "$(dirname "$0")" && pwd)/peer.py"

# The receiver's fd count, once it is listening on ./s.
listening() {
	[ -S s ]
}

# claimed PID: PID listens on ./s, done with the claim: its lock on
# s.lock is closed (the socket appears at bind, before that), so its fds
# are the ones it waits with.
claimed() {
	[ -S s ] && ! ls -l "/proc/$1/fd" 2>/dev/null | grep -q '/s\.lock$'
}

pipeline_m0() {
	bg sh -c 'seq 1 100000 | fdsend s 0'
	fdrecv -t 10 -m 0 s wc -l >out
	[ "$(cat out)" = 100000 ] || fail "wc -l said $(cat out)"
	[ ! -e s ] || fail "socket left behind"
}

pipeline_stdout() {
	bg sh -c 'seq 1 100000 | fdsend s 0'
	fdrecv -t 10 s | wc -l >out
	[ "$(cat out)" = 100000 ] || fail "wc -l said $(cat out)"
}

receiver_first() {
	bg fdrecv -t 10 s sh -c 'cat <&3' >out
	wait_for 5 listening
	echo hello | fdsend -t 5 s 0
	wait_exit 5 "$(tail -n 1 pids)"
	[ "$RC" = 0 ] || fail "fdrecv exited $RC"
	[ "$(cat out)" = hello ] || fail "read: $(cat out)"
}

socket_activation() {
	echo data >file
	mkfifo fifo
	bg sh -c 'exec 3<file 4<>fifo; fdsend -t 10 s 3=config 4=events 0'
	fdrecv -t 10 s sdcheck >out </dev/null
	cat >want <<-EOT
	3
	3 config file
	4 events fifo
	5 unknown char
	EOT
	diff -u want out
}

thousand_fds() {
	bg $PEER many s 1000 -t 10
	fdrecv -t 10 s sdcheck >out
	[ "$(head -n 1 out)" = 1000 ] || fail "count $(head -n 1 out)"
	[ "$(wc -l <out)" = 1001 ] || fail "$(wc -l <out) lines"
	grep -qx '1002 n999 char' out || fail "last fd: $(tail -n 1 out)"
	wait_exit 10 "$(tail -n 1 pids)"
	[ "$RC" = 0 ] || fail "fdsend exited $RC"
}

# fds_sender N SOCK [fdsend options]: fdsend of N fds on files f/0 to f/N-1
# at 3 and up, named n0 to nN-1 (bash: dash takes one-digit fds only).
fds_sender() {
	local n=$1 s=$2
	shift 2
	mkdir -p f
	for i in $(seq 0 $((n - 1))); do : >"f/$i"; done
	bash -c 'n=$1 s=$2; shift 2
	    for i in $(seq 0 $((n - 1))); do eval "exec $((i + 3))<f/$i"; done
	    exec fdsend -t 10 "$@" "$s" $(for i in $(seq 0 $((n - 1))); do
		echo "$((i + 3))=n$i"; done)' sh "$n" "$s" "$@"
}

# placed: the program's fds (./out, from ls -l /proc/PID/fd) are 3 to
# 1002 on f/0 to f/999, in order, and nothing else but 0-2 (and ls's own
# directory); LISTEN_FDS and the first and last names say the same.
placed() {
	[ "$(head -n 1 out)" = "1000 n0 n999" ] || fail "env: $(head -n 1 out)"
	awk '$(NF - 1) == "->" && $(NF - 2) >= 3 { print $(NF - 2), $NF }' out |
	    grep -v ' /proc/' | sort -n >got
	seq 0 999 | awk -v d="$PWD/f" '{ print $1 + 3, d "/" $1 }' >want
	diff -u want got >/dev/null || fail "fds: $(diff want got | head -n 5)"
}

# The program of in_place: LISTEN_FDS, the first and last name, its fds.
# (LeakSanitizer cannot run under ptrace: SAN=1 builds run without it.)
LSFD='echo "$LISTEN_FDS ${LISTEN_FDNAMES%%:*} ${LISTEN_FDNAMES##*:}"; exec ls -l /proc/$$/fd'

# 1,000 fds land where the program takes them, in order from 3: no dup2,
# fcntl or close per fd in fdrecv started with fds 0-2 alone (strace
# counts fdrecv's and the program's: was 1,000 dup2, 2,005 fcntl and
# 1,009 close, now 30 to 50 in all).
in_place() {
	bg fds_sender 1000 s
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	    bare strace -f -qq -c -o calls fdrecv -t 10 s sh -c "$LSFD" >out
	placed
	n=$(calls calls dup2 dup3 fcntl close)
	[ "$n" -le 100 ] || fail "$n dup2, fcntl and close for 1000 fds"
	t_note "dup2, fcntl, close for 1000 fds: $n"
}

# The same out of a store: fdrecv -n -D.
fetch_in_place() {
	bg fdholder -s "$PWD/ctl"
	wait_for 10 fdholder -L -s ctl
	fds_sender 1000 ctl -n big
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	    bare strace -f -qq -c -o calls fdrecv -n big -D ctl sh -c "$LSFD" >out
	placed
	n=$(calls calls dup2 dup3 fcntl close)
	[ "$n" -le 100 ] || fail "$n dup2, fcntl and close for 1000 fds"
	t_note "dup2, fcntl, close for 1000 fds: $n"
}

# The store lets go of a taken entry of 1,000 fds in a few calls, not a
# close per fd: its fds came a frame at a time at the lowest free
# numbers, and are closed a run at a time (close_range(2); was 1,000
# close, which the program the fds went to waited for on its CPU).
fetch_removal() {
	local st pid n
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	    bg strace -f -qq -c -o calls fdholder -s "$PWD/ctl"
	st=$!
	wait_for 10 fdholder -L -s ctl
	pid=$(ps -o pid= --ppid "$st")
	fds_sender 1000 ctl -n big
	fdrecv -t 10 -n big -D ctl true
	wait_for 10 sh -c '! fdholder -L -s ctl | grep -q "^big	"'
	kill -TERM $pid
	wait_exit 10 "$st"
	n=$(calls calls close close_range)
	[ "$n" -gt 0 ] || fail "no close counted: $(cat calls)"
	[ "$n" -le 50 ] || fail "$n close and close_range for 1000 fds"
	t_note "close and close_range in the store: $n"
}

# policy_is PID N: PID's scheduling policy is N (sched(7): 0 normal, 3
# batch; the 41st field of /proc/PID/stat).
policy_is() {
	[ "$(awk '{ print $41 }' "/proc/$1/stat")" = "$2" ]
}

# While a taker's program starts (its F_ACK read, its exec awaited), the
# store gives way to it if it took 64 fds or more: batch, so that the end
# of the connection, which wakes it to remove the entry, does not put it
# on the program's CPU ahead of the program.  Normal again once the entry
# is gone.  A take of one fd is not worth it: the policy stays normal.
# strace holds each exec: 3 s for the take of one fd, which is looked at
# 0.5 s after it shows reserved; 1.5 s for the other.
fetch_gives_way() {
	local st p
	bg fdholder -s "$PWD/ctl"
	st=$!
	wait_for 10 fdholder -L -s ctl
	fds_sender 100 ctl -n many
	echo | fdsend -t 10 -n one ctl 0
	policy_is $st 0 || fail "not the normal policy before any take"
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	    bg slow_exec 3000000 fdrecv -t 10 -n one -D ctl true
	p=$!
	wait_for 10 sh -c 'fdholder -L -j -s ctl | grep -q "\"one\".*\"reserved\":true"'
	sleep 0.5
	kill -0 $p 2>/dev/null || fail "the take of one fd ended too soon"
	policy_is $st 0 || fail "gave way for a take of one fd"
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	    bg slow_exec 1500000 fdrecv -t 10 -n many -D ctl true
	wait_for 10 policy_is $st 3
	wait_for 10 sh -c '! fdholder -L -s ctl | grep -q "^many	"'
	wait_for 10 policy_is $st 0
}

map_two() {
	printf 'one\ntwo\n' >in
	bg sh -c 'exec 5<in 6>outfile; fdsend -t 10 s 5 6'
	fdrecv -t 10 -m 0,1 s sh -c 'test -z "${LISTEN_FDS-}" && cat'
	diff -u in outfile
}

options_stop_at_socket() {
	bg sh -c 'printf "a\nx\nb\n" | fdsend -t 10 s 0'
	fdrecv -t 10 -m 0 s grep -v x >out
	printf 'a\nb\n' | diff -u - out
}

only_placed_fds() {
	bg sh -c 'echo | fdsend -t 10 s 0'
	exec 9</dev/null
	sh -c 'ls /proc/$$/fd' | sort -n >base
	fdrecv -t 10 s sh -c 'ls /proc/$$/fd' | sort -n >out
	echo 3 | sort -n -m - base | diff -u - out
}

raw_from_python() {
	bg $PEER send_fds s "from python"
	fdrecv -r -t 10 -m 0 s cat >out
	[ "$(cat out)" = "from python" ] || fail "read: $(cat out)"
}

raw_ignores_probe() {
	bg fdrecv -r -t 10 -m 0 s cat >out
	wait_for 5 listening
	$PEER probe s
	$PEER send_fds s "after a probe"
	wait_exit 5 "$(tail -n 1 pids)"
	[ "$(cat out)" = "after a probe" ] || fail "read: $(cat out)"
}

pair_fd_n() {
	$PEER pair s >out
	[ "$(cat out)" = "through a socketpair" ] || fail "read: $(cat out)"
}

inherited_listener() {
	bg $PEER listen-exec s fdrecv -t 10 fd:3 cat
	wait_for 5 listening
	echo inherited | fdsend -t 5 s 0
	wait_exit 5 "$(tail -n 1 pids)"
	[ "$RC" = 0 ] || fail "fdrecv exited $RC"
}

connect_mode() {
	bg sh -c 'echo reversed | fdsend -l -t 10 s 0'
	fdrecv -c -t 10 s >out
	[ "$(cat out)" = reversed ] || fail "read: $(cat out)"
}

# A listening fdrecv survives each bad sender, tells it why, leaks nothing,
# and then serves a good one.
bad_sender() {
	local what=$1 want=$2 pid before
	bg fdrecv -t 20 s cat
	pid=$!
	wait_for 5 claimed "$pid"
	before=$(nfds "$pid")
	$PEER "$what" s >reply || true
	grep -qF -- "$want" reply || fail "$what: reply $(cat reply)"
	# It closes the sender's socket once it has answered: wait for that.
	wait_for 10 eval '[ "$(nfds "$pid")" = "$before" ]'
	kill -0 "$pid" || fail "fdrecv ended"
	echo still | fdsend -t 5 s 0
	wait_exit 5 "$pid"
	[ "$RC" = 0 ] || fail "fdrecv exited $RC"
}
garbage()	{ bad_sender garbage "error 2 not a frame"; }
truncated()	{ bad_sender trunc "error 2 peer closed mid-frame"; }
more_fds()	{ bad_sender morefds "error 2 frame announces 3 fds, only 1"; }
fds_on_none()	{ bad_sender fdsnone "error 2 frame announces 0 fds, 2 arrived"; }
late_fds()	{ bad_sender latefds "error 2 fds on a byte past the header of a frame"; }
version()	{ bad_sender version "error 3 protocol version 9 not supported"; }
bad_name()	{ bad_sender badname "error 2 invalid fd name: a:b"; }

# Bytes from a trusted sender, or from an argument, are shown escaped
# (strvis(3)) on standard error: an error text and an invalid fd name, an
# invalid entry name (issue 22 item 12; they were written raw).
escaped() {
	local pid
	bg fdrecv -t 20 s cat 2>rerr
	pid=$!
	wait_for 5 claimed "$pid"
	$PEER evil s >reply || true
	$PEER evil s name >reply || true
	expect_err reply 'error 2 invalid fd name: \033[2J'
	echo end | fdsend -t 5 s 0 >/dev/null
	wait_exit 5 "$pid"
	expect_err rerr 'fdrecv: s: refused by sender: \033[2J\033[31mred\nfdrecv: forged\200\\'
	expect_err rerr 'invalid fd name: \033[2J'
	must_fail 100 fdrecv -n "$(printf 'a\033[2J')" s true
	expect_err err 'fdrecv: invalid entry name: a\033[2J'
	cp err err.fdrecv
	must_fail 100 fdsend -t 1 s "0=$(printf '\033[2J')"
	expect_err err 'fdsend: invalid fd[=name]: 0=\033[2J'
	cp err err.fdsend
	must_fail 100 fdholder -D -s ctl "$(printf '\033[2J')"
	expect_err err 'fdholder: invalid name: \033[2J'
	! grep -q "$(printf '\033')" rerr err* reply ||
	    fail "raw ESC: $(cat -A rerr err*)"
}

half_header()	{ bad_sender halfclose "error 2 peer closed mid-frame"; }

# fds on byte 5 of the header, bytes 0-4 read alone: the frame's, as the
# store takes them too (store.t decoders_agree).
fds_on_byte5() {
	bg fdrecv -t 10 -m 0 s cat >out
	wait_for 5 listening
	$PEER byte5 s "on byte 5" >reply
	[ "$(cat reply)" = "type 2" ] || fail "reply: $(cat reply)"
	wait_exit 5 "$(tail -n 1 pids)"
	[ "$RC" = 0 ] || fail "fdrecv exited $RC"
	[ "$(cat out)" = "on byte 5" ] || fail "read: $(cat out)"
}

dies_mid_frame() {
	local pid
	bg fdrecv -t 20 s cat
	pid=$!
	wait_for 5 listening
	$PEER half s || true
	echo after | fdsend -t 5 s 0
	wait_exit 5 "$pid"
	[ "$RC" = 0 ] || fail "fdrecv exited $RC"
}

emfile() {
	local pid before
	bg sh -c 'ulimit -n 40; exec fdrecv -t 20 s sdcheck >out 2>rerr'
	pid=$!
	wait_for 5 claimed "$pid"
	before=$(nfds "$pid")
	must_fail 111 $PEER many s 60 -t 5
	expect_err err "fds lost in transit (MSG_CTRUNC)"
	[ "$(nfds "$pid")" = "$before" ] || fail "fds $before -> $(nfds "$pid")"
	$PEER many s 10 -t 5
	wait_exit 5 "$pid"
	[ "$(head -n 1 out)" = 10 ] || fail "count $(head -n 1 out)"
	expect_err rerr "fds lost in transit"
}

count_mismatch() {
	local pid
	bg fdrecv -t 20 -m 0 s cat
	pid=$!
	wait_for 5 listening
	must_fail 1 fdsend -t 5 s 0 1
	expect_err err "fdsend: s: refused by receiver: expected 1 fd, got 2"
	echo ok | fdsend -t 5 s 0
	wait_exit 5 "$pid"
}

prog_missing() {
	local pid
	bg fdrecv -t 20 s no-such-program-here
	pid=$!
	wait_for 5 listening
	must_fail 1 fdsend -t 5 s 0
	expect_err err "refused by receiver: no-such-program-here: command not found"
	wait_exit 5 "$pid"
	[ "$RC" = 127 ] || fail "fdrecv exited $RC"
	[ ! -e s ] || fail "socket left behind"
}

prog_not_executable() {
	local pid
	echo 'echo hi' >script
	chmod 644 script
	bg fdrecv -t 20 s ./script
	pid=$!
	wait_for 5 listening
	must_fail 1 fdsend -t 5 s 0
	expect_err err "refused by receiver: ./script: Permission denied"
	wait_exit 5 "$pid"
	[ "$RC" = 126 ] || fail "fdrecv exited $RC"
}

# After the confirmation (issue 12): a program that prog_check lets through
# but that cannot be executed, or fds that cannot be placed.  fdsend hears
# the receiver's error and fails with STATUS; fdrecv exits RRC.  Our hard
# limit of 1024 open files makes -m 99999 fail on any host.
exec_fails() {
	local status=$1 rrc=$2 want=$3 pid
	shift 3
	bg sh -c 'ulimit -n 1024; exec fdrecv -t 20 "$@" 2>rerr' sh "$@"
	pid=$!
	wait_for 5 listening
	must_fail "$status" fdsend -t 5 s 0
	expect_err err "fdsend: s: receiver's program did not run: $want"
	wait_exit 5 "$pid"
	[ "$RC" = "$rrc" ] || fail "fdrecv exited $RC"
	expect_err rerr "fdrecv: $want"
}

interp_missing() {
	printf '#!/nonexistent/sh\necho ran\n' >script
	chmod 755 script
	exec_fails 1 127 "exec ./script: No such file or directory" s ./script
}

# By path a directory passes prog_check (access X_OK), and only the exec
# can fail; looked up in PATH it is skipped, and refused before the ack.
prog_directory() {
	local pid
	mkdir dir bin bin/dirprog
	exec_fails 1 126 "exec ./dir: Permission denied" s ./dir
	bg env PATH="$PWD/bin:$PATH" fdrecv -t 20 s dirprog
	pid=$!
	wait_for 5 listening
	must_fail 1 fdsend -t 5 s 0
	expect_err err "fdsend: s: refused by receiver: dirprog: command not found"
	wait_exit 5 "$pid"
	[ "$RC" = 127 ] || fail "fdrecv exited $RC"
}

# handed PID: fdsend hands fd 0 to PID, an fdrecv on ./s, which exits 0.
handed() {
	wait_for 5 listening
	fdsend -t 5 s 0 </dev/null || fail "fdsend failed: $(cat err)"
	wait_exit 10 "$1"
	[ "$RC" = 0 ] || fail "fdrecv exited $RC"
}

# A program looked up in PATH is executed where prog_check found it: one
# execve, not one per directory before it (strace counts them); a script
# without #! still runs, by sh, as execvp(3) runs it.
path_once() {
	mkdir bin
	printf '#!/bin/sh\necho ran "$@" >out.bang\n' >bin/bang
	printf 'echo ran "$@" >out.nobang\n' >bin/nobang
	chmod 755 bin/bang bin/nobang
	bg env PATH="/nonexistent/a:/nonexistent/b:$PWD/bin:$PATH" \
	    strace -f -qq -o trace -e trace=execve \
	    env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	    fdrecv -t 20 s bang x
	handed $!
	[ "$(cat out.bang)" = "ran x" ] || fail "bang: $(cat out.bang)"
	! grep -q 'execve("/nonexistent/./bang"' trace ||
	    fail "PATH walked again: $(grep -c 'bang"' trace) execve of bang"
	bg env PATH="/nonexistent/a:$PWD/bin:$PATH" fdrecv -t 20 s nobang y
	handed $!
	[ "$(cat out.nobang)" = "ran y" ] || fail "nobang: $(cat out.nobang)"
}

# -m at the top of the fd limit: with 64 fds allowed, targets 62 and 63
# get the right fds, listening, with -n and with -n -D (issue 22 item 10;
# placing moved every fd above the highest target first, so 63 failed with
# "Invalid argument" and 62 with "Too many open files").
at_top() {
	( ulimit -n 64; exec fdrecv -t 10 "$@" sh -c 'readlink \
	    /proc/$$/fd/62 /proc/$$/fd/63 || :; exec ls /proc/$$/fd' ) >out
	sort out | diff -u want -
}
top_of_limit() {
	echo one >a
	echo two >b
	sh -c 'exec ls /proc/$$/fd' >base
	{ echo "$PWD/a"; cat base; echo 63; } | sort >want
	bg sh -c 'exec 5<a; exec fdsend -t 10 s 5'
	at_top -m 63 s
	{ echo "$PWD/b"; echo "$PWD/a"; cat base; echo 62; echo 63; } |
	    sort >want
	bg sh -c 'exec 5<a 6<b; exec fdsend -t 10 s 5 6'
	at_top -m 63,62 s
	bg fdholder -s "$PWD/ctl"
	wait_for 10 fdholder -L -s ctl
	fdsend -n two ctl 5 6 5<a 6<b
	at_top -n two -m 63,62 ctl
	at_top -n two -D -m 63,62 ctl
	[ -z "$(fdholder -L -s ctl)" ] || fail "entry kept: $(fdholder -L -s ctl)"
	# Crossed at the very top, 7 fds allowed: no number above 6 to move
	# an fd in the way to, a free one below it is taken.
	bg sh -c 'exec 5<a 6<b; exec fdsend -t 10 s 5 6'
	( ulimit -n 7; exec fdrecv -t 10 -m 6,5 s sh -c \
	    'readlink /proc/$$/fd/5 /proc/$$/fd/6' ) >out
	printf '%s\n' "$PWD/b" "$PWD/a" | diff -u - out
}

place_fails() {
	exec_fails 111 111 "place fds: fd 99999 is not below the limit of 1024 open files (RLIMIT_NOFILE)" -m 99999 s cat
}

# fdsend exits 0 only once the exec happened: the program's exec is held
# for a second after the ack, and when fdsend is back, the receiver is
# the program already (one that waits to be killed).
exec_confirmed() {
	local sleep spid pid
	sleep=$(command -v sleep)
	bg slow_exec 1000000 fdrecv -t 20 -m 0 s "$sleep" 30
	spid=$!
	wait_for 5 listening
	pid=$(pgrep -P "$spid")
	fdsend -t 10 s 0
	[ "$(readlink "/proc/$pid/exe")" = "$(readlink -f "$sleep")" ] ||
	    fail "fdsend ended before the exec: $(readlink "/proc/$pid/exe")"
	kill "$pid"
	wait_exit 5 "$spid"
}

# The connection on a number that -m targets (fd:3, -m 3) is moved out of
# the way: the program gets the sent fd there and no socket, and a failed
# exec still reaches fdsend.
pair_on3() {
	cat >pair.py <<-'EOT'
	import os, socket, subprocess, sys
	# fdsend and fdrecv, each with its end of a socketpair on fd 3, and
	# with its standard error in serr and rerr.
	a, b = socket.socketpair()
	def on3(s):
	    return lambda: os.dup2(os.dup(s.fileno()), 3)
	rp = subprocess.Popen(["fdrecv", "-t", "10", "-m", "3", "fd:3"] +
	                      sys.argv[1:], preexec_fn=on3(b), close_fds=False,
	                      stderr=open("rerr", "w"))
	sp = subprocess.Popen(["fdsend", "-t", "10", "fd:3", "0"],
	                      preexec_fn=on3(a), close_fds=False,
	                      stderr=open("serr", "w"))
	a.close(); b.close()
	print("fdsend", sp.wait(10), "fdrecv", rp.wait(10), flush=True)
	EOT
	printf '#!/nonexistent/sh\n' >script
	chmod 755 script
	echo sent | python3 pair.py sh -c \
	    'cat <&3; ls -l /proc/$$/fd/ | grep -c socket: || :' >out
	printf 'sent\n0\nfdsend 0 fdrecv 0\n' | diff -u - out
	echo sent | python3 pair.py ./script >out
	[ "$(cat out)" = "fdsend 1 fdrecv 127" ] || fail "$(cat out serr rerr)"
	expect_err serr "fdsend: fd:3: receiver's program did not run: exec ./script: No such file or directory"
	expect_err rerr "fdrecv: exec ./script: No such file or directory"
}

# A copy of the binaries that another user may execute.
public_bin() {
	mkdir -m 755 pub
	cp "$BIN/fdsend" "$BIN/fdrecv" pub/
	chmod 755 . pub pub/*
}

other_uid_refused() {
	local pid sock=@fdtools-test-$$
	public_bin
	bg fdrecv -t 20 "$sock" cat 2>rerr
	pid=$!
	wait_for 5 grep -q "fdtools-test-$$" /proc/net/unix
	must_fail 1 setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    pub/fdsend -t 5 "$sock" 0
	expect_err err "refused by receiver: uid 65534 not allowed by the receiver"
	expect_err rerr "fdrecv: $sock: refused sender uid 65534"
	echo root | fdsend -t 5 "$sock" 0
	wait_exit 5 "$pid"
	[ "$RC" = 0 ] || fail "fdrecv exited $RC"
}

other_uid_allowed() {
	local sock=@fdtools-test-$$
	public_bin
	bg fdrecv -u nobody -t 20 "$sock" >out
	wait_for 5 grep -q "fdtools-test-$$" /proc/net/unix
	echo nobody | setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    pub/fdsend -t 5 "$sock" 0
	wait_exit 5 "$(tail -n 1 pids)"
	[ "$(cat out)" = nobody ] || fail "read: $(cat out)"
}

sender_refuses_receiver() {
	local sock=@fdtools-test-$$
	public_bin
	bg setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    pub/fdrecv -t 10 "$sock" cat
	wait_for 5 grep -q "fdtools-test-$$" /proc/net/unix
	must_fail 1 fdsend -t 5 "$sock" 0
	expect_err err "fdsend: $sock: refused receiver uid 65534"
}

path_too_long() {
	local long
	long=$(printf '%0200d' 0)
	must_fail 100 fdrecv -t 1 "$long"
	expect_err err "fdrecv: $long: File name too long"
	[ ! -e "$long" ] || fail "created something"
	must_fail 100 fdsend -t 1 "$long" 0
	expect_err err "fdsend: $long: File name too long"
}

stale_replaced() {
	$PEER stale s
	[ -S s ] || fail "no stale socket"
	bg fdrecv -t 10 s >out
	echo fresh | fdsend -t 5 s 0
	wait_exit 5 "$(tail -n 1 pids)"
	[ "$(cat out)" = fresh ] || fail "read: $(cat out)"
}

live_refused() {
	local pid
	bg fdrecv -t 20 s >out
	pid=$!
	wait_for 5 listening
	must_fail 111 fdrecv -t 1 s cat
	expect_err err "fdrecv: listen s: a live socket is listening there"
	echo first | fdsend -t 5 s 0
	wait_exit 5 "$pid"
	[ "$(cat out)" = first ] || fail "read: $(cat out)"
}

not_a_socket() {
	echo precious >s
	must_fail 111 fdrecv -t 1 s cat
	expect_err err "fdrecv: listen s: exists and is not a socket"
	[ "$(cat s)" = precious ] || fail "file changed"
}

timeout_no_sender() {
	must_fail 99 fdrecv -t 0.3 s cat
	expect_err err "fdrecv: s: timed out waiting for a sender"
	[ ! -e s ] || fail "socket left behind"
}

removed_on_term() {
	local pid
	bg fdrecv s cat
	pid=$!
	wait_for 5 listening
	kill -TERM "$pid"
	wait_exit 5 "$pid"
	[ ! -e s ] || fail "socket left behind"
}

# -S: what a service manager passed, by name (systemd-socket-activate plays
# systemd, and starts fdrecv at the first connection).
listen_by_name() {
	bg systemd-socket-activate -l "$PWD/a" -l "$PWD/b" -l "$PWD/c" \
	    --fdname=web:admin:web fdrecv -S admin,web,web sdcheck >out
	wait_for 5 test -S a
	$PEER probe a
	wait_for 5 test -s out
	wait_for 5 grep -q '^5 ' out
	cat >want <<-EOT
	3
	3 admin socket
	4 web socket
	5 web socket
	EOT
	diff -u want out
}

# systemd-socket-activate without --fdname sets no LISTEN_FDNAMES: its fds
# are "unknown", as sd_listen_fds(3) names them.  Before: "no fd named
# unknown in LISTEN_FDNAMES".
listen_unknown() {
	bg env -u LISTEN_FDNAMES systemd-socket-activate -l "$PWD/a" \
	    -l "$PWD/b" fdrecv -S unknown,unknown sdcheck >out 2>err
	wait_for 5 test -S b
	$PEER probe a
	wait_for 5 grep -q '^4 ' out || fail "$(cat err)"
	cat >want <<-EOT
	2
	3 unknown socket
	4 unknown socket
	EOT
	diff -u want out
}

listen_errors() {
	must_fail 1 sh -c 'exec 3</dev/null; LISTEN_PID=$$ LISTEN_FDS=1 \
	    LISTEN_FDNAMES=web exec fdrecv -S db true'
	expect_err err "fdrecv: no fd named db in LISTEN_FDNAMES"
	must_fail 1 sh -c 'exec 3</dev/null; LISTEN_PID=$$ LISTEN_FDS=1 \
	    LISTEN_FDNAMES=web exec fdrecv -S web,web true'
	expect_err err "fdrecv: no fd named web in LISTEN_FDNAMES"
	must_fail 1 sh -c 'exec 3</dev/null; LISTEN_PID=1 LISTEN_FDS=1 \
	    LISTEN_FDNAMES=web exec fdrecv -S web true'
	expect_err err "fdrecv: no fds passed by the service manager"
	must_fail 100 fdrecv -S web -t 1 true
}

usage() {
	must_fail 100 fdrecv
	expect_err err "usage: fdrecv [-chr]"
	must_fail 100 fdrecv -m 0 s
	expect_err err "fdrecv: -m needs a program to run"
	must_fail 100 fdrecv -m 0,x s cat
	expect_err err "fdrecv: invalid fd list: 0,x"
	must_fail 100 fdrecv -t -1 s cat
	expect_err err "fdrecv: timeout too small: -1"
	must_fail 100 fdrecv fd:99 cat
	expect_err err "fdrecv: fd:99: Bad file descriptor"
	must_fail 100 fdrecv -S x -c true
	expect_err err "fdrecv: cannot use -c with -S"
	must_fail 100 fdrecv -n x -S y s
	expect_err err "fdrecv: cannot use -S with -n"
	must_fail 100 fdrecv -D -t 1 s
	expect_err err "fdrecv: cannot use -D without -n"
	must_fail 100 fdrecv -n x -r s
	expect_err err "fdrecv: cannot use -r with -n"
}

t_case "seq | fdsend S 0 and fdrecv -m 0 S wc -l" pipeline_m0
t_case "fdrecv S | wc -l copies the received fd" pipeline_stdout
t_case "receiver first, then sender" receiver_first
t_case "LISTEN_FDS, names and types seen by sd_listen_fds_with_names" socket_activation
t_case "1000 fds in one call" thousand_fds
t_traced "1000 fds land in place, in order: no dup2 or fcntl per fd" in_place
t_traced "1000 fds fetched from a store land in place too" fetch_in_place
t_traced "the store closes a taken entry of 1000 fds a run at a time" fetch_removal
t_traced "the store gives way while a taker's program starts" fetch_gives_way
t_case "-m 0,1 places two fds and clears LISTEN_FDS" map_two
t_case "option parsing stops at the socket" options_stop_at_socket
t_case "the program gets only its fds and inherited ones" only_placed_fds
t_case "raw mode takes socket.send_fds from Python" raw_from_python
t_case "raw mode: a peer closing without fds is no sender" raw_ignores_probe
t_case "fd:N: a socketpair's ends" pair_fd_n
t_case "fd:N: an inherited listening socket" inherited_listener
t_case "-c connects to fdsend -l" connect_mode
t_case "garbage: told, fds kept, still listening" garbage
t_case "truncated frame" truncated
t_case "frame announcing more fds than arrived" more_fds
t_case "fds on a frame announcing none" fds_on_none
t_case "fds on a payload byte, past the header" late_fds
t_case "unknown protocol version" version
t_case "invalid fd name" bad_name
t_case "sender's and arguments' bytes shown escaped" escaped
t_case "sender killed mid-frame" dies_mid_frame
t_case "sender half-closed mid-header: told code 2" half_header
t_case "fds on byte 5 of the header, read apart from bytes 0-4: accepted" fds_on_byte5
t_case "MSG_CTRUNC at the fd limit: error, nothing leaked" emfile
t_case "-m count mismatch told to the sender" count_mismatch
t_case "missing program: sender told, exit 127" prog_missing
t_case "program not executable: sender told, exit 126" prog_not_executable
t_case "#! interpreter missing: fdsend told after the ack, exit 127" interp_missing
if have_strace; then
	t_case "a program in PATH is executed where it was found; no #!: by sh" path_once
else
	t_skip "a program in PATH is executed where it was found; no #!: by sh" "strace cannot trace here"
fi
t_case "directory as prog: by path fdsend told after the ack, exit 126; in PATH refused before" prog_directory
t_case "-m 62 and 63 under a limit of 64 fds, listening and with -n, -n -D; crossed at the top of 7" top_of_limit
t_case "-m 99999 cannot be placed: fdsend told after the ack, exit 111" place_fails
if have_strace; then
	t_case "fdsend exits 0 only once the program's exec happened" exec_confirmed
else
	t_skip "fdsend exits 0 only once the program's exec happened" "no strace"
fi
t_case "the connection on a target fd (fd:3, -m 3) is moved, never placed" pair_on3
t_case "sender of another uid refused" other_uid_refused
t_case "sender of another uid allowed with -u" other_uid_allowed
t_case "fdsend refuses a receiver of another uid" sender_refuses_receiver
t_case "socket path too long" path_too_long
t_case "stale socket replaced" stale_replaced
t_case "live socket never stolen" live_refused
t_case "a file that is not a socket is kept" not_a_socket
t_case "timeout with no sender" timeout_no_sender
t_case "socket removed on SIGTERM" removed_on_term
t_case "-S: fds of the service manager, by name" listen_by_name
t_case "-S unknown: LISTEN_FDNAMES unset (systemd-socket-activate)" listen_unknown
t_case "-S: names missing, no fds passed" listen_errors
t_case "usage errors" usage
t_done
