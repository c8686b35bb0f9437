#!/bin/sh
# ISC license: see LICENSE.
# make demo: the chat client that restarts without dropping its connection.
# A server on loopback streams the numbers 1..N; fdholder copies them to a
# file and is restarted again and again from a shell loop while they flow.
# At the end every number has arrived once, in order, over the one
# connection the server accepted.
set -eu
PATH=$BIN:$PATH
here=$(cd "$(dirname "$0")" && pwd)
n=${DEMO_N:-2000000}
rate=${DEMO_RATE:-4000000}	# bytes a second: about 4 s for 2000000
dir=$(mktemp -d "${TMPDIR:-/tmp}/fdtools-demo.XXXXXX")
server= holder=
cleanup() {
	[ -z "$holder" ] || kill "$holder" 2>/dev/null || true
	[ -z "$server" ] || kill "$server" 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
cd "$dir"

python3 "$here/stream.py" -B "$rate" port "$n" >accepted &
server=$!
i=0
while [ ! -s port ]; do
	i=$((i + 1))
	[ "$i" -le 200 ] || { echo "demo: the server did not start" >&2; exit 1; }
	sleep 0.05
done
port=$(cat port)
want=$(seq 1 "$n" | wc -c)

echo "server:  streams 1..$n on 127.0.0.1 port $port"
echo "client:  fdholder -s $dir/chat.ctl 127.0.0.1 $port >>numbers"
fdholder -s "$dir/chat.ctl" 127.0.0.1 "$port" >>numbers &
holder=$!
i=0
while [ ! -S chat.ctl ]; do
	i=$((i + 1))
	[ "$i" -le 200 ] || { echo "demo: fdholder did not start" >&2; exit 1; }
	sleep 0.05
done

# Restart it, as an ops person would: start the new one, and the old one
# exits 0 once the new one owns the connection.
restarts=0
while [ "$(wc -c <numbers)" -lt "$want" ]; do
	fdholder -s "$dir/chat.ctl" 127.0.0.1 "$port" >>numbers &
	new=$!
	if ! wait "$holder"; then
		echo "demo: fdholder $holder failed to hand over" >&2
		holder=$new
		exit 1
	fi
	holder=$new
	restarts=$((restarts + 1))
	[ $((restarts % 25)) -ne 0 ] ||
		echo "restarts done: $restarts, numbers received: $(wc -l <numbers)"
	sleep 0.02
done

got=$(wc -l <numbers)
uniq=$(sort -n -u numbers | wc -l)
echo "restarts done: $restarts, numbers received: $got"
echo "numbers missing: $((n - uniq)), duplicated: $((got - uniq))," \
    "in order: $(seq 1 "$n" | cmp -s - numbers && echo yes || echo no)"
kill "$server"
wait "$server" || true
server=
wait "$holder"
holder=
echo "the server saw $(sed 's/accepted //' accepted) connection(s);" \
    "the last fdholder exited 0 when the server closed"
seq 1 "$n" | cmp -s - numbers
[ "$(cat accepted)" = "accepted 1" ]
