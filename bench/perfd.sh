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

# hf FIGURE LABEL [hyperfine options] CMD: median and IQR of CMD, ms.
hf() {
	local fig=$1 label=$2
	shift 2
	hyperfine -N -w 3 -r "$RUNS" --export-json "$W/perfd.json" "$@" \
	    >/dev/null 2>&1 || { echo "perfd: failed: $label" >&2; return 0; }
	python3 - "$W/perfd.json" "$fig" "$label" <<-'EOF'
	import json, statistics, sys
	j = json.load(open(sys.argv[1]))["results"][0]
	r = sorted(j["times"])
	q = lambda x: r[min(len(r) - 1, int(len(r) * x))] * 1000
	print("%s|%s|%.3f|%.3f|%.3f|ms|" % (sys.argv[2], sys.argv[3],
	      statistics.median(r) * 1000, q(.25), q(.75)))
	# CPU time, user and system, of the processes measured (hyperfine's
	# means): steadier than wall time on a busy machine.
	print("%sc|%s|%.3f|-|-|ms|" % (sys.argv[2], sys.argv[3],
	      (j["user"] + j["system"]) * 1000))
	EOF
}

"$W/rawpass" hold "$W/rawhold" &
hold=$!
"$B/fdholder" -s "$W/perfd.store" -E 100 -f 30000 &
store=$!
trap 'kill $hold $store 2>/dev/null || true' EXIT
while [ ! -S "$W/rawhold" ] || [ ! -S "$W/perfd.store" ]; do sleep 0.01; done

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
