#!/bin/bash
# ISC license: see LICENSE.
# The operator's messages (issue 24): a wait a person could take for a
# hang is said after a second; errors say what to do; --version and -h;
# no lock file is left behind.
. "$(dirname "$0")/lib.sh"

TOOLS="fdsend fdrecv fdholder effif"
SRC=$(cd "$(dirname "$0")/.." && pwd)
PEER="python3 $SRC/tests/peer.py"

# lines FILE N: FILE has exactly N lines.
lines() {
	[ "$(wc -l <"$1")" -eq "$2" ] || { cat "$1" >&2; fail "$1: not $2 lines"; }
}

# A typo'd socket: after a second, one line naming what is awaited and
# where, then the -t timeout; the line once only.
wait_typo_bounded() {
	must_fail 99 sh -c 'seq 3 | exec fdsend -t 2.5 typo.sock 0'
	printf '%s\n' "fdsend: waiting for a receiver on typo.sock; -t gives up after 2.5 s" \
	    "fdsend: connect typo.sock: timed out" | diff -u - err
}

# Unbounded: the hint at -t, once, and the wait was real.
wait_typo_unbounded() {
	bg sh -c 'exec fdrecv -c typo.sock >out 2>rerr'
	R=$!
	wait_for 5 grep -q . rerr
	sleep 1.5
	echo "fdrecv: waiting for a sender on typo.sock; -t bounds the wait" |
	    diff -u - rerr
	seq 3 | fdsend -l -t 5 typo.sock 0 2>serr
	reap 5 "$R"
	[ "$RC" = 0 ] && [ "$(cat out)" = "$(seq 3)" ] || fail "fdrecv $RC"
	[ ! -s serr ] || fail "fdsend: $(cat serr)"
}

# Listening, both ways.
wait_listen() {
	bg sh -c 'seq 3 | exec fdsend -l s 0 2>serr'
	S=$!
	wait_for 5 grep -q . serr
	echo "fdsend: waiting for a receiver on s; -t bounds the wait" |
	    diff -u - serr
	kill "$S"
	bg sh -c 'exec fdrecv -t 30 r cat 2>rerr'
	wait_for 5 grep -q . rerr
	echo "fdrecv: waiting for a sender on r; -t gives up after 30 s" |
	    diff -u - rerr
}

# fdsend -S: a service manager that does not answer.
wait_notify() {
	bg $PEER notify n hang >log
	wait_for 5 test -S n
	must_fail 99 env NOTIFY_SOCKET=n fdsend -S -t 2 0=x
	printf '%s\n' "fdsend: waiting for the service manager on n to take the fds; -t gives up after 2 s" \
	    "fdsend: wait for the service manager: Connection timed out" |
	    diff -u - err
}

# Quiet on success: a peer within the second says nothing.
wait_quiet() {
	bg sh -c 'exec fdrecv -t 5 s cat >out 2>rerr'
	R=$!
	wait_for 5 test -S s
	seq 3 | fdsend -t 5 s 0 2>serr
	reap 5 "$R"
	[ ! -s serr ] && [ ! -s rerr ] || fail "said: $(cat serr rerr)"
}

store() {
	bg fdholder -s "$PWD/st" 2>>sterr
	STORE=$!
	wait_for 10 fdholder -L -s st
}

# fdsend without -n to a store: what the store is, and what it wants.
store_no_name() {
	store
	must_fail 111 fdsend -t 5 st 0
	expect_err err "fdsend: st: refused by receiver: fds on a request: an fdholder store (pid $STORE) takes fds only as a named entry: fdsend -n NAME"
}

# fdrecv -c on a store that took over from another: the live one named.
store_recv_c() {
	store
	OLD=$STORE
	store
	wait_exit 10 "$OLD"
	must_fail 111 fdrecv -c -t 5 st cat
	expect_err err "fdrecv: st: refused by sender: timed out: no whole request within 1000 ms: an fdholder store (pid $STORE) waits for a request: fdrecv -n NAME fetches an entry"
}

# fd 9 not open: said of the calling process.
not_open() {
	must_fail 100 fdsend -t 1 s 9
	echo "fdsend: fd 9: not open in the calling process (fdsend sends the fds it inherits; -p pid takes another process's)" |
	    diff -u - err
}

# A missing operand or option is named before the usage.
missing() {
	must_fail 100 fdsend
	expect_err err "fdsend: missing socket operand"
	must_fail 100 fdsend s
	expect_err err "fdsend: missing fd operand after the socket"
	must_fail 100 env NOTIFY_SOCKET=n fdsend -S
	expect_err err "fdsend: missing fd operand"
	must_fail 100 fdrecv
	expect_err err "fdrecv: missing socket operand"
	must_fail 100 fdholder
	expect_err err "fdholder: missing -s ctlsock"
	must_fail 100 fdholder -D -s st
	expect_err err "fdholder: -D: missing name operand"
	must_fail 100 fdholder -s st host
	expect_err err "fdholder: host: missing port operand"
	must_fail 100 effif
	expect_err err "effif: missing iface operand (or -a)"
	grep -q "^usage: effif" err || fail "no usage: $(cat err)"
}

# An entry that exists: how to replace it.
entry_exists() {
	store
	fdsend -t 5 -n web st 0
	must_fail 1 fdsend -t 5 -n web st 0
	echo "fdsend: st: web: entry exists (to replace it, delete it first: fdholder -s st -D web)" |
	    diff -u - err
}

# -L where no store is.
no_store() {
	must_fail 111 fdholder -L -s nothere
	echo "fdholder: connect nothere: No such file or directory: no fdholder store is there" |
	    diff -u - err
	touch plain
	must_fail 111 fdholder -L -s plain
	expect_err err "fdholder: connect plain: Socket operation on non-socket: no fdholder store is there"
}

# --version: the package's version, on standard output, exit 0.
version() {
	local t v
	v=$(sed -n '1s/.*(\(.*\)).*/\1/p' "$SRC/debian/changelog")
	[ -n "$v" ] || fail "no version in debian/changelog"
	for t in $TOOLS; do
		"$t" --version >out 2>err || fail "$t --version exited $?"
		echo "$t (fdtools) $v" | diff -u - out
		[ ! -s err ] || fail "$t --version: $(cat err)"
	done
}

# -h: a line for each option the usage lines name, and --version.
help_lines() {
	local t o
	for t in $TOOLS; do
		"$t" -h >out 2>err || fail "$t -h exited $?"
		[ ! -s err ] || fail "$t -h: $(cat err)"
		for o in $(sed -n 's/^ *usage: *//p; s/^       //p' out |
		    grep -o '\[-[-A-Za-z0-9]*\|\[--[a-z]*\| -[A-Za-z]' |
		    tr -d '[ ' | sed 's/^-\([A-Za-z0-9]\)/\1/; s/^--.*//' |
		    fold -w1 | sort -u) --version; do
			case $o in -) continue ;; --version) ;; *) o=-$o ;; esac
			grep -q -- "^  $o\( \|$\)" out ||
			    fail "$t -h: no line for $o"
		done
	done
}

# No lock file left: not while a store runs, not after, not after a
# claim that failed.
no_lock() {
	store
	[ ! -e st.lock ] || fail "st.lock while the store runs"
	must_fail 111 fdrecv -t 1 st cat
	expect_err err "a live socket is listening there"
	[ ! -e st.lock ] || fail "st.lock after a failed claim"
	kill -TERM "$STORE"
	wait_exit 10 "$STORE"
	[ -z "$(ls | grep '\.lock$')" ] || fail "left: $(ls)"
}

# The lock file goes as its holder lets go: a claimant that was waiting on
# it then holds the lock of a file no longer at the path.  It must open
# the path anew, or a third claimant locks a new file and both hold "the"
# lock at once: here C would replace B's socket, bound and not yet
# listening, and B would listen on a socket no path leads to.  A holds
# the lock 1 s (listen delayed) while B opens the file; B's bind and
# listen are delayed so that C comes between them.
lock_renewed() {
	# LeakSanitizer cannot work under ptrace (SAN=1 builds).
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
	bg strace -f -qq -o /dev/null -e inject=listen:delay_enter=1000000 \
	    fdrecv -t 1.5 s
	A=$!
	wait_for 5 test -e s.lock
	sleep 0.3
	bg sh -c 'exec strace -f -qq -o /dev/null \
	    -e inject=bind:delay_enter=2000000 \
	    -e inject=listen:delay_enter=1500000 fdrecv -t 20 s >out'
	B=$!
	wait_exit 10 "$A"
	wait_for 10 test -S s
	must_fail 111 fdrecv -t 5 s
	expect_err err "a live socket is listening there"
	echo held | fdsend -t 5 s 0
	reap 10 "$B"
	[ "$RC" = 0 ] && [ "$(cat out)" = held ] || fail "B: $RC $(cat out)"
}

t_case "a wait for a typo'd socket is said after a second (-t)" wait_typo_bounded
t_case "a wait without -t says that -t bounds it, once" wait_typo_unbounded
t_case "fdsend -l and fdrecv waiting for a peer say so" wait_listen
t_case "fdsend -S waiting for the service manager says so" wait_notify
t_case "a peer within the second: nothing said" wait_quiet
t_case "fdsend to a store without -n: wants -n NAME" store_no_name
t_case "fdrecv -c on a store: the live store named" store_recv_c
t_case "fdsend of an fd not open: said of the calling process" not_open
t_case "a missing operand or -s is named" missing
t_case "entry exists: how to replace it" entry_exists
t_case "fdholder -L where no store is: said" no_store
t_case "--version on all four tools" version
t_case "-h: one line per option" help_lines
t_case "no lock file left behind" no_lock
if have_strace; then
	t_case "a claimant whose lock file was removed meanwhile opens it anew" lock_renewed
else
	t_skip "a claimant whose lock file was removed meanwhile opens it anew" "strace cannot trace here"
fi
t_done
