#!/bin/bash
# ISC license: see LICENSE.
# bench/storebench.sh BIN W OPS: fdholder's store beside s6-fdholderd, in
# one run, with the same kind of fd (/dev/null on stdin), by the real
# tools (bench/storeload): 1, 10 and 100 concurrent clients, each storing
# then retrieving and deleting (fdsend -n / fdrecv -n -D true against
# s6-fdholder-store / s6-fdholder-retrieve -D true), about OPS rounds in
# all, first with the stores empty, then with 10,000 entries held; five
# runs a point, the kinds taking turns: operations per second and CPU the
# median of the five, the median and p99 of one operation over all their
# operations pooled (a run's p99 is one stall of the machine or not).  The floor runs the same processes
# without a store (true, env true).
# Prints bench/run's lines (FIGURE|LABEL|MEDIAN|LOW|HIGH|UNIT|REF).
set -eu
B=$1 W=$2 OPS=$3
TOP=$(cd "$(dirname "$0")/.." && pwd)
HELD=${STORE_HELD:-10000}
REPS=${STORE_REPS:-5}

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

# point HELD CLIENTS: the three rows of one point from REPS runs, the
# three kinds taking turns (the machine's load drifts).
point() {
	local held=$1 c=$2 r k rep sock pid label ref at
	r=$((OPS / c))
	[ "$r" -ge 2 ] || r=2
	at="$c client$([ "$c" = 1 ] || echo s), $held held"
	: >"$W/sb.runs"
	rm -f "$W"/sb.t.*
	for rep in $(seq "$REPS"); do
		for k in floor s6 fdtools; do
			case $k in
			floor)	sock=- pid=0 ;;
			s6)	sock=$W/sb.s6 pid=$s6 ;;
			*)	sock=$W/sb.fdh pid=$fdh ;;
			esac
			echo "$k $(STORELOAD_TIMES=$W/sb.t.$k \
			    load "$k" "$sock" "$pid" "$c" "$r")" \
			    >>"$W/sb.runs" || echo "storebench: failed: $k, $at" >&2
		done
	done
	python3 - "$W/sb.runs" "$at" "$FLOOR" "$S6" "$FDH" "$W/sb.t" <<-'EOF'
	import statistics, sys
	runs, at, names = sys.argv[1], sys.argv[2], dict(zip(
	    ("floor", "s6", "fdtools"), sys.argv[3:6]))
	pool = lambda k: sorted(float(l) for l in open(sys.argv[6] + "." + k))
	by = {}
	for l in open(runs):
	    f = l.split()
	    if len(f) == 9:
	        by.setdefault(f[0], []).append([float(x) for x in f[1:]])
	for k in ("floor", "s6", "fdtools"):
	    if k not in by:
	        continue
	    m = lambda i: statistics.median(v[i] for v in by[k])
	    label = "%s: %s" % (at, names[k])
	    ref = "%s: %s" % (at, names["s6"]) if k == "fdtools" else ""
	    print("7o|%s|%.1f|-|-|ops/s|%s" % (label, m(1), ref))
	    t = pool(k)
	    print("7l|%s|%.1f|%.1f|-|us|%s" % (label, statistics.median(t),
	        t[len(t) * 99 // 100], ref))
	    if k != "floor":
	        print("7c|%s|%.2f|-|-|us|%s" % (label, m(4), ref))
	EOF
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
