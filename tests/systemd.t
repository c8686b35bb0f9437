#!/bin/bash
# ISC license: see LICENSE.
# The service-manager paths under a real systemd user manager, not the one
# tests/fakesd.py imitates: fdholder -S, fdsend -S, fdrecv -S, socket
# activation, and the runbooks of the man pages, each case with a manager
# of its own (/lib/systemd/systemd --user, started by sd_start in a private
# mount namespace by sdns.sh; never as PID 1).  Where no manager can start,
# every case is skipped with the reason.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sd.sh"
PROXYD=${PROXYD:-/lib/systemd/systemd-socket-proxyd}

# chat_service [START-LIMIT-LINE]: fdholder(1)'s example unit, chat.service,
# holding a connection to the stream server, its output appended to
# ./chat.log (so that the store holds the record of the last append too).
chat_service() {
	unit chat.service <<-EOF
	[Unit]
	DefaultDependencies=no
	${1-StartLimitIntervalSec=0}

	[Service]
	Type=notify
	NotifyAccess=main
	FileDescriptorStoreMax=4
	Restart=always
	TimeoutStartSec=5
	StandardError=append:$PWD/chat.err
	ExecStart=/bin/sh -c 'exec $BIN/fdholder -S -s $PWD/chat.ctl \\
	    127.0.0.1 $PORT >>$PWD/chat.log'
	EOF
}

# fdholder(1)'s chat.service under systemd: Type=notify starts (READY=1),
# systemctl status shows the holder's STATUS=, the fd store holds the
# connection and the pipe; then the main process is killed with SIGKILL 7
# times within 10 s (more than systemd's default start limit allows) while
# a stream flows: one connection at the server, every line once, and the
# holder empties the store at the connection's end.
chat_killed() {
	local n=3000000 want kills=7 i pid t0 t1
	want=$(seq 1 "$n" | wc -c)
	serve "$n" -B 4000000
	chat_service
	sd_start
	sdctl start chat.service
	[ "$(prop chat.service ActiveState)/$(prop chat.service SubState)" = \
	    active/running ] || fail "after start: $(sdctl status chat.service)"
	[ "$(prop chat.service StatusText)" = "holding a connection to \
127.0.0.1 port $PORT, its fds sent to the fd store" ] ||
	    fail "StatusText: $(prop chat.service StatusText)"
	sdctl status chat.service >status || true
	expect_err status \
	    "Status: \"holding a connection to 127.0.0.1 port $PORT, its fds sent"
	[ "$(prop chat.service NFileDescriptorStore)" = 4 ] ||
	    fail "store: $(prop chat.service NFileDescriptorStore)"
	t0=$(date +%s.%N)
	for i in $(seq 1 "$kills"); do
		pid=$(prop chat.service MainPID)
		wait_for 10 grows chat.log "$(stat -c %s chat.log)"
		sdctl kill -s KILL chat.service
		wait_for 10 restarted chat.service "$pid"
	done
	t1=$(date +%s.%N)
	[ "$(stat -c %s chat.log)" -lt "$want" ] || fail "stream ended too soon"
	[ "$(prop chat.service NRestarts)" = "$kills" ] ||
	    fail "NRestarts $(prop chat.service NRestarts)"
	awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 10) }' ||
	    fail "$kills kills took more than 10 s"
	t_note "$kills SIGKILLs in $(awk -v a="$t0" -v b="$t1" \
	    'BEGIN { printf "%.1f", b - a }') s, NRestarts $kills," \
	    "StatusText: $(prop chat.service StatusText)"
	wait_for 30 grows chat.log $((want - 1))
	seq 1 "$n" | cmp - chat.log
	server_done
	# The holder saw the end and took its fds out of the store; the ones
	# systemd starts after it find nothing to connect to.
	wait_for 10 prop_is chat.service NFileDescriptorStore 0
	sdctl stop chat.service
}

# The same unit without StartLimitIntervalSec=0: systemd gives up after
# its default start limit (5 starts in 10 s) at the fifth crash, fails the unit and releases
# the stored fds, connection included: why fdholder(1)'s example has it.
chat_start_limit() {
	local i pid kills=0
	serve 3000000 -B 4000000
	chat_service "# the default start limit"
	sd_start
	sdctl start chat.service
	for i in $(seq 1 10); do
		pid=$(prop chat.service MainPID)
		wait_for 10 grows chat.log "$(stat -c %s chat.log)"
		sdctl kill -s KILL chat.service
		kills=$i
		wait_for 10 restarted_or_failed chat.service "$pid"
		[ "$(prop chat.service ActiveState)" != failed ] || break
	done
	[ "$(prop chat.service ActiveState)" = failed ] ||
	    fail "still $(prop chat.service ActiveState) after $kills kills"
	grep -q "chat.service: Start request repeated too quickly" console ||
	    fail "no start limit in the console"
	# fdholder(1) says so: the fifth quick crash in a row.
	[ "$kills" = 5 ] || fail "gave up after $kills kills"
	[ "$(prop chat.service NFileDescriptorStore)" = 0 ] ||
	    fail "store: $(prop chat.service NFileDescriptorStore)"
	grep -q "chat.service: Releasing all stored fds" console ||
	    fail "no release in the console"
	t_note "systemd gave up after $kills kills (Start request repeated" \
	    "too quickly; Result=$(prop chat.service Result))," \
	    "stored fds released, $(wc -l <chat.log) of 3000000 lines written"
}

# connect PATH [TEXT]: connect to the UNIX stream socket PATH, send TEXT,
# print the first line that comes back (nothing if the peer closes first).
connect() {
	timeout 10 python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
if sys.argv[2]:
    s.sendall(sys.argv[2].encode())
print(s.makefile().readline(), end="")' "$1" "${2:-}"
}

# systemd's fd store hands the stored fds back newest first: three names
# stored by one fdsend -S (three messages, a then b then c) come back as
# c:b:a, each with its own file.  tests/fakesd.py keeps this order too.
store_order() {
	echo a >fa
	echo b >fb
	echo c >fc
	cat >order.sh <<-EOF
	echo "start \${LISTEN_FDS:-0} \${LISTEN_FDNAMES:-}"
	if [ -z "\${LISTEN_FDS:-}" ]; then
		exec 3<fa 4<fb 5<fc
		$BIN/fdsend -S 3=a 4=b 5=c
		exit 1
	fi
	cat <&3; cat <&4; cat <&5
	EOF
	unit order.service <<-EOF
	[Unit]
	DefaultDependencies=no
	[Service]
	FileDescriptorStoreMax=3
	NotifyAccess=all
	Restart=on-failure
	WorkingDirectory=$PWD
	StandardOutput=append:$PWD/order.out
	StandardError=append:$PWD/order.out
	ExecStart=/bin/sh $PWD/order.sh
	EOF
	sd_start
	sdctl start order.service
	wait_for 10 has_lines order.out 5
	printf 'start 0 \nstart 3 c:b:a\nc\nb\na\n' >want
	diff -u want order.out || { cat order.sh; exit 1; }
}

# fdsend(1)'s runbook: a service parks its connection in systemd's fd store
# (fdsend -S 3=upstream) and crashes; systemd starts it again with the
# connection in LISTEN_FDS, and "exec fdrecv -S upstream" hands that very
# connection to the relay (the echo server saw one connection); the relay
# drops it from the store with fdsend -S -D.
store_relay() {
	serve 0 -e
	cat >relay.sh <<-EOF
	if [ -z "\${LISTEN_FDS:-}" ]; then
		exec 3<>/dev/tcp/127.0.0.1/$PORT
		echo first >&3
		read -r line <&3
		echo "\$line" >>out
		$BIN/fdsend -S 3=upstream
		exit 1
	fi
	echo "passed \$LISTEN_FDS \$LISTEN_FDNAMES" >>out
	exec $BIN/fdrecv -S upstream -m 0 /bin/bash -c 'echo second >&0
	    read -r line; echo "\$line" >>out
	    echo "stored \$(cat nstore)" >>out
	    $BIN/fdsend -S -D upstream; echo removed >>out; exec sleep 60'
	EOF
	unit relay.service <<-EOF
	[Unit]
	DefaultDependencies=no
	[Service]
	FileDescriptorStoreMax=1
	NotifyAccess=all
	Restart=on-failure
	RestartSec=200ms
	WorkingDirectory=$PWD
	StandardError=append:$PWD/relay.err
	ExecStart=/bin/bash $PWD/relay.sh
	EOF
	echo 1 >nstore
	sd_start
	sdctl start relay.service
	wait_for 10 grep -q removed out
	printf 'first\npassed 1 upstream\nsecond\nstored 1\nremoved\n' >want
	diff -u want out
	[ "$(prop relay.service NFileDescriptorStore)" = 0 ] ||
	    fail "store: $(prop relay.service NFileDescriptorStore)"
	[ "$(prop relay.service NRestarts)" = 1 ] ||
	    fail "NRestarts $(prop relay.service NRestarts)"
	sdctl stop relay.service
	server_done
}

relay_done() {
	grep -q second out || prop_is relay.service ActiveState failed
}

# The same, with fdsend(1)'s example lines run as the page writes them
# (FileDescriptorStoreMax=1, NotifyAccess=all; "relay" talks over its
# standard input and output).
store_relay_page() {
	local store take
	store=$(awk '/shell-script service parks/ { on = 1 }
	    on && /^\.Dl \$ fdsend -S/ { sub(/^\.Dl \$ /, ""); print; exit }' \
	    "$TESTS/../man/fdsend.1")
	take=$(awk '/shell-script service parks/ { on = 1 }
	    on && /^\.Dl \$ exec fdrecv -S/ { sub(/^\.Dl \$ /, ""); print; exit }' \
	    "$TESTS/../man/fdsend.1")
	[ -n "$store" ] && [ -n "$take" ] || fail "no example in fdsend(1)"
	t_note "fdsend(1): $store; $take"
	serve 0 -e
	mkdir bin
	cat >bin/relay <<-EOF
	#!/bin/sh
	echo second
	read -r line
	echo "\$line" >>$PWD/out
	exec sleep 60
	EOF
	chmod +x bin/relay
	cat >relay.sh <<-EOF
	PATH=$PWD/bin:$BIN:\$PATH
	if [ -z "\${LISTEN_FDS:-}" ]; then
		exec 3<>/dev/tcp/127.0.0.1/$PORT
		echo first >&3
		read -r line <&3
		echo "\$line" >>out
		$store
		exit 1
	fi
	$take
	EOF
	unit relay.service <<-EOF
	[Unit]
	DefaultDependencies=no
	[Service]
	FileDescriptorStoreMax=1
	NotifyAccess=all
	Restart=on-failure
	RestartSec=200ms
	StartLimitBurst=3
	WorkingDirectory=$PWD
	StandardError=append:$PWD/relay.err
	ExecStart=/bin/bash $PWD/relay.sh
	EOF
	sd_start
	sdctl start relay.service
	wait_for 10 relay_done
	[ ! -s relay.err ] || fail "relay.service: $(sort -u relay.err)"
	printf 'first\nsecond\n' >want
	diff -u want out
	sdctl stop relay.service
	server_done
}

# poke PATH: connect to the UNIX stream socket PATH and go.
poke() {
	timeout 10 python3 -c 'import socket, sys
socket.socket(socket.AF_UNIX).connect(sys.argv[1])' "$1"
}

# Socket activation, systemd's: two .socket units with FileDescriptorName=
# (web, other) activate one service, which runs "exec fdrecv -S other
# sdcheck"; a .socket unit without FileDescriptorName= (plain.socket)
# activates "exec fdrecv -S plain.socket sdcheck": systemd names an fd
# after its socket unit, never "unknown".  The two named sockets come in
# either order, Sockets= notwithstanding: picking by name is what works.
# (RemainAfterExit=yes: sdcheck
# accepts nothing, and the service started again and again otherwise.)
# sdcheck is libsystemd's
# sd_listen_fds_with_names(3): it sees the one fd picked, on 3, by name.
sock_activation() {
	local u
	for u in web other; do
		unit $u.socket <<-EOF
		[Unit]
		DefaultDependencies=no
		[Socket]
		ListenStream=$PWD/$u.sock
		FileDescriptorName=$u
		Service=pair.service
		EOF
	done
	unit pair.service <<-EOF
	[Unit]
	DefaultDependencies=no
	[Service]
	Type=oneshot
	RemainAfterExit=yes
	Sockets=web.socket other.socket
	StandardOutput=append:$PWD/pair.out
	StandardError=append:$PWD/pair.out
	ExecStart=/bin/sh -c 'echo "\$LISTEN_FDS \$LISTEN_FDNAMES"; \\
	    exec $BIN/fdrecv -S other $BIN/tests/sdcheck'
	EOF
	unit plain.socket <<-EOF
	[Unit]
	DefaultDependencies=no
	[Socket]
	ListenStream=$PWD/plain.sock
	EOF
	unit plain.service <<-EOF
	[Unit]
	DefaultDependencies=no
	[Service]
	Type=oneshot
	RemainAfterExit=yes
	StandardOutput=append:$PWD/plain.out
	StandardError=append:$PWD/plain.out
	ExecStart=/bin/sh -c 'echo "\$LISTEN_FDS \$LISTEN_FDNAMES"; \\
	    exec $BIN/fdrecv -S plain.socket $BIN/tests/sdcheck'
	EOF
	sd_start
	sdctl start web.socket other.socket plain.socket
	poke web.sock
	wait_for 10 has_lines pair.out 3
	# The order of the two is systemd's own (either, from run to run).
	case $(head -n 1 pair.out) in
	"2 web:other" | "2 other:web") ;;
	*) fail "passed: $(head -n 1 pair.out)" ;;
	esac
	t_note "systemd passed $(head -n 1 pair.out)"
	printf '1\n3 other socket\n' >want
	tail -n +2 pair.out | diff -u want -
	poke plain.sock
	wait_for 10 has_lines plain.out 3
	printf '1 plain.socket\n1\n3 plain.socket socket\n' >want
	diff -u want plain.out
}

# A server on the listening socket that fdrecv places on fd 3: one line
# to each client.
SERVE='import socket
l = socket.socket(fileno=3)
while True:
    c, _ = l.accept()
    try:
        c.sendall(b"served\n")
    except OSError:
        pass
    c.close()'

# runbook VARIANT: fdsend(1)'s runbook, a socket-activated service that
# hands its listening socket on with fdsend (to a receiver that runs a
# server on it) and exits.  Each start of the service is counted in
# ./starts, and N clients connect one after the other.
#   simple: as the page's ExecStart= line alone;
#   oneshot: with Type=oneshot and RemainAfterExit=yes;
#   store: parked in a store (fdsend -n http STORE 3), from which the
#       server takes it (fdrecv -n http -D);
#   store-oneshot: both.
runbook() {
	local variant=$1 n=$2 i
	unit web.socket <<-EOF
	[Unit]
	DefaultDependencies=no
	[Socket]
	ListenStream=$PWD/web.sock
	EOF
	{
		printf '[Unit]\nDefaultDependencies=no\n[Service]\n'
		case $variant in *oneshot)
			printf 'Type=oneshot\nRemainAfterExit=yes\n' ;;
		esac
		printf 'StandardError=append:%s\n' "$PWD/web.err"
		if [ "$variant" != "${variant#store}" ]; then
			printf '%s\n' "ExecStart=/bin/sh -c 'echo start >>$PWD/starts; \
exec $BIN/fdsend -t 5 -n http $PWD/fds.ctl 3'"
		else
			printf '%s\n' "ExecStart=/bin/sh -c 'echo start >>$PWD/starts; \
exec $BIN/fdsend -t 5 $PWD/hand.sock 3=http'"
		fi
	} | unit web.service
	: >starts
	if [ "$variant" != "${variant#store}" ]; then
		bg fdholder -s "$PWD/fds.ctl" 2>store.err
	else
		bg fdrecv -t 20 "$PWD/hand.sock" python3 -c "$SERVE"
	fi
	sd_start
	sdctl start web.socket
	for i in $(seq 1 "$n"); do
		if [ "$variant" != "${variant#store}" ] && [ "$i" = 1 ]; then
			bg poke web.sock
			wait_for 10 parked
			bg fdrecv -n http -D "$PWD/fds.ctl" python3 -c "$SERVE"
		fi
		[ "$(connect web.sock)" = served ] || fail "client $i not served"
	done
	sleep 0.5
	t_note "$variant: $n clients served, $(wc -l <starts) starts," \
	    "web.service $(prop web.service ActiveState)/$(prop web.service \
	    SubState) result $(prop web.service Result)," \
	    "web.socket $(prop web.socket ActiveState)"
}

parked() {
	fdholder -L -s "$PWD/fds.ctl" | grep -q '^http	'
}

# The page: systemd starts the unit again on the next connection once
# fdsend has exited.
runbook_simple() {
	runbook simple 2
	[ "$(wc -l <starts)" -ge 2 ] || fail "started $(wc -l <starts) times"
}

# The page: with Type=oneshot and RemainAfterExit=yes it counts as running,
# and is not started again.
runbook_oneshot() {
	runbook oneshot 3
	[ "$(wc -l <starts)" = 1 ] || fail "started $(wc -l <starts) times"
	[ "$(prop web.service ActiveState)/$(prop web.service SubState)" = \
	    active/exited ] || fail "web.service $(prop web.service SubState)"
}

# The page: "or park the socket in a store, which holds it while it runs",
# as if that kept systemd from starting the unit again.  It does not: the
# unit has exited, and the next connection (here the first one, not yet
# accepted while the server takes the socket out of the store) starts it
# again; its fdsend -n finds the entry taken, and systemd starts it again
# until its start limit, and fails the socket unit.
runbook_store() {
	runbook store 3
	[ "$(wc -l <starts)" -ge 2 ] || fail "started $(wc -l <starts) times"
	t_note "store: $(sort -u web.err)"
}

# What works with the store: Type=oneshot and RemainAfterExit=yes as well.
runbook_store_oneshot() {
	runbook store-oneshot 3
	[ "$(wc -l <starts)" = 1 ] || fail "started $(wc -l <starts) times"
}

# counts N FILE: "L lines, M missing, R repeated" of 1..N in FILE (lines
# that are not a number of 1..N count in L only).
counts() {
	local total distinct
	total=$(wc -l <"$2")
	distinct=$(sort -n -u "$2" | awk -v n="$1" \
	    '/^[0-9]+$/ && $1 >= 1 && $1 <= n { d++ } END { print d + 0 }')
	echo "$total lines, $(($1 - distinct)) missing," \
	    "$((total - distinct)) repeated"
}

# out_stream KIND: fdholder -S under systemd, its standard output
#   append: StandardOutput=append:FILE;
#   file: StandardOutput=file:FILE (no O_APPEND, offset 0 at each start);
#   fifo: StandardOutput=file:FIFO, a reader in the test copying it into
#       FILE;
# through SIGKILLs (systemctl kill) and restarts (systemctl restart), one
# after the other, each with the stream flowing: the server sends its
# next part once the test has counted the event in ./events.  Every line
# once, in order; the server saw one connection; the store holds the
# connection and the pipe (3), and the record of the last append (4) with
# append:, while the holder runs, and nothing once the connection has
# ended.
out_stream() {
	local kind=$1 n=2000000 steps=9 want pid i kills=0 restarts=0
	local output last=0 stored=3
	want=$(seq 1 "$n" | wc -c)
	[ "$kind" != append ] || stored=4
	: >events
	serve "$n" -g events -s "$steps"
	case $kind in
	append) output=append:$PWD/out ;;
	file)
		output=file:$PWD/out
		# What file: does: open at offset 0, without truncating.
		echo "written before the start" >probe.out
		unit probe.service <<-EOF
		[Unit]
		DefaultDependencies=no
		[Service]
		Type=oneshot
		StandardOutput=file:$PWD/probe.out
		ExecStart=/bin/echo new
		EOF
		;;
	fifo)
		mkfifo fifo
		: >out
		# Open for writing too: no end of file when a holder dies.
		bg sh -c 'exec cat <>fifo >out'
		output=file:$PWD/fifo
		;;
	esac
	unit out.service <<-EOF
	[Unit]
	DefaultDependencies=no
	StartLimitIntervalSec=0

	[Service]
	Type=notify
	NotifyAccess=main
	FileDescriptorStoreMax=4
	Restart=always
	TimeoutStartSec=5
	StandardOutput=$output
	StandardError=append:$PWD/out.err
	ExecStart=$BIN/fdholder -S -s $PWD/out.ctl 127.0.0.1 $PORT
	EOF
	sd_start
	if [ "$kind" = file ]; then
		sdctl start probe.service
		printf 'new\nten before the start\n' | diff -u - probe.out
		t_note "file: a start writes over the file from offset 0:" \
		    "$(head -n 2 probe.out | paste -s -d '|')"
	fi
	sdctl start out.service
	for i in $(seq 1 $((steps - 1))); do
		pid=$(prop out.service MainPID)
		[ "$(prop out.service NFileDescriptorStore)" = "$stored" ] ||
		    fail "store: $(prop out.service NFileDescriptorStore)"
		# The holder started at the last event has written.
		wait_for 10 grows out "$last"
		last=$(stat -c %s out)
		if [ $((i % 2)) = 1 ]; then
			sdctl kill -s KILL out.service
			kills=$((kills + 1))
		else
			sdctl restart --no-block out.service
			restarts=$((restarts + 1))
		fi
		wait_for 10 restarted out.service "$pid"
		# Before the event that lets the next part go: the stream is
		# still running at every kill and restart.  (Checked after the
		# last event, a loaded machine once let the last part through
		# first: "stream ended too soon".)
		[ "$(stat -c %s out)" -lt "$want" ] ||
		    fail "stream ended too soon"
		echo "$i" >>events
	done
	[ "$(prop out.service NFileDescriptorStore)" = "$stored" ] ||
	    fail "store: $(prop out.service NFileDescriptorStore)"
	wait_for 30 grows out $((want - 1))
	t_note "$kind: $kills kills, $restarts restarts, $(counts "$n" out)"
	seq 1 "$n" | cmp - out
	server_done
	wait_for 10 prop_is out.service NFileDescriptorStore 0
	sdctl stop out.service
}

out_append() {
	out_stream append
}

out_file() {
	out_stream file
}

out_fifo() {
	out_stream fifo
}

# refused VARIANT: a unit whose fd store takes nothing from the holder,
# its output appended to ./out (Restart=on-failure: the holder that
# follows a kill finds the stream server closing every connection after
# the first, and ends with 0):
#   child: NotifyAccess=main, the holder a child of the main process (sh
#       runs it and stays); systemd ignores its notifications, FDSTORE=1
#       and READY=1 alike;
#   max0: FileDescriptorStoreMax=0 (the default), the holder the main
#       process.
# The holder goes on unawares (a notification is a datagram, unanswered),
# the store stays empty, and a SIGKILL loses the connection: the server
# sees a second one.
# no_holder CTL: no fdholder runs on CTL.
no_holder() {
	! pgrep -f "fdholder -S -s $1 " >/dev/null
}

refused() {
	local variant=$1 pid
	serve 3000000 -B 4000000
	{
		printf '[Unit]\nDefaultDependencies=no\n[Service]\n'
		printf 'Restart=on-failure\nNotifyAccess=main\n'
		printf 'StandardError=append:%s\n' "$PWD/out.err"
		case $variant in
		child)
			printf 'FileDescriptorStoreMax=3\n'
			printf '%s\n' "ExecStart=/bin/sh -c '$BIN/fdholder -S \
-s $PWD/out.ctl 127.0.0.1 $PORT >>$PWD/out; :'"
			;;
		max0)
			printf 'Type=notify\nTimeoutStartSec=5\n'
			printf '%s\n' "ExecStart=/bin/sh -c 'exec $BIN/fdholder -S \
-s $PWD/out.ctl 127.0.0.1 $PORT >>$PWD/out'"
			;;
		esac
	} | unit out.service
	sd_start
	sdctl start out.service
	wait_for 10 grows out 0
	pid=$(prop out.service MainPID)
	[ "$(prop out.service NFileDescriptorStore)" = 0 ] ||
	    fail "store: $(prop out.service NFileDescriptorStore)"
	case $variant in
	child)
		wait_for 10 grep -q "out.service: Got notification message \
from PID [0-9]*, but reception only permitted for main PID $pid" console
		[ -z "$(prop out.service StatusText)" ] ||
		    fail "StatusText: $(prop out.service StatusText)"
		;;
	max0)
		wait_for 10 grep -q "out.service: Cannot store more fds than \
FileDescriptorStoreMax=0, closing remaining" console
		;;
	esac
	t_note "$variant: the console: $(grep -m 1 \
	    'out.service: \(Got notification message from PID [0-9]*, but\|Cannot store\)' \
	    console); StatusText \"$(prop out.service StatusText)\""
	sdctl kill -s KILL out.service
	# The unit's properties go once it is inactive and collected: read
	# the restart from the console, then wait for the restarted holder to
	# have connected and ended (the server closes its connection; only
	# then is it counted): its main process exits 0, the killed one did
	# not.  No holder at all is not enough: the restart waits RestartSec.
	wait_for 10 grep -q "out.service: Scheduled restart job, restart \
counter is at 1" console
	wait_for 10 grep -q "out.service: Main process exited, code=exited, \
status=0/SUCCESS" console
	wait_for 10 no_holder "$PWD/out.ctl"
	server_done 2
	if [ "$variant" = child ]; then
		expect_err out.err "fdholder: -S: not the service's main process"
		t_note "child: the holder said: $(head -n 1 out.err)"
	else
		[ ! -s out.err ] || fail "the holder said: $(cat out.err)"
	fi
}

refused_child() {
	refused child
}

refused_max0() {
	refused max0
}

# proxyd_taken: systemd-socket-proxyd, a LISTEN_FDS consumer nobody here
# wrote, runs on a listening socket taken from a running process: a server
# (first.py) listens on a port of loopback and never accepts; fdsend -p
# takes its listening descriptor and hands it to "fdrecv SOCK
# systemd-socket-proxyd 127.0.0.1:PORT2", which proxies each connection
# made to the first port to a second server (second.py, which greets and
# echoes a line); still so once the first server is gone.  No manager:
# fdrecv sets LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES itself.
proxyd_taken() {
	local first port2 i
	cat >first.py <<-'EOT'
	import os, socket, time
	l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(8)
	with open("first.tmp", "w") as f:
	    print(l.getsockname()[1], l.fileno(), file=f)
	os.rename("first.tmp", "first")
	time.sleep(60)
	EOT
	cat >second.py <<-'EOT'
	import os, socket
	l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(8)
	with open("second.tmp", "w") as f:
	    print(l.getsockname()[1], file=f)
	os.rename("second.tmp", "second")
	while True:
	    c, _ = l.accept()
	    c.sendall(b"second here\n")
	    c.sendall(c.makefile("rb").readline())
	    c.close()
	EOT
	bg python3 first.py
	first=$!
	bg python3 second.py
	wait_for 5 test -s first
	wait_for 5 test -s second
	read -r PORT LFD <first
	port2=$(cat second)
	bg fdrecv -t 10 "$PWD/hand.sock" "$PROXYD" "127.0.0.1:$port2"
	fdsend -p "$first" -t 10 "$PWD/hand.sock" "$LFD=web"
	for i in 1 2; do
		[ "$i" = 1 ] || { kill "$first"; wait_exit 5 "$first"; }
		timeout 10 python3 -c 'import socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
c.sendall(b"hello %s\n" % sys.argv[2].encode())
sys.stdout.write(c.makefile().read())' "$PORT" "$i" >out
		printf 'second here\nhello %s\n' "$i" | diff -u - out
	done
	t_note "a client of port $PORT reached port $port2 through" \
	    "systemd-socket-proxyd, before and after the first server ended"
}

# store_service [FDMAX] [EXEC]: fdholder(1)'s example store unit, the
# store of named fds kept in the fd store too (-S), FDMAX entries.
store_service() {
	unit store.service <<-EOF
	[Unit]
	DefaultDependencies=no
	StartLimitIntervalSec=0
	[Service]
	Type=notify
	NotifyAccess=${3:-main}
	FileDescriptorStoreMax=${1:-16}
	Restart=always
	TimeoutStartSec=5
	StandardError=append:$PWD/store.err
	ExecStart=${2:-$BIN/fdholder -S -E ${1:-16} -s $PWD/fds.ctl}
	EOF
}

# listing: fdholder -L without the age and the ttl left (name, uid, kinds).
listing() {
	fdholder -L -s "$PWD/fds.ctl" | cut -f 1,2,5
}

# field NAME N: field N of entry NAME in fdholder -L.
field() {
	fdholder -L -s "$PWD/fds.ctl" | awk -v n="$1" -v f="$2" -F '\t' \
	    '$1 == n { sub(/s$/, "", $f); print $f }'
}

# store_kill HOW: kill the store (KILL) or restart it, and wait for the
# next one to listen.
store_kill() {
	local pid
	pid=$(prop store.service MainPID)
	if [ "$1" = KILL ]; then
		sdctl kill -s KILL store.service
	else
		sdctl restart store.service
	fi
	wait_for 10 restarted store.service "$pid"
	wait_for 10 fdholder -L -s "$PWD/fds.ctl"
}

# The store survives its own crash (issue 13, item 7): entries stored with
# fdsend -n (three fds; a pipe with data in it; one with an expiry) come
# back after each SIGKILL of the store and after systemctl restart, with
# the same name, owner and fds, the pipe's data still in it, their age
# growing and their expiry counting on; a delete and a take done between
# crashes stay done; the fd store holds one fd per entry.
store_survives() {
	local i age0 left0 kinds
	store_service 16
	sd_start
	sdctl start store.service
	[ "$(prop store.service StatusText)" = "store of named fds: 0 \
entries, 0 fds, kept in the fd store too" ] ||
	    fail "StatusText: $(prop store.service StatusText)"
	echo hello >f
	mkfifo fifo
	exec 5<>fifo
	seq 1 100 >&5
	fdsend -n multi "$PWD/fds.ctl" 0 3=file 4=sock 3<f 4<>/dev/null \
	    </dev/null
	fdsend -n pipe "$PWD/fds.ctl" 5=data
	exec 5>&-
	fdsend -n short -e 60 "$PWD/fds.ctl" 0 </dev/null
	fdsend -n gone "$PWD/fds.ctl" 0 </dev/null
	fdsend -n taken "$PWD/fds.ctl" 3 3<f
	listing >want
	[ "$(prop store.service NFileDescriptorStore)" = 5 ] ||
	    fail "fd store: $(prop store.service NFileDescriptorStore)"
	age0=$(field multi 3)
	left0=$(field short 4)
	sleep 2.2
	for i in 1 2 3; do
		store_kill KILL
		listing >got
		diff -u want got || fail "after kill $i: $(cat store.err)"
	done
	[ "$(field multi 3)" -ge $((age0 + 2)) ] ||
	    fail "age $age0, then $(field multi 3)"
	[ "$(field short 4)" -le $((left0 - 2)) ] ||
	    fail "ttl left $left0, then $(field short 4)"
	# A delete and a take between crashes stay done.
	fdholder -D -s "$PWD/fds.ctl" gone
	[ "$(fdrecv -n taken -D "$PWD/fds.ctl" sh -c 'cat <&3')" = hello ]
	grep -v '^gone	\|^taken	' want >want2
	store_kill KILL
	listing >got
	diff -u want2 got || fail "after a delete and a take, a kill"
	store_kill restart
	listing >got
	diff -u want2 got || fail "after systemctl restart"
	[ "$(prop store.service NFileDescriptorStore)" = 3 ] ||
	    fail "fd store: $(prop store.service NFileDescriptorStore)"
	# The fds are the same: the file, the pipe with its data.
	fdrecv -n multi "$PWD/fds.ctl" sh -c 'echo "$LISTEN_FDS $LISTEN_FDNAMES"
	    cat <&4' >out
	printf '3 unknown:file:sock\nhello\n' | diff -u - out
	fdrecv -n pipe -D "$PWD/fds.ctl" sh -c 'head -n 100 <&3' >out
	seq 1 100 | diff -u - out
	[ "$(prop store.service NFileDescriptorStore)" = 2 ] ||
	    fail "fd store: $(prop store.service NFileDescriptorStore)"
	t_note "4 SIGKILLs and a systemctl restart; after them:" \
	    "$(fdholder -L -s "$PWD/fds.ctl" | tr '\t\n' ' ;')"
	[ ! -s store.err ] || fail "store said: $(cat store.err)"
}

# FileDescriptorStoreMax= reached: the store sees that systemd did not
# keep the entry (the socket's other end hangs up after a barrier), refuses
# the store request and keeps nothing; what is in the fd store comes back.
store_fdmax() {
	store_service 2 "$BIN/fdholder -S -E 16 -s $PWD/fds.ctl"
	sd_start
	sdctl start store.service
	fdsend -n a "$PWD/fds.ctl" 0 </dev/null
	fdsend -n b "$PWD/fds.ctl" 0 </dev/null
	! fdsend -n c "$PWD/fds.ctl" 0 </dev/null 2>err
	expect_err err "fdsend: $PWD/fds.ctl: the service manager did not keep the entry in its fd store (FileDescriptorStoreMax= reached?)"
	printf 'a\nb\n' >want
	fdholder -L -s "$PWD/fds.ctl" | cut -f 1 | diff -u want -
	store_kill KILL
	fdholder -L -s "$PWD/fds.ctl" | cut -f 1 | diff -u want -
	grep -q "store.service: Hit fd store limit" console ||
	    t_note "no 'Hit fd store limit' line in the console"
}

# inject_unit: a store unit that runs under strace when ./inject says N,
# killed (SIGKILL) at the entry of its N-th sendmsg; plainly otherwise.
inject_unit() {
	cat >store.sh <<-EOF
	if [ -e $PWD/inject ]; then
		n=\$(cat $PWD/inject); rm $PWD/inject
		exec strace -f -qq -o /dev/null \\
		    -e inject=sendmsg:signal=KILL:when=\$n \\
		    $BIN/fdholder -S -s $PWD/fds.ctl
	fi
	exec $BIN/fdholder -S -s $PWD/fds.ctl
	EOF
	store_service 16 "/bin/sh $PWD/store.sh" all
}

# A store killed in the middle of a store request, at each of its steps:
# sendmsg 1 is READY=1, 2 and 3 write the entry into its socket, 4 hands
# that to systemd (FDSTORE=1), 5 is the barrier, 6 the client's F_ACK.
# Killed on entering 2, 3 or 4: the client is told nothing good, and nothing is kept
# anywhere (the socket died with the store).  Killed at 5 or 6: systemd
# holds the entry, the client saw no acknowledgement; after the restart the
# entry is there (a client that sees no acknowledgement lists the store).
store_crash_mid_store() {
	local n pid got nfd
	inject_unit
	sd_start
	for n in 2 3 4 5 6; do
		echo "$n" >inject
		sdctl start store.service
		pid=$(prop store.service MainPID)
		! fdsend -n x "$PWD/fds.ctl" 0 </dev/null 2>err ||
		    fail "$n: acknowledged"
		wait_for 10 restarted store.service "$pid"
		wait_for 10 fdholder -L -s "$PWD/fds.ctl"
		got=$(fdholder -L -s "$PWD/fds.ctl" | cut -f 1)
		nfd=$(prop store.service NFileDescriptorStore)
		echo "killed at sendmsg $n: client: $(tr '\n' ' ' <err)" \
		    "; after restart: entries [$got], fd store $nfd" >>report
		# Before FDSTORE=1 (2-4): nothing.  Killed at the barrier
		# (5), after FDSTORE=1 left: systemd may or may not have
		# taken it from a process that is gone (it attributes a
		# notification by its sender), but never half of it.  After
		# the barrier (6): kept, the client merely never told.
		case $n in
		[234])	[ -z "$got" ] && [ "$nfd" = 0 ] ;;
		5)	{ [ -z "$got" ] && [ "$nfd" = 0 ]; } ||
			    { [ "$got" = x ] && [ "$nfd" = 1 ]; } ;;
		*)	[ "$got" = x ] && [ "$nfd" = 1 ] ;;
		esac || fail "$n: [$got] $nfd"
		sdctl stop store.service
	done
	t_note "$(cat report)"
}

sd_case "fdholder(1)'s chat.service: Type=notify, STATUS=, 7 SIGKILLs in 10 s, every line once" chat_killed
sd_case "without StartLimitIntervalSec=0 systemd gives up and releases the connection" chat_start_limit
sd_case "the fd store hands fds back newest first (c:b:a)" store_order
sd_case "fdsend -S parks a connection, exec fdrecv -S takes it back after a crash, fdsend -S -D drops it" store_relay
sd_case "socket activation: fdrecv -S picks one of two named sockets, and one named after its .socket unit, for sd_listen_fds_with_names" sock_activation
sd_case "fdsend(1)'s runbook: a socket-activated fdsend is started again on the next connection" runbook_simple
sd_case "fdsend(1)'s runbook: Type=oneshot, RemainAfterExit=yes: started once for 3 connections" runbook_oneshot
sd_case "fdsend(1)'s runbook: parked in fdholder's store, the unit is started again all the same" runbook_store
sd_case "fdsend(1)'s runbook: parked in the store, with Type=oneshot and RemainAfterExit=yes: started once" runbook_store_oneshot
sd_case "fdsend(1)'s example as written: fdsend -S 3=upstream, then exec fdrecv -S upstream, under systemd" store_relay_page
sd_case "fdholder -S, StandardOutput=append: through SIGKILLs and restarts: every line once, one connection, store 4 then 0" out_append
sd_case "fdholder -S, StandardOutput=file: (offset 0 at each start) through SIGKILLs and restarts: every line once, one connection, store 3 then 0" out_file
sd_case "fdholder -S, StandardOutput=file:FIFO through SIGKILLs and restarts: every line once, one connection, store 3 then 0" out_fifo
sd_case "refused store, the holder a child of the main process (NotifyAccess=main): a SIGKILL loses the connection" refused_child
sd_case "refused store, FileDescriptorStoreMax=0: a SIGKILL loses the connection" refused_max0
if [ ! -x "$PROXYD" ]; then
	t_skip "systemd-socket-proxyd on a listening socket taken with fdsend -p (no manager)" "no $PROXYD"
else
	t_case "systemd-socket-proxyd on a listening socket taken with fdsend -p (no manager): a client of the first port reaches the second server" proxyd_taken
fi
sd_case "fdholder -S: the store's entries survive SIGKILL and systemctl restart, in the fd store" store_survives
sd_case "fdholder -S: FileDescriptorStoreMax= reached: the store request is refused, nothing kept" store_fdmax
if have_strace; then
	sd_case "fdholder -S: killed at each step of a store request, it keeps nothing unacknowledged half-way" store_crash_mid_store
else
	t_skip store_crash_mid_store "strace cannot trace here"
fi
t_done
