#!/bin/bash
# ISC license: see LICENSE.
# bench/perfd.sh BIN W RUNS: the cost per fd, each beside its floor (bench/
# rawpass: the same whole processes doing only the system calls that the
# exchange needs): fdsend to an fdrecv that execs true, a store's STORE
# (fdsend -n) and FETCH (fdrecv -n -D, exec true), at 1, 1,000 and
# 10,000 fds.  Prints bench/run's lines (FIGURE|LABEL|MEDIAN|LOW|HIGH|
# UNIT|REF), ms, wall time and CPU time (FIGUREc); report.py takes the
# cost per fd from them.
set -eu
B=$1 W=$2 RUNS=$3
# As a service manager starts them: fds 0-2 alone, so that the receivers
# find 3 and up free (an fd inherited there costs fdrecv a move per fd).
for fd in $(ls /proc/$$/fd); do
	[ "$fd" -le 2 ] || eval "exec $fd>&-"
done 2>/dev/null
TOP=$(cd "$(dirname "$0")/.." && pwd)

cc -O2 -Wall -o "$W/manyfds" "$TOP/bench/manyfds.c"
cc -O2 -Wall -D_GNU_SOURCE -o "$W/rawpass" "$TOP/bench/rawpass.c"

# hf FIGURE LABEL [hyperfine options] CMD: RUNS runs of CMD, their times
# (s) and CPU (hyperfine's mean of user and system) kept in $W/pf.runs
# for the report at the end.
hf() {
	local fig=$1 label=$2
	shift 2
	hyperfine -N -w 3 -r "$RUNS" --export-json "$W/perfd.json" "$@" \
	    >/dev/null 2>&1 || { echo "perfd: failed: $label" >&2; return 0; }
	python3 - "$W/perfd.json" "$fig" "$label" >>"$W/pf.runs" <<-'EOF'
	import json, sys
	j = json.load(open(sys.argv[1]))["results"][0]
	print(json.dumps([sys.argv[2], sys.argv[3], j["times"],
	                  j["user"] + j["system"]]))
	EOF
}

"$W/rawpass" hold "$W/rawhold" &
hold=$!
"$B/fdholder" -s "$W/perfd.store" -E 100 -f 30000 &
store=$!
trap 'kill $hold $store 2>/dev/null || true' EXIT
while [ ! -S "$W/rawhold" ] || [ ! -S "$W/perfd.store" ]; do sleep 0.01; done

# ROUNDS rounds, each of every command, one after the other: T(n) and
# T(1) are close in size, so a drift of the machine between them moved
# the cost per fd at 1,000 fds by 2x from run to run.
: >"$W/pf.runs"
for round in $(seq "${PERFD_ROUNDS:-3}"); do
	for n in 1 1000 10000; do
		fds=$(seq -s ' ' 3 $((n + 2)))
		hf 2p "fdsend to fdrecv that execs true, $n fds" \
		    "sh -c '$B/fdrecv -t 10 $W/p$n true & $W/manyfds $n $B/fdsend -t 10 $W/p$n $fds; wait'"
		hf 2p "floor: raw sender to raw receiver that execs true, $n fds" \
		    "sh -c '$W/rawpass recv $W/r$n true & $W/manyfds $n $W/rawpass send $W/r$n $n; wait'"
		hf 2s "STORE: fdsend -n, $n fds" \
		    --prepare "sh -c '$B/fdholder -D -s $W/perfd.store s$n 2>/dev/null; true'" \
		    "$W/manyfds $n $B/fdsend -n s$n $W/perfd.store $fds"
		"$B/fdholder" -D -s "$W/perfd.store" "s$n"
		hf 2s "floor: raw sender to a raw holder, $n fds" \
		    "$W/manyfds $n $W/rawpass send $W/rawhold $n"
		# The store removes the entry once the last fetch's program runs,
		# which may be after the next prepare came: deleted first.
		hf 2f "FETCH: fdrecv -n -D that execs true, $n fds" \
		    --prepare "sh -c '$B/fdholder -D -s $W/perfd.store f$n 2>/dev/null; exec $W/manyfds $n $B/fdsend -n f$n $W/perfd.store $fds'" \
		    "$B/fdrecv -n f$n -D $W/perfd.store true"
		hf 2f "floor: raw fetch and delete from a raw holder that execs true, $n fds" \
		    --prepare "$W/manyfds $n $W/rawpass send $W/rawhold $n" \
		    "$W/rawpass fetch $W/rawhold true"
	done
done

# Each figure over the rounds: the median and quartiles of every run's
# wall time pooled, ms; CPU the median of the rounds' means.
python3 - "$W/pf.runs" <<-'EOF'
import json, statistics, sys
wall, cpu, order = {}, {}, []
for l in open(sys.argv[1]):
    fig, label, times, c = json.loads(l)
    if (fig, label) not in wall:
        order.append((fig, label))
    wall.setdefault((fig, label), []).extend(times)
    cpu.setdefault((fig, label), []).append(c)
for fig, label in order:
    r = sorted(wall[fig, label])
    q = lambda x: r[min(len(r) - 1, int(len(r) * x))] * 1000
    print("%s|%s|%.3f|%.3f|%.3f|ms|" % (fig, label,
          statistics.median(r) * 1000, q(.25), q(.75)))
    print("%sc|%s|%.3f|-|-|ms|" % (fig, label,
          statistics.median(cpu[fig, label]) * 1000))
EOF
