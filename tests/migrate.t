#!/bin/bash
# ISC license: see LICENSE.
# fdholder -x and -X: a held connection moved to another host and back,
# with network namespaces as hosts: a server namespace S whose bridge
# joins hosts A and B, and the floating client address 10.27.0.10 moved
# between them as fdholder(1)'s runbook says (MOVING A CONNECTION), with
# `ssh hostA` made `ip netns exec A`.
. "$(dirname "$0")/lib.sh"
TESTS=$(cd "$(dirname "$0")" && pwd)
MAN=$(cd "$(dirname "$0")/../man" && pwd)
SRV="python3 $TESTS/migsrv.py"
FLOAT=10.27.0.10
SADDR=10.27.0.1
SPORT=7000

# fail MESSAGE: lib.sh's, with what every process of the case said.
fail() {
	local f
	echo "FAIL: $*" >&2
	for f in err.* srv; do
		[ ! -s "$f" ] || sed "s/^/$f: /" "$f" >&2
	done
	exit 1
}

# The namespaces of this case: unique names, deleted when it ends.
nets() {
	local h
	NS_S=m27s$$ NS_A=m27a$$ NS_B=m27b$$
	for h in $NS_S $NS_A $NS_B; do
		ip netns add "$h"
		defer "ip netns del $h"
		ip -n "$h" link set lo up
	done
	ip -n "$NS_S" link add br0 type bridge
	ip -n "$NS_S" addr add "$SADDR/24" dev br0
	ip -n "$NS_S" link set br0 up
	ip -n "$NS_S" link add va type veth peer name eth0 netns "$NS_A"
	ip -n "$NS_S" link add vb type veth peer name eth0 netns "$NS_B"
	for h in va vb; do
		ip -n "$NS_S" link set "$h" master br0 up
	done
	ip -n "$NS_A" addr add 10.27.0.2/24 dev eth0
	ip -n "$NS_B" addr add 10.27.0.3/24 dev eth0
	ip -n "$NS_A" link set eth0 up
	ip -n "$NS_B" link set eth0 up
	# The first connection goes from the floating address.
	ip -n "$NS_A" addr add "$FLOAT/24" dev eth0
	ip -n "$NS_A" route replace "$SADDR/32" dev eth0 src "$FLOAT"
	# Bridge ports learn and forward at once.
	wait_for 10 ip netns exec "$NS_A" arping -q -c 1 -w 1 -I eth0 "$SADDR"
	wait_for 10 ip netns exec "$NS_B" arping -q -c 1 -w 1 -I eth0 "$SADDR"
}

# on HOST CMD ...: CMD on host HOST (A, B or S), in place of the shell
# (for bg: its pid is CMD's).
on() {
	local h=NS_$1
	shift
	exec ip netns exec "${!h}" "$@"
}

# at HOST CMD ...: CMD on host HOST, a child of the shell.
at() {
	local h=NS_$1
	shift
	ip netns exec "${!h}" "$@"
}

# server RATE: the stream server in S; its pid in $SERVER.
server() {
	bg on S $SRV "$SADDR" "$SPORT" "$1" >srv
	SERVER=$!
	wait_for 10 grep -q ready srv
}

# writer: -i's input, a line "K NS" every 5 ms into the FIFO ./in, which
# every holder in turn reads (one at a time: a frozen holder reads
# nothing).  The test keeps it open for reading too, so that the writer
# never sees a FIFO without a reader.
writer() {
	mkfifo in
	exec 9<>in
	bg python3 -c 'import sys, time
k = 1
while True:
    sys.stdout.write("%d %d\n" % (k, time.monotonic_ns()))
    sys.stdout.flush()
    k += 1
    time.sleep(0.005)' >in
}

# rsts: the TCP resets sent from every host, all together.
rsts() {
	local h n=0
	for h in S A B; do
		n=$((n + $(at "$h" nstat -asz TcpOutRsts |
		    awk '/TcpOutRsts/ { print $2 }')))
	done
	echo "$n"
}

# runbook FROM TO G: fdholder(1)'s runbook (Moving a connection to
# another host), its commands as lines "HOST COMMAND" in ./rb.G, made a
# move from host FROM to host TO: the page's hostA is FROM, hostB TO,
# `ssh hostA` is `ip netns exec`, each host's /run/chat.ctl its ./ctl.HOST,
# 192.0.2.10 the floating address, chat.log and chat.err out.G and err.G.
runbook() {
	local h=NS_$1
	mandoc -Tascii "$MAN/fdholder.1" | col -bx |
	    sed -n '/^ *Moving a connection to another host$/,/^SEE ALSO/p' |
	    sed -n '/^ *host[AB]# /{
		:a
		/\\$/{N;s/\\\n *//;ba
		}
		s/^ *host\([AB]\)# /\1 /p
	    }' |
	    awk -v from="$1" -v to="$2" -v ns="${!h}" -v dir="$PWD" \
		-v fl="$FLOAT" -v g="$3" '{
		h = $1 == "A" ? from : to
		line = substr($0, 3)
		gsub(/ssh hostA fdholder -x -s \/run\/chat\.ctl/,
		    "ip netns exec " ns " fdholder -x -s " dir "/ctl." from, line)
		gsub(/\/run\/chat\.ctl/, dir "/ctl." h, line)
		gsub(/192\.0\.2\.10/, fl, line)
		gsub(/chat\.log/, "out." g, line)
		gsub(/chat\.err/, "err." g, line)
		print h, line
	    }' >"rb.$3"
	[ "$(wc -l <"rb.$3")" = 6 ] || fail "the page's runbook: $(cat "rb.$3")"
}

# play FILE N M [REDIR]: lines N to M of a runbook, each on its host: one
# that ends in & in the background, its pid in $HOLDER, with REDIR (the
# FIFO for -i).  arping says 1 for no answer, as -U expects none.
play() {
	local h cmd rc
	while read -r h cmd; do
		case $cmd in
		*'&')
			bg on "$h" sh -c "exec ${cmd%&} ${4:-}"
			HOLDER=$!
			;;
		*)
			rc=0
			at "$h" sh -c "$cmd" || rc=$?
			case $rc,$cmd in
			0,* | 1,arping*) ;;
			*) fail "$h: $cmd: exit $rc" ;;
			esac
			;;
		esac
	done < <(sed -n "$2,$3p" "$1")
}

# One move of the connection from host $1 to host $2, the importer
# writing to out.$3, as the page says: the address down on the old host,
# the importer, its word, the address up on the new host.  With -i here,
# to check what it sends too.
move() {
	sink "$3"
	runbook "$1" "$2" "$3"
	sed -i 's/fdholder -X /fdholder -i -X /' "rb.$3"
	local t0=$EPOCHREALTIME
	play "rb.$3" 1 2 "<in"
	wait_for 10 grep -q 'moved in the connection' "err.$3"
	play "rb.$3" 3 3
	echo "$t0 $EPOCHREALTIME" | awk '{ printf "%.1f\n", ($2 - $1) * 1000 }' \
	    >>downup
	play "rb.$3" 4 4
}

# sink G: out.G a FIFO whose bytes tsink.py copies to data.G, and their
# times to ts.G once the holder writing it is gone.
sink() {
	mkfifo "out.$1"
	bg python3 "$TESTS/tsink.py" "out.$1" "data.$1" "ts.$1"
}

# stalls: for each move, about how long the holders' reader waited for
# new lines, in ms: from the old holder's last bytes to the new one's
# first (those the old one had not written), and then the new one's
# longest wait (for the server to send again) (ts.G: first last maxgap).
stalls() {
	local g
	for g in 1 2 3 4 5 6; do
		echo "$(cat "ts.$((g - 1))") $(cat "ts.$g")"
	done | awk '{ printf "%.1f\n", ($4 - $2 + $6) * 1000 }'
}

# ms FILE: the "frozen N ms before" of the importer's word.
ms() {
	sed -n 's/.*frozen \([0-9.]*\) ms before.*/\1/p' "$1"
}

median() {
	sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}

# Six moves and back while 20,000 lines a second flow: the server
# accepts one connection and is never reset, no host sends a reset,
# every line arrives once and in order across the holders' outputs, and
# so does every line -i sent.
six_moves() {
	local g prev from to n sent
	nets
	server 20000
	writer
	sink 0
	bg on A fdholder -i -s "$PWD/ctl.A" "$SADDR" "$SPORT" <in >out.0 \
	    2>err.0
	prev=$!
	wait_for 10 test -s data.0
	from=A to=B
	for g in 1 2 3 4 5 6; do
		sleep 0.3
		move "$from" "$to" "$g"
		reap 10 "$prev"
		[ "$RC" = 0 ] || fail "holder $g-1 exited $RC: $(cat err.$((g - 1)))"
		prev=$HOLDER
		n=$from from=$to to=$n
	done
	sleep 0.3
	kill -TERM "$SERVER"
	wait_exit 10 "$SERVER"
	reap 10 "$prev"
	[ "$RC" = 0 ] || fail "the last holder exited $RC: $(cat err.6)"
	sent=$(sed -n 's/.* sent \([0-9]*\) .*/\1/p' srv)
	wait_for 10 test -s ts.6
	cat data.0 data.1 data.2 data.3 data.4 data.5 data.6 >data
	seq 1 "$sent" | cmp - data || fail "the lines differ: $(seq 1 "$sent" |
	    diff - data | head -5)"
	grep -q '^accepted 1 reset 0 ' srv || fail "server: $(cat srv)"
	! grep -q '^bad' srv || fail "-i's lines: $(cat srv)"
	[ "$(rsts)" = 0 ] || fail "$(rsts) resets sent"
	for g in 1 2 3 4 5 6; do
		grep -v 'moved in the connection' "err.$g" >>errs || :
	done
	[ ! -s errs ] || fail "errors: $(cat errs)"
	t_note "lines $sent; $(sed -n 's/.* got \([0-9]*\) maxgap_ms \([0-9.]*\) maxsend_ms \([0-9.]*\).*/-i lines \1, longest gap at the server \2 ms, longest send \3 ms/p' srv)"
	t_note "holders' output stalled, median of 6 moves: $(stalls | median) ms (each: $(stalls | tr '\n' ' '))"
	t_note "address down on the old host to up on the new one (the runbook's steps), median: $(median <downup) ms (each: $(tr '\n' ' ' <downup))"
	t_note "freeze to thaw, median of 6 moves: $(for g in 1 2 3 4 5 6; do ms "err.$g"; done | median) ms (each: $(for g in 1 2 3 4 5 6; do ms "err.$g"; done | tr '\n' ' '))"
}

# started [WRAP ...]: the hosts, the server, -i's writer, and a holder on
# A (run by WRAP, if any: setpriv; with the options $HOPTS) holding the
# connection to out.0; its pid in $OLD.
started() {
	nets
	server 20000
	writer
	bg on A "$@" fdholder ${HOPTS-} -i -s "$PWD/ctl.A" "$SADDR" "$SPORT" \
	    <in >out.0 2>err.0
	OLD=$!
	wait_for 10 test -s out.0
}

# refused STATUS MESSAGE [IMPORTER-WRAP ...] -- [EXPORTER-WRAP ...]: the
# runbook's move from A to B, the importer run by IMPORTER-WRAP, the
# exporter by EXPORTER-WRAP, fails: the importer exits STATUS, saying
# MESSAGE, and leaves nothing behind; then the runbook's way back (the
# address up on A again), and the old holder goes on.
refused() {
	local want=$1 msg=$2 iw=() rc=0 n
	shift 2
	while [ "$1" != -- ]; do
		iw+=("$1")
		shift
	done
	shift
	at A ip addr del "$FLOAT/24" dev eth0
	at B timeout 20 "${iw[@]}" fdholder -i -X -s "$PWD/ctl.B" -- \
	    "$@" ip netns exec "$NS_A" fdholder -x -s "$PWD/ctl.A" \
	    <in >out.1 2>err.1 || rc=$?
	[ "$rc" = "$want" ] || fail "the importer exited $rc, not $want"
	expect_err err.1 "$msg"
	[ ! -s out.1 ] || fail "the importer wrote $(wc -l <out.1) lines"
	[ "$want" = 137 ] || [ ! -e ctl.B ] ||
	    fail "the importer left its control socket"
	runbook A B 1
	play rb.1 5 6
	kill -0 "$OLD" || fail "the old holder is gone"
	n=$(wc -l <out.0)
	wait_for 10 lines_in out.0 $((n + 4000))
}

# lines_in FILE N: FILE has N lines or more.
lines_in() {
	[ "$(wc -l <"$1")" -ge "$2" ]
}

# ended: the server stops; the old holder wrote every line it sent, the
# server saw one connection, no reset, -i's lines once and in order, and
# no host sent a reset.
ended() {
	local sent
	kill -TERM "$SERVER"
	wait_exit 10 "$SERVER"
	reap 10 "$OLD"
	[ "$RC" = 0 ] || fail "the old holder exited $RC"
	sent=$(sed -n 's/.* sent \([0-9]*\) .*/\1/p' srv)
	seq 1 "$sent" | cmp - out.0 || fail "the lines differ"
	grep -q '^accepted 1 reset 0 ' srv || fail "server: $(cat srv)"
	! grep -q '^bad' srv || fail "-i's lines: $(cat srv)"
	[ "$(rsts)" = 0 ] || fail "$(rsts) resets sent"
}

# Without CAP_NET_ADMIN the holder cannot freeze its connection: it says
# so, and holds it as before.
no_cap_holder() {
	started setpriv --inh-caps=-net_admin --bounding-set=-net_admin
	refused 1 "ip: -x needs CAP_NET_ADMIN (TCP_REPAIR)" --
	expect_err err.1 "ip: -x needs CAP_NET_ADMIN (TCP_REPAIR)"
	ended
}

# Without CAP_NET_ADMIN the importer cannot rebuild the connection: it
# says so over the transport, and the holder thaws its own and resumes.
no_cap_importer() {
	started
	refused 1 "import: -X needs CAP_NET_ADMIN (TCP_REPAIR); the holder on the other host resumes" \
	    setpriv --inh-caps=-net_admin --bounding-set=-net_admin -- 
	expect_err err.0 "export refused: -X needs CAP_NET_ADMIN (TCP_REPAIR); resumed"
	ended
}

# A record of another version: the importer refuses it.
other_version() {
	started
	refused 111 "import: record version 2 not supported (this is 1)" -- \
	    python3 "$TESTS/migproxy.py" -V 2
	expect_err err.0 "export refused: record version 2 not supported"
	ended
}

# The address still up on the old host: its server's packets would reach
# the frozen socket and make the record stale.  The exporter refuses.
address_up() {
	local rc=0
	started
	at B timeout 20 fdholder -X -s "$PWD/ctl.B" -- ip netns exec \
	    "$NS_A" fdholder -x -s "$PWD/ctl.A" >out.1 2>err.1 || rc=$?
	[ "$rc" = 1 ] || fail "the importer exited $rc"
	expect_err err.1 "$FLOAT:"
	expect_err err.1 "is still an address of this host: take it down first"
	kill -0 "$OLD" || fail "the old holder is gone"
	wait_for 10 lines_in out.0 $(($(wc -l <out.0) + 4000))
	ended
}

# The exchange cut at each step, at the exact instant (strace kills the
# process at its system call); nothing is lost, one holder is left.
# The exporter killed after the holder froze and sent its state, as it
# writes the record out:
cut_exporter_record() {
	started
	refused 111 "strace: ended without a record" -- strace -o /dev/null -qq \
	    -e trace=write -e inject=write:signal=KILL:when=1
	expect_err err.0 "export: the exporter went away before the importer confirmed; resumed"
	ended
}

# The importer killed once it has the record, as it opens the socket to
# rebuild (its second socket(2): the first is its control socket's):
cut_importer_record() {
	started
	refused 137 "" strace -o /dev/null -qq -e trace=socket \
	    -e inject=socket:signal=KILL:when=2 --
	wait_for 10 grep -q 'export: the exporter went away' err.0
	ended
}

# The exporter killed as it passes the importer's confirmation on, and
# the transport cut there: the holder never has it, and resumes; the
# importer, which had rebuilt the connection, lets its frozen copy go
# without a packet.
cut_exporter_confirm() {
	started
	refused 111 "ended before the holder's verdict; the holder on the other host keeps the connection" -- \
	    strace -o /dev/null -qq -e trace=sendmsg \
	    -e inject=sendmsg:signal=KILL:when=2
	ended
}

# The transport hangs once it has the importer's confirmation: the holder
# gives up at its -t and resumes, the importer at twice its -t, saying
# the holder keeps the connection, and lets its frozen copy go.  -t 3,
# not 1: the importer must have rebuilt and confirmed within the holder's
# -t, and under load (make check runs three scripts at a time) a second
# was once not enough.
hung_transport() {
	local rc=0 n
	HOPTS="-t 3" started
	at A ip addr del "$FLOAT/24" dev eth0
	at B timeout 30 fdholder -t 3 -X -s "$PWD/ctl.B" -- python3 \
	    "$TESTS/migproxy.py" -H confirm ip netns exec "$NS_A" fdholder \
	    -x -s "$PWD/ctl.A" >out.1 2>err.1 || rc=$?
	[ "$rc" = 99 ] || fail "the importer exited $rc, not 99"
	expect_err err.1 "the holder on the other host keeps the connection"
	expect_err err.0 "confirmation timed out; resumed"
	runbook A B 1
	play rb.1 5 6
	n=$(wc -l <out.0)
	wait_for 10 lines_in out.0 $((n + 4000))
	ended
}

# The importer's confirmation arrives as another frame: the exporter
# passes it on to neither side as a confirmation, and the holder resumes.
not_a_confirmation() {
	started
	refused 111 "the importer sent frame type 99, not a confirmation; the holder on the other host keeps the connection" -- \
	    python3 "$TESTS/migproxy.py" -R 99
	expect_err err.0 "export refused: the importer sent frame type 99, not a confirmation; resumed"
	ended
}

cut_transport_confirm() {
	started
	refused 111 "ended before the holder's verdict; the holder on the other host keeps the connection" -- \
	    python3 "$TESTS/migproxy.py" -K confirm
	ended
}

# export VERSION SOCKET: ask SOCKET for a connection's state in a record
# of VERSION (F_EXPORT); print the answer's type and, for an F_ERROR, its
# code and text.
export_ask() {
	python3 -c 'import socket, struct, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[2])
s.sendall(b"FD\x01\x17" + struct.pack(">HHI", 0, 0, 1) + bytes([int(sys.argv[1])]))
h = b""
while len(h) < 12:
    h += s.recv(12 - len(h))
n = struct.unpack(">I", h[8:12])[0]
p = b""
while len(p) < n:
    p += s.recv(n - len(p))
if h[3] == 3:
    print(3, struct.unpack(">H", p[:2])[0], p[2:].decode())
else:
    print(h[3])' "$@"
}

# What a holder or a store answers to F_EXPORT that it cannot serve; the
# holder goes on as before.
export_refused() {
	local n
	serve 2000000 -r 20000
	hold
	wait_for 10 lines 100
	export_ask 2 "$PWD/ctl" >ans
	[ "$(cat ans)" = "3 3 record version 2 not supported (this is 1)" ] ||
	    fail "holder: $(cat ans)"
	n=$(wc -l <data)
	wait_for 10 lines $((n + 1000))
	bg fdholder -s "$PWD/store"
	wait_for 10 test -S store
	export_ask 1 "$PWD/store" >ans
	[ "$(cat ans)" = "3 2 unexpected frame type 23" ] ||
	    fail "store: $(cat ans)"
	server_done
	reap 10 "$HOLDER"
	[ "$RC" = 0 ] || fail "the holder exited $RC: $(cat errs)"
}

t_case "F_EXPORT of another version, or to a store: refused, nothing changes" export_refused
[ "$(id -u)" = 0 ] && command -v arping >/dev/null || {
	t_skip "six moves" "needs root and arping (iputils-arping)"
	t_done
	exit
}
t_case "six moves back and forth: one connection, no reset, every line once" six_moves
t_case "-x without CAP_NET_ADMIN: refused, the holder goes on" no_cap_holder
t_case "-X without CAP_NET_ADMIN: refused, the holder resumes" no_cap_importer
t_case "a record of another version: refused, the holder resumes" other_version
t_case "the address still up on the old host: refused" address_up
t_case "exporter killed after the freeze: the holder resumes" cut_exporter_record
t_case "importer killed with the record: the holder resumes" cut_importer_record
t_case "exporter killed before the confirmation: the holder resumes" cut_exporter_confirm
t_case "transport cut before the confirmation: the holder resumes" cut_transport_confirm
t_case "not a confirmation: refused, the holder resumes" not_a_confirmation
t_case "transport hung after the confirmation: both give up, the holder resumes" hung_transport
t_done
