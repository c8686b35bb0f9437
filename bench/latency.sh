#!/bin/bash
# ISC license: see LICENSE.
# bench/latency.sh BIN TOOLS WORK RESTARTS: the handoff stall as the reader
# of fdholder's output sees it.  bench/latency (in TOOLS) streams stamped
# 4 KiB blocks to fdholder and reads them back from its standard output (a
# FIFO); bench/restart restarts the holder RESTARTS times, GAP_MS apart.
# For each restart, the highest delivery latency of the blocks stamped
# from its spawn to the next, less the median latency of the whole run,
# is its stall as the reader sees it; the same windows of a run of the
# same length with no restart give what this machine stalls by itself.
# Prints rows of bench/run's results (figure 4d): paced (16 KiB every
# 100 us, CPUs mostly idle) and at full speed (both CPUs busy).
set -eu
BIN=$1 T=$2 W=$3 N=$4
GAP_MS=${GAP_MS:-50}
mkdir -p "$W"

# run LABEL LATENCY-OPTIONS RESTARTS: one stream; its records in $W/lat.
run() {
	local lat port
	rm -rf "$W/lat" && mkdir "$W/lat" && mkfifo "$W/lat/fifo"
	"$T/latency" $2 0 "$W/lat/port" "$W/lat/fifo" "$W/lat/rec" \
	    >"$W/lat/sum" &
	lat=$!
	while [ ! -s "$W/lat/port" ]; do sleep 0.01; done
	port=$(cat "$W/lat/port")
	if [ "$3" = 0 ]; then
		"$BIN/fdholder" -s "$W/lat/ctl" 127.0.0.1 "$port" \
		    >"$W/lat/fifo" &
		sleep "$(awk -v n="$N" -v g="$GAP_MS" \
		    'BEGIN { print n * (g + 3) / 1000 }')"
		kill $! 2>/dev/null || true
		kill -TERM "$lat" 2>/dev/null || true
		wait "$lat" || true
	else
		GAP_US=$((GAP_MS * 1000)) "$T/restart" "$3" "$W/lat/fifo" \
		    "$W/lat" "$BIN/fdholder" -s "$W/lat/ctl" 127.0.0.1 \
		    "$port" >"$W/lat/last"
		kill "$(cat "$W/lat/last")" 2>/dev/null || true
		# Ending the last holder may end latency first (EPIPE).
		kill -TERM "$lat" 2>/dev/null || true
		wait "$lat" || true
	fi
	rm -rf "$W/lat.$1"
	mv "$W/lat" "$W/lat.$1"
}

for mode in paced:"-i 100 -k 16" full:"-i 0"; do
	run "${mode%%:*}-base" "${mode#*:}" 0
	run "${mode%%:*}" "${mode#*:}" "$N"
done

python3 - "$W" "$GAP_MS" <<'PY'
import os, struct, sys
w, gap = sys.argv[1], int(sys.argv[2]) * 1000000

def recs(d):
    b = open(os.path.join(d, "rec"), "rb").read()
    return [struct.unpack_from("QQ", b, i) for i in range(0, len(b), 16)]

def q(v, x):
    return v[min(len(v) - 1, int(len(v) * x))] / 1e3

def windows(r, starts):
    med = sorted(l for _, l in r)[len(r) // 2]
    out, j = [], 0
    for a, b in zip(starts, starts[1:]):
        while j < len(r) and r[j][0] < a:
            j += 1
        k, top = j, 0
        while k < len(r) and r[k][0] < b:
            top = max(top, r[k][1])
            k += 1
        if k > j:
            out.append(max(0, top - med))
    return sorted(out), med

for mode, what in (("paced", "paced, 16 KiB every 100 us, CPUs mostly idle"),
                   ("full", "full speed, both CPUs busy")):
    d = os.path.join(w, "lat." + mode)
    r = recs(d)
    spawn = [int(l.split()[1]) for l in open(os.path.join(d, "spawn"))]
    st, med = windows(r, spawn + [spawn[-1] + gap])
    base = recs(os.path.join(w, "lat.%s-base" % mode))
    t0 = base[0][0] + 300000000
    per = (spawn[-1] - spawn[0]) // max(1, len(spawn) - 1)
    bs, bmed = windows(base, [t0 + i * per for i in range(len(spawn) + 1)])
    print("4d|%s: reader's stall around each restart (%d), less the median "
          "latency %.0f us|%.1f|%.1f|%.1f|us|floor: fd + ack ping-pong, "
          "unpinned" % (what, len(st), med / 1e3, q(st, .5), q(st, .9),
                        q(st, .99)))
    print("4d|%s: the same windows with no restart (%d), the machine's "
          "own stalls|%.1f|%.1f|%.1f|us|" % (what, len(bs), q(bs, .5),
                                            q(bs, .9), q(bs, .99)))
PY
