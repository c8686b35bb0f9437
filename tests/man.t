#!/bin/bash
# ISC license: see LICENSE.
# The manual pages: clean under mandoc -Tlint, and each tool's usage
# message is its page's SYNOPSIS, character for character.
. "$(dirname "$0")/lib.sh"
MAN=$(cd "$(dirname "$0")/../man" && pwd)
TESTS=$(cd "$(dirname "$0")" && pwd)

lint() {
	mandoc -Tlint -W warning "$MAN"/*.[1-8] >out 2>&1 || true
	[ ! -s out ] || { cat out; fail "mandoc -Tlint is not silent"; }
}

synopsis() {
	local page=$1 tool
	tool=$(basename "${page%.*}")
	mandoc -Tascii -O width=300 "$page" | col -b |
	    sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' | sed '1d;$d' |
	    sed 's/^ *//;/^$/d' | tr -s ' ' >want
	"$BIN/$tool" -\? 2>&1 >/dev/null </dev/null |
	    sed -n '/^usage:/,$p' | sed 's/^usage: *//;s/^ *//' |
	    tr -s ' ' >got
	diff -u want got
}

# Every tool has its page.
pages() {
	local dir tool missing=
	for dir in "$MAN"/../cmd/*/; do
		tool=$(basename "$dir")
		ls "$MAN/$tool".[18] >/dev/null 2>&1 || missing="$missing $tool"
	done
	[ -z "$missing" ] || fail "no manual page for:$missing"
}

# fdsend(1)'s example of a shell-script service that parks its connection
# in systemd's descriptor store and takes it back after a restart, run as
# the page prints it: fakesd.py plays systemd, stream.py -e is the server,
# and relay a stand-in that greets it on standard output and reads the
# echo from standard input.  One connection throughout.
sd_example() {
	local park take port
	mandoc -Tascii "$MAN/fdsend.1" | col -bx | sed -n 's/^ *\$ //p' >cmds
	park=$(grep -x 'fdsend -S 3=upstream' cmds) || fail "no fdsend -S"
	take=$(grep -A1 -x "$park" cmds | sed -n 2p)
	case $take in
	"exec fdrecv -S upstream "*) ;;
	*) fail "no fdrecv -S after $park: $take" ;;
	esac
	bg python3 "$TESTS/stream.py" -e port 0 >acc
	server=$!
	wait_for 10 test -s port
	port=$(cat port)
	mkdir bin
	printf '#!/bin/sh\necho relayed; read -r line; echo "$line" >got\n' \
	    >bin/relay
	chmod +x bin/relay
	cat >svc <<-EOF
	#!/bin/bash
	PATH=$PWD/bin:\$PATH
	if [ -z "\${LISTEN_FDS:-}" ]; then
		exec 3<>/dev/tcp/127.0.0.1/$port
		$park
		echo parked >parked
		exec sleep 60
	fi
	$take
	EOF
	chmod +x svc
	bg python3 "$TESTS/fakesd.py" "$PWD/notify" "$PWD/out" -- ./svc \
	    >sd 2>&1
	sd=$!
	wait_for 10 test -s parked
	kill -USR1 "$sd"
	wait_exit 10 "$sd"
	[ "$(cat sd)" = "exit 0 restarts 1 stored upstream" ] ||
	    fail "$(cat sd out)"
	wait_for 10 test -s got
	[ "$(cat got)" = relayed ] || fail "relay read $(cat got)"
	kill -TERM "$server"
	wait_exit 10 "$server"
	[ "$(cat acc)" = "accepted 1" ] || fail "server: $(cat acc)"
}

t_case "mandoc -Tlint -W warning is silent" lint
t_case "fdsend(1): the fd store example runs as written" sd_example
t_case "every tool in cmd/ has a manual page" pages
for page in "$MAN"/*.[18]; do
	tool=$(basename "${page%.*}")
	if [ -x "$BIN/$tool" ]; then
		eval "syn_$tool() { synopsis '$page'; }"
		t_case "$tool: usage is the SYNOPSIS of $(basename "$page")" "syn_$tool"
	fi
done
t_done
