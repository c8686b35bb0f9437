#!/bin/bash
# ISC license: see LICENSE.
# The demonstrations of make demo and make demo-pipe, run as a user would.
. "$(dirname "$0")/lib.sh"
TESTS=$(cd "$(dirname "$0")" && pwd)

restart_demo() {
	DEMO_N=500000 DEMO_RATE=2000000 sh "$TESTS/demo-restart.sh" >out 2>&1 ||
	    { cat out; fail "demo-restart.sh failed"; }
	grep -q "^numbers missing: 0, duplicated: 0, in order: yes$" out ||
	    { cat out; fail "numbers lost"; }
	grep -q "^the server saw 1 connection(s)" out || { cat out; fail "connections"; }
	t_note "$(grep '^restarts done' out | tail -n 1)"
}

pipe_demo() {
	sh "$TESTS/demo.sh" >out 2>&1 || { cat out; fail "demo.sh failed"; }
	grep -q "read 100000 lines" out || { cat out; fail "lines"; }
}

t_case "make demo: restarts lose no number" restart_demo
t_case "make demo-pipe: a pipe handed between shells" pipe_demo
t_done
