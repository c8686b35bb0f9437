#!/bin/bash
# ISC license: see LICENSE.
# bench/perfd.sh BIN W RUNS: the cost per fd, each beside its floor (bench/
# rawpass: the same whole processes doing only the system calls that the
# exchange needs): fdsend to an fdrecv that execs true, a store's STORE
# (fdsend -n) and FETCH (fdrecv -n -D, exec true), at 1, 1,000 and
# 10,000 fds.  Prints bench/run's lines (FIGURE|LABEL|MEDIAN|LOW|HIGH|
# UNIT|REF), ms, wall time and CPU time (FIGUREc); report.py takes the
# cost per fd from them.  The commands are timed in turns with each other
# (bench/interleave.py), not in blocks.
set -eu
B=$1 W=$2 RUNS=$3
# As a service manager starts them: fds 0-2 alone, so that the receivers
# find 3 and up free (an fd inherited there costs fdrecv a move per fd).
# No redirection on the loop: bash would keep fd 2's copy above 9, the
# loop close it, and fd 2 be left on the redirection's /dev/null.
for fd in $(ls /proc/$$/fd); do
	[ "$fd" -le 2 ] || eval "exec $fd>&-"
done
TOP=$(cd "$(dirname "$0")/.." && pwd)

cc -O2 -Wall -o "$W/manyfds" "$TOP/bench/manyfds.c"
cc -O2 -Wall -D_GNU_SOURCE -o "$W/rawpass" "$TOP/bench/rawpass.c"

"$W/rawpass" hold "$W/rawhold" &
hold=$!
"$B/fdholder" -s "$W/perfd.store" -E 100 -f 30000 &
store=$!
trap 'kill $hold $store 2>/dev/null || true' EXIT
while [ ! -S "$W/rawhold" ] || [ ! -S "$W/perfd.store" ]; do sleep 0.01; done

# spec FIGURE LABEL PREPARE CMD: a line of bench/interleave.py's SPEC.
spec() {
	printf '%s\t%s\t%s\t%s\n' "$@"
}

# Every command, each beside its floor, at 1, 1,000 and 10,000 fds; each
# STORE and FETCH finds the store (or the raw holder) as the other found
# it, its name free or the set held, made so by its PREPARE.
for n in 1 1000 10000; do
	fds=$(seq -s ' ' 3 $((n + 2)))
	spec 2p "fdsend to fdrecv that execs true, $n fds" - \
	    "sh -c '$B/fdrecv -t 10 $W/p$n true & $W/manyfds $n $B/fdsend -t 10 $W/p$n $fds; wait'"
	spec 2p "floor: raw sender to raw receiver that execs true, $n fds" - \
	    "sh -c '$W/rawpass recv $W/r$n true & $W/manyfds $n $W/rawpass send $W/r$n $n; wait'"
	# Both names of n free before STORE, one set of 10,000 held at most.
	spec 2s "STORE: fdsend -n, $n fds" \
	    "sh -c '$B/fdholder -D -s $W/perfd.store s$n 2>/dev/null; $B/fdholder -D -s $W/perfd.store f$n 2>/dev/null; true'" \
	    "$W/manyfds $n $B/fdsend -n s$n $W/perfd.store $fds"
	# The raw holder emptied first, as the store's name is: replacing a
	# set, it closes the last copies of the old one before it answers.
	spec 2s "floor: raw sender to a raw holder, $n fds" \
	    "$W/rawpass fetch $W/rawhold true" \
	    "$W/manyfds $n $W/rawpass send $W/rawhold $n"
	# The store removes the entry once the last fetch's program runs,
	# which may be after the next prepare came: deleted first.
	spec 2f "FETCH: fdrecv -n -D that execs true, $n fds" \
	    "sh -c '$B/fdholder -D -s $W/perfd.store s$n 2>/dev/null; $B/fdholder -D -s $W/perfd.store f$n 2>/dev/null; exec $W/manyfds $n $B/fdsend -n f$n $W/perfd.store $fds'" \
	    "$B/fdrecv -n f$n -D $W/perfd.store true"
	spec 2f "floor: raw fetch and delete from a raw holder that execs true, $n fds" \
	    "$W/manyfds $n $W/rawpass send $W/rawhold $n" \
	    "$W/rawpass fetch $W/rawhold true"
done >"$W/perfd.spec"
# 3 x RUNS rounds: as many runs of each command as hyperfine's three
# rounds of RUNS made, when each command was timed in a block of its own.
python3 "$TOP/bench/interleave.py" $((RUNS * 3)) "$W/perfd.spec"
