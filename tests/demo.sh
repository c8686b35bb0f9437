#!/bin/sh
# ISC license: see LICENSE.
# make demo: a pipeline handed from one shell to another.  A producer's
# pipe goes through fdsend and fdrecv to a consumer that reads it directly.
set -eu
PATH=$BIN:$PATH
dir=$(mktemp -d "${TMPDIR:-/tmp}/fdtools-demo.XXXXXX")
trap 'rm -rf "$dir"' EXIT
sock=$dir/pipe.sock

echo "shell 1:  seq 1 100000 | fdsend $sock 0"
( seq 1 100000 | fdsend -t 30 "$sock" 0 ) &
sender=$!
echo "shell 2:  fdrecv -m 0 $sock wc -l"
lines=$(fdrecv -t 30 -m 0 "$sock" wc -l)
wait "$sender"
echo "wc -l read $lines lines straight from seq's pipe (want 100000)"
[ "$lines" -eq 100000 ]
