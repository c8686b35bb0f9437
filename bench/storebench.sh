#!/bin/bash
# ISC license: see LICENSE.
# bench/storebench.sh BIN W OPS: fdholder's store beside s6-fdholderd, in
# one run, with the same kind of fd (/dev/null on stdin), by the real
# tools (bench/storeload): 1, 10 and 100 concurrent clients, each storing
# then retrieving and deleting (fdsend -n / fdrecv -n -D true against
# s6-fdholder-store / s6-fdholder-retrieve -D true), about OPS rounds in
# all, first with the stores empty, then with 10,000 entries held.  The
# floor runs the same processes without a store (true, env true).
# Prints bench/run's lines (FIGURE|LABEL|MEDIAN|LOW|HIGH|UNIT|REF).
set -eu
B=$1 W=$2 OPS=$3
TOP=$(cd "$(dirname "$0")/.." && pwd)
HELD=${STORE_HELD:-10000}

cc -O2 -Wall -o "$W/storeload" "$TOP/bench/storeload.c"
mkdir -p "$W/sb.rules/uid/0/env"
touch "$W/sb.rules/uid/0/allow"
echo '.*' >"$W/sb.rules/uid/0/env/S6_FDHOLDER_STORE_REGEX"
echo '.*' >"$W/sb.rules/uid/0/env/S6_FDHOLDER_RETRIEVE_REGEX"
# Room for what is held and for 100 clients, in both.
ulimit -n "$(ulimit -Hn)"
lim=$((HELD + 1000))
s6-fdholder-daemon -c 120 -n "$lim" -i "$W/sb.rules" "$W/sb.s6" &
s6=$!
"$B/fdholder" -s "$W/sb.fdh" -E "$lim" -f "$lim" &
fdh=$!
trap 'kill $s6 $fdh 2>/dev/null || true' EXIT
while [ ! -S "$W/sb.s6" ] || [ ! -S "$W/sb.fdh" ]; do sleep 0.01; done
sleep 0.2

S6="s6-fdholderd"
FDH="fdholder"
FLOOR="floor: the same processes, no store (true, env true)"

# load KIND SOCK PID CLIENTS ROUNDS [PREFIX]: storeload's line.
load() {
	BIN=$B "$W/storeload" "$@"
}

# point HELD CLIENTS: the three rows of one point.
point() {
	local held=$1 c=$2 r k sock pid label ref out
	r=$((OPS / c))
	[ "$r" -ge 2 ] || r=2
	for k in floor s6 fdtools; do
		case $k in
		floor)	sock=- pid=0 label=$FLOOR ref= ;;
		s6)	sock=$W/sb.s6 pid=$s6 label=$S6 ref= ;;
		*)	sock=$W/sb.fdh pid=$fdh label=$FDH ref=$S6 ;;
		esac
		label="$c client$([ "$c" = 1 ] || echo s), $held held: $label"
		[ -z "$ref" ] || ref="$c client$([ "$c" = 1 ] || echo s), $held held: $ref"
		out=$(load "$k" "$sock" "$pid" "$c" "$r") || {
			echo "storebench: failed: $label" >&2
			continue
		}
		set -- $out
		echo "7o|$label|$2|-|-|ops/s|$ref"
		echo "7l|$label|$3|$4|-|us|$ref"
		[ "$k" = floor ] || echo "7c|$label|$5|-|-|us|$ref"
	done
}

for c in 1 10 100; do
	point 0 "$c"
done

# Fill both with HELD entries: memory per entry, and where the daemon's
# time goes (user: its own; system: its system calls) per store.
for k in s6 fdtools; do
	if [ "$k" = s6 ]; then
		sock=$W/sb.s6 pid=$s6 label=$S6
	else
		sock=$W/sb.fdh pid=$fdh label=$FDH
	fi
	r0=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")
	out=$(load "$k" "$sock" "$pid" 4 $((HELD / 4)) held)
	set -- $out
	ref=$([ "$k" = s6 ] || echo "$S6")
	echo "7m|$label|$(((${8} - r0) * 1024 / HELD))|$r0|$8|B|$ref"
	echo "7u|$label: user (its own) per store|$6|-|-|us|"
	echo "7u|$label: system (its system calls) per store|$7|-|-|us|"
	echo "7u|$label: all, per store (schedstat)|$5|-|-|us|"
done

for c in 1 10 100; do
	point "$HELD" "$c"
done
