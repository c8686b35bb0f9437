#!/bin/bash
# ISC license: see LICENSE.
# effif: the effective interface of a tunnel.  Every case builds its own
# network namespaces (tun, veth, macvlan, vxlan and bridge devices work
# here) and removes them when it ends; no packet is ever sent.
. "$(dirname "$0")/lib.sh"
TESTS=$(cd "$(dirname "$0")" && pwd)

NS_N=0

# ns: a new namespace for this case, in $NS, deleted when the case ends.
ns() {
	NS_N=$((NS_N + 1))
	NS=effif-$$-$T_N-$NS_N
	ip netns add "$NS"
	defer "ip netns del $NS"
	ip -n "$NS" link set lo up
}

# ef ARGS: effif inside the namespace.
ef() {
	ip netns exec "$NS" "$BIN/effif" "$@"
}

# tun NAME: a layer 3 tun device, up, as a VPN client makes it.
tun() {
	ip netns exec "$NS" ip tuntap add mode tun name "$1"
	ip -n "$NS" link set "$1" up
}

# uplink NAME N METRIC: a veth pair NAME/NAMEp, 10.N.0.2/24 on NAME and
# 2001:db8:N::2/64, defaults via 10.N.0.1 and 2001:db8:N::1.
uplink() {
	ip -n "$NS" link add "$1" type veth peer name "${1}p"
	ip -n "$NS" link set "$1" up
	ip -n "$NS" link set "${1}p" up
	ip -n "$NS" addr add "10.$2.0.2/24" dev "$1"
	ip -n "$NS" addr add "2001:db8:$2::2/64" dev "$1" nodad
	ip -n "$NS" route add default via "10.$2.0.1" dev "$1" metric "$3"
	ip -n "$NS" -6 route add default via "2001:db8:$2::1" dev "$1" \
	    metric "$3"
}

# is WANT CMD ...: CMD succeeds and prints exactly the lines of WANT.
is() {
	local want=$1 rc=0
	shift
	"$@" >out 2>err || rc=$?
	[ "$rc" -eq 0 ] || { cat err >&2; fail "exit $rc: $*"; }
	printf '%s\n' "$want" | diff -u - out
}

# field NAME: the value of a line "\tNAME: value" of effif -v in ./out.
field() {
	sed -n "s/^	$1: //p" out
}

# index NAME: the interface index of NAME in the namespace.
index() {
	ip netns exec "$NS" cat "/sys/class/net/$1/ifindex"
}

# Tailscale as an exit node: its own packets carry 0x80000 and the rules
# send them to main, everything else to table 52, the tunnel.
tailscale() {
	ns
	tun utun5
	ip -n "$NS" addr add 100.64.0.1/32 dev utun5
	uplink up1 1 100
	uplink up2 2 200
	ip -n "$NS" route add default dev utun5 table 52
	ip -n "$NS" rule add pref 5210 fwmark 0x80000/0xff0000 lookup main
	ip -n "$NS" rule add pref 5230 fwmark 0x80000/0xff0000 lookup default
	ip -n "$NS" rule add pref 5250 fwmark 0x80000/0xff0000 unreachable
	ip -n "$NS" rule add pref 5270 lookup 52
}

t_tailscale() {
	tailscale
	is up1 ef -4 -M 0x80000 utun5
	is up1 ef -4 utun5
	ef -v -4 -M 0x80000 utun5 >out
	[ "$(field method)" = mark ] || fail "method $(field method)"
	[ "$(field gateway)" = 10.1.0.1 ] || fail "gateway $(field gateway)"
	[ "$(field table)" = main ] || fail "table $(field table)"
	[ "$(field mark)" = 0x80000 ] || fail "mark $(field mark)"
	ip -n "$NS" route del default via 10.1.0.1 dev up1
	is up2 ef -4 -M 0x80000 utun5
	ip -n "$NS" route del default via 10.2.0.1 dev up2
	must_fail 2 ef -4 -M 0x80000 utun5
	expect_err err "effif: utun5: no underlay route with mark 0x80000"
	[ ! -s out ] || fail "output without an answer"
	must_fail 2 ef -4 utun5
	expect_err err "effif: utun5: no underlay route"
}

lines() {
	[ "$(wc -l <"$1")" -ge "$2" ]
}

t_tailscale_watch() {
	local pid
	tailscale
	# SIGINT at its default, as at a terminal: a script's background
	# job would start with it ignored, and effif keeps it so.
	bg env --default-signal=INT ip netns exec "$NS" "$BIN/effif" -w -4 \
	    -M 0x80000 utun5 >wout 2>werr
	pid=$!
	wait_for 5 lines wout 1
	ip -n "$NS" route del default via 10.1.0.1 dev up1
	wait_for 5 lines wout 2
	# A change that leaves the answer as it is prints nothing.
	ip -n "$NS" addr add 10.7.0.1/24 dev up2
	sleep 0.3
	ip -n "$NS" route del default via 10.2.0.1 dev up2
	wait_for 5 lines wout 3
	# The kernel drops IPv4 routes of a link going down silently.
	ip -n "$NS" route add default via 10.1.0.1 dev up1 metric 100
	wait_for 5 lines wout 4
	ip -n "$NS" link set up1 down
	wait_for 5 lines wout 5
	kill -INT "$pid"
	wait_exit 5 "$pid"
	[ "$RC" -eq 0 ] || fail "watch exited $RC"
	printf 'up1\nup2\n\nup1\n\n' | diff -u - wout
	expect_err werr "effif: utun5: no underlay route with mark 0x80000"
}

# wg-quick: fwmark 51820 on its packets, a default through the tunnel in
# table 51820 for everything else, main without its default for the rest.
wgquick() {
	ns
	tun wg0
	ip -n "$NS" addr add 10.9.0.2/32 dev wg0
	ip -n "$NS" -6 addr add fd00:9::2/128 dev wg0 nodad
	uplink up1 1 100
	ip -n "$NS" "$1" route add default dev wg0 table 51820
	ip -n "$NS" "$1" rule add not fwmark 51820 table 51820
	ip -n "$NS" "$1" rule add table main suppress_prefixlength 0
}

t_wgquick4() {
	wgquick -4
	# What the kernel says for an unmarked packet: the tunnel itself.
	ip -n "$NS" route get 192.0.2.1 | grep -q 'dev wg0'
	is up1 ef -4 wg0
	is up1 ef -4 -M 51820 wg0
	ef -v -4 wg0 >out
	[ "$(field method)" = mark ] || fail "method $(field method)"
	[ "$(field mark)" = 0xca6c ] || fail "mark $(field mark)"
	[ "$(field gateway)" = 10.1.0.1 ] || fail "gateway $(field gateway)"
	is up1 ef -4 --method scan wg0
	is up1 ef -4 -P 198.51.100.9 wg0
}

t_wgquick6() {
	wgquick -6
	is up1 ef -6 wg0
	ef -v -6 wg0 >out
	[ "$(field family)" = inet6 ] || fail "family $(field family)"
	[ "$(field gateway)" = 2001:db8:1::1 ] || fail "gw $(field gateway)"
	[ "$(field mark)" = 0xca6c ] || fail "mark $(field mark)"
	is up1 ef -P 2001:db8:77::1 wg0
	ip -n "$NS" -6 route del default via 2001:db8:1::1 dev up1
	must_fail 2 ef -6 wg0
	expect_err err "effif: wg0: no underlay route"
}

# OpenVPN's def1: two halves of the address space through the tunnel, the
# server through the uplink.
openvpn() {
	ns
	tun tun0
	ip -n "$NS" addr add 10.8.0.2/24 dev tun0
	uplink up1 1 100
	ip -n "$NS" route add 0.0.0.0/1 dev tun0
	ip -n "$NS" route add 128.0.0.0/1 dev tun0
	ip -n "$NS" route add 203.0.113.7/32 via 10.1.0.1 dev up1
}

t_openvpn() {
	openvpn
	is up1 ef -P 203.0.113.7 tun0
	ef -v -P 203.0.113.7 tun0 >out
	[ "$(field method)" = peer ] || fail "method $(field method)"
	is up1 ef tun0
	ef -v tun0 >out
	[ "$(field method)" = scan ] || fail "method $(field method)"
	[ "$(field table)" = main ] || fail "table $(field table)"
	# A peer routed into the tunnel is no answer; scan gives one.
	is up1 ef -P 198.51.100.1 tun0
	must_fail 2 ef --method peer -P 198.51.100.1 tun0
	expect_err err "effif: tun0: no underlay route by method peer"
}

t_macvlan() {
	ns
	uplink up1 1 100
	ip -n "$NS" link add mv0 link up1 type macvlan mode bridge
	is up1 ef mv0
	ef -v mv0 >out
	[ "$(field method)" = link ] || fail "method $(field method)"
	[ "$(field chain)" = "mv0 (link) -> up1" ] || fail "$(field chain)"
}

t_vxlan() {
	ns
	uplink up1 1 100
	uplink up2 2 50
	ip -n "$NS" link add vx0 type vxlan id 42 dev up1 remote 10.1.0.9 \
	    dstport 4789
	is up1 ef vx0
	ef -v vx0 >out
	[ "$(field method)" = link ] || fail "method $(field method)"
}

t_vxlan_tunnel() {
	ns
	tun tun0
	uplink up1 1 100
	ip -n "$NS" route add 10.99.0.0/16 dev tun0
	ip -n "$NS" link add vx1 type vxlan id 43 remote 10.99.9.9 \
	    dstport 4789
	ip -n "$NS" link set vx1 up
	is up1 ef vx1
	ef -v vx1 >out
	[ "$(field method)" = peer ] || fail "method $(field method)"
	[ "$(field chain)" = "vx1 (peer) -> tun0 (scan) -> up1" ] ||
	    fail "chain $(field chain)"
	# And with the link of the tunnel gone, nothing carries it.
	ip -n "$NS" route del default via 10.1.0.1 dev up1
	ip -n "$NS" -6 route del default via 2001:db8:1::1 dev up1
	must_fail 2 ef vx1
	expect_err err "effif: vx1: no underlay route beyond tun0"
}

t_bridge() {
	ns
	ip -n "$NS" link add br0 type bridge
	ip -n "$NS" link add p1 type veth peer name p1p
	ip -n "$NS" link add p2 type veth peer name p2p
	ip -n "$NS" link set p1 master br0
	is p1 ef br0
	ip -n "$NS" link set p2 master br0
	must_fail 3 ef br0
	expect_err err "effif: br0: ambiguous: 2 lower devices: p1 p2"
	[ ! -s out ] || fail "output for an ambiguous answer"
}

t_multipath() {
	ns
	tun tun0
	uplink up1 1 100
	uplink up2 2 200
	ip -n "$NS" route del default via 10.1.0.1 dev up1
	ip -n "$NS" route del default via 10.2.0.1 dev up2
	ip -n "$NS" route add default nexthop via 10.1.0.1 dev up1 \
	    nexthop via 10.2.0.1 dev up2
	must_fail 3 ef -4 tun0
	expect_err err "effif: tun0: ambiguous: multipath default route in table 254"
}

t_veth() {
	ns
	uplink up1 1 100
	must_fail 1 ef up1
	printf 'up1\n' | diff -u - out
	[ ! -s err ] || fail "a message for a plain device"
	must_fail 1 ef -I up1p
	index up1p | diff -u - out
}

t_nosuch() {
	ns
	must_fail 4 ef nosuch0
	expect_err err "effif: nosuch0: no such interface"
	must_fail 4 ef this-name-is-far-too-long
	expect_err err "effif: this-name-is-far-too-long: no such interface"
}

t_usage() {
	must_fail 100 effif
	printf '%s\n' \
	    "usage: effif [-46Ijv] [-w] [-M mark] [-P peer] [--method name] iface ..." \
	    "       effif -a [-46Ijv] [-w]" \
	    "       effif -h" >want
	{ echo "effif: missing iface operand (or -a)"; cat want; } |
	    diff -u - err
	[ ! -s out ] || fail "bad usage printed on standard output"
	# -h: the same on standard output, then the options, and success.
	effif -h >out 2>err || fail "effif -h exited $?"
	grep -v '^  -' out | diff -u want -
	[ ! -s err ] || fail "effif -h wrote to standard error: $(cat err)"
	# The letters before issue 18: usage errors now.
	for o in "-m 1" "-p 192.0.2.1" "-n"; do
		must_fail 100 effif $o lo
		expect_err err "usage: effif"
	done
	must_fail 100 effif -a lo
	must_fail 100 effif -a -M 1
	must_fail 100 effif -x lo
	must_fail 100 effif -M bogus lo
	expect_err err "effif: mark invalid: bogus"
	must_fail 100 effif -M 0x100000000 lo
	must_fail 100 effif -M 4294967296 lo
	expect_err err "effif: mark too large: 4294967296"
	must_fail 100 effif --method nope lo
	expect_err err "effif: method nope: unknown"
	must_fail 100 effif -P nohost lo
	expect_err err "effif: peer nohost: not an IP address"
	must_fail 100 effif -4 -P 2001:db8::1 lo
	expect_err err "effif: peer 2001:db8::1: not an IPv4 address"
}

t_json() {
	tailscale
	ef -j -4 utun5 >out
	python3 -m json.tool out >/dev/null
	python3 - out <<'EOF'
import json, sys
o = json.load(open(sys.argv[1]))
want = {"interface": "utun5", "status": 0, "error": None,
        "effective": "up1", "method": "mark", "family": "inet",
        "gateway": "10.1.0.1", "table": 254, "mark": 0x80000}
for k, v in want.items():
    assert o[k] == v, (k, o[k])
assert [h["name"] for h in o["chain"]] == ["utun5", "up1"], o["chain"]
assert "index" in o and "note" in o
EOF
	# Several interfaces: one object each, a failure one too.
	must_fail 1 ef -j utun5 up1 nosuch0
	python3 -m json.tool --json-lines out >/dev/null
	[ "$(wc -l <out)" -eq 3 ] || fail "not one object per interface"
	grep -q '"status":4,"error":"nosuch0: no such interface"' out
}

t_verbose() {
	tailscale
	ef -v -4 utun5 >out
	[ "$(head -n 1 out)" = "	effective interface: up1" ] ||
	    fail "first line: $(head -n 1 out)"
	for f in method family gateway table mark chain; do
		grep -q "^	$f: " out || fail "no $f line"
	done
}

t_several() {
	tailscale
	ip -n "$NS" link add mv0 link up2 type macvlan
	printf 'utun5\tup1\nmv0\tup2\n' >want
	ef utun5 mv0 >out
	diff -u want out
	is "$(index up1)" ef -I -4 utun5
	# Both families: a line each, IPv4 first.
	ip -n "$NS" -6 route add default dev utun5 table 52
	ip -n "$NS" -6 rule add pref 5210 fwmark 0x80000/0xff0000 lookup main
	ip -n "$NS" -6 rule add pref 5270 lookup 52
	is "$(printf 'up1\nup1')" ef -46 utun5
	ip -n "$NS" -6 route del default via 2001:db8:1::1 dev up1
	is "$(printf 'up1\nup2')" ef -46 utun5
	ef -a >out
	printf 'utun5\tup1\nmv0\tup2\n' | diff -u - out
}

t_all_watch() {
	local pid
	ns
	uplink up1 1 100
	ip -n "$NS" link add mv0 link up1 type macvlan
	bg ip netns exec "$NS" "$BIN/effif" -a -w >wout 2>werr
	pid=$!
	wait_for 5 lines wout 1
	ip -n "$NS" link add mv1 link up1 type macvlan
	wait_for 5 lines wout 2
	ip -n "$NS" link del mv0
	wait_for 5 lines wout 3
	kill -TERM "$pid"
	wait_exit 5 "$pid"
	[ "$RC" -eq 0 ] || fail "watch exited $RC"
	printf 'mv0\tup1\nmv1\tup1\nmv0\t\n' | diff -u - wout
	expect_err werr "effif: mv0: no such interface"
}

# effif under valgrind's memcheck, through the mark, scan and JSON paths
# and a watch: no invalid access, no leak, no fd left open.
t_memcheck() {
	local vg="valgrind -q --error-exitcode=9 --leak-check=full \
	    --errors-for-leak-kinds=definite,indirect --track-fds=yes"
	tailscale
	ip netns exec "$NS" $vg "$BIN/effif" -4 -M 0x80000 utun5 >out 2>verr
	[ "$(cat out)" = up1 ] || fail "$(cat out) $(cat verr)"
	ip netns exec "$NS" $vg "$BIN/effif" -j -a >out 2>>verr
	ip netns exec "$NS" $vg "$BIN/effif" -v -46 utun5 >out 2>>verr
	if grep -A1 'Open file descriptor [0-9]*:' verr | grep -v -e '--' \
	    -e 'Open file' -e 'inherited from parent' | grep -q .; then
		cat verr >&2
		fail "fd open at exit"
	fi
	grep -q 'ERROR SUMMARY: [1-9]' verr && fail "$(cat verr)"
	:
}

# Issue 15, 1: a goto jumps to the rule of exactly that preference, over
# an unreachable rule between; a goto to no rule is a no-op.
t_goto() {
	ns
	tun tun0
	uplink up1 1 100
	ip -n "$NS" rule add pref 80 goto 5000
	ip -n "$NS" rule add pref 88 iif lo unreachable
	ip -n "$NS" rule add pref 5000 table main
	ip -n "$NS" route get 192.0.2.1 | grep -q 'dev up1'
	is up1 ef -4 tun0
	is up1 ef -4 --method scan tun0
	ip -n "$NS" rule del pref 5000
	! ip -n "$NS" route get 192.0.2.1 2>/dev/null
	must_fail 2 ef -4 tun0
	expect_err err "effif: tun0: no underlay route (rule 88)"
}

# Issue 15, 2: suppress_ifgroup takes a route away only when its device
# is in the group.
t_suppress_ifgroup() {
	ns
	tun tun0
	uplink up1 1 100
	uplink up2 2 200
	ip -n "$NS" route add default via 10.2.0.1 dev up2 table 100
	ip -n "$NS" rule add pref 100 table 100 suppress_ifgroup 5
	ip -n "$NS" route get 192.0.2.1 | grep -q 'dev up2'
	is up2 ef -4 tun0
	ip -n "$NS" link set up2 group 5
	ip -n "$NS" route get 192.0.2.1 | grep -q 'dev up1'
	is up1 ef -4 tun0
}

# Issue 15, 3: a stacked device carries the same packets as its lower
# one: -M and -P hold for it.
t_stacked_mark() {
	ns
	uplink up1 1 100
	uplink up2 2 200
	ip netns exec "$NS" ip tuntap add mode tap name tap0
	ip -n "$NS" link set tap0 up
	ip -n "$NS" link add mvt link tap0 type macvlan mode bridge
	ip -n "$NS" -6 rule add pref 100 fwmark 0x80000 prohibit
	must_fail 2 ef -6 -M 0x80000 tap0
	must_fail 2 ef -6 -M 0x80000 mvt
	expect_err err "effif: mvt: no underlay route beyond tap0 with mark 0x80000"
	ip netns exec "$NS" ip tuntap add mode tap name tap1
	ip -n "$NS" link add brt type bridge
	ip -n "$NS" link set tap1 master brt
	ip -n "$NS" -6 route add 2001:db8:77::1 via 2001:db8:2::1 dev up2
	is up2 ef -6 -P 2001:db8:77::1 tap1
	is up2 ef -6 -P 2001:db8:77::1 brt
	ef -v -6 -P 2001:db8:77::1 brt >out
	[ "$(field chain)" = "brt (link) -> tap1 (peer) -> up2" ] ||
	    fail "chain $(field chain)"
}

# Issue 15, 4: routes by nexthop object, which the kernel sends by id
# alone with nexthop_compat_mode=0.
t_nhid() {
	ns
	ip netns exec "$NS" sysctl -qw net.ipv4.nexthop_compat_mode=0
	tun tun0
	uplink up1 1 100
	uplink up2 2 200
	ip -n "$NS" route del default via 10.1.0.1 dev up1
	ip -n "$NS" route del default via 10.2.0.1 dev up2
	ip -n "$NS" nexthop add id 1 via 10.1.0.1 dev up1
	ip -n "$NS" nexthop add id 2 via 10.2.0.1 dev up2
	ip -n "$NS" nexthop add id 3 group 1/2
	ip -n "$NS" route add default nhid 2
	ip -n "$NS" route show default | grep -q 'nhid 2'
	is up2 ef -4 tun0
	ip -n "$NS" route add default nhid 1 table 7
	ip -n "$NS" rule add pref 100 fwmark 0x80000 table 7
	ip -n "$NS" route add default dev tun0 table 8
	ip -n "$NS" rule add pref 200 table 8
	is up1 ef -4 -M 0x80000 tun0
	is up1 ef -4 tun0
	ip -n "$NS" route replace default nhid 3 table 7
	must_fail 3 ef -4 -M 0x80000 tun0
	ip -n "$NS" route replace default nhid 3
	ip -n "$NS" rule del pref 100
	must_fail 3 ef -4 tun0
	expect_err err "effif: tun0: ambiguous: multipath default route in table 254"
}

# Issue 15, 5: names that are not UTF-8 make valid JSON; marks read as
# ip-rule reads them; "this method does not apply" exits 2 for any method.
t_output() {
	local name
	tailscale
	name=$(printf 'x\377y')
	ip -n "$NS" link add "$name" link up1 type macvlan
	ef -j "$name" >out
	python3 - out <<'EOF'
import json, sys
o = json.loads(open(sys.argv[1], "rb").read().decode("ascii"))
assert o["interface"].encode("latin-1") == b"x\xffy", o["interface"]
assert o["effective"] == "up1", o
EOF
	ef -v -4 -M 02000000 utun5 >out
	[ "$(field mark)" = 0x80000 ] || fail "octal mark $(field mark)"
	ef -v -4 -M 0x000080000 utun5 >out
	[ "$(field mark)" = 0x80000 ] || fail "hex mark $(field mark)"
	must_fail 100 ef -M 08 utun5
	expect_err err "effif: mark invalid: 08"
	must_fail 2 ef --method peer "$name"
	expect_err err "no underlay route by method peer"
	must_fail 2 ef --method link utun5
	expect_err err "no underlay route by method link"
	must_fail 1 ef --method peer up1
}

# wgquick_rules F: family F's rules and table of a full tunnel as wg-quick
# makes them, for wg0.
wgquick_rules() {
	ip -n "$NS" $1 route add default dev wg0 table 51820
	ip -n "$NS" $1 rule add not fwmark 51820 table 51820
	ip -n "$NS" $1 rule add table main suppress_prefixlength 0
}

# Issue 15, the kernel asked: a full tunnel (wg-quick) over two uplinks,
# the lower metric second; the scan asks the kernel the route bound to each
# uplink and reads no table, unless a rule could make the two differ.
t_scan_kernel() {
	ns
	tun wg0
	uplink up1 1 200
	uplink up2 2 100
	for f in -4 -6; do
		wgquick_rules $f
	done
	ip -n "$NS" route get 192.0.2.1 oif up1 fibmatch | grep -q 'dev up1'
	for f in -4 -6; do
		ef -v $f --method scan wg0 >out
		[ "$(field chain)" = "wg0 (scan) -> up2" ] || fail "$(cat out)"
		[ "$(field table)" = main ] || fail "table $(field table)"
		! grep -q note: out || fail "$f: $(field note)"
	done
	ip -n "$NS" -6 route add blackhole default metric 50
	must_fail 2 ef -6 --method scan wg0
	expect_err err "no underlay route (blackhole default route in table 254)"
	ip -n "$NS" rule add pref 50 table 100 suppress_ifgroup 5
	ef -v -4 --method scan wg0 >out
	[ "$(field chain)" = "wg0 (scan) -> up2" ] || fail "$(cat out)"
	[ "$(field note)" = "scan read the tables: suppress_ifgroup or a selector the scan passes over" ] ||
	    fail "note $(field note)"
}

# Issue 23, 6: the scan asks the kernel with a rule on oif present, and
# an IPv6 scan with no reject or throw on its way dumps no route: strace
# shows every netlink request, none of them a route dump.
t_scan_nodump() {
	local f
	ns
	tun wg0
	uplink up1 1 200
	uplink up2 2 100
	for f in -4 -6; do
		wgquick_rules $f
		ip -n "$NS" $f rule add pref 10 oif up1 table 100
	done
	ip -n "$NS" route add 198.51.100.0/24 via 10.1.0.1 dev up1 table 100
	ip -n "$NS" -6 route add 2001:db8:77::/48 via 2001:db8:1::1 dev up1 \
	    table 100
	for f in -4 -6; do
		# LeakSanitizer cannot run under ptrace (SAN=1 builds).
		ip netns exec "$NS" env \
		    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		    strace -f -e trace=sendto -o trace \
		    "$BIN/effif" -v $f --method scan wg0 >out
		[ "$(field chain)" = "wg0 (scan) -> up2" ] || fail "$f: $(cat out)"
		! grep -q note: out || fail "$f: $(field note)"
		! grep 'RTM_GETROUTE.*NLM_F_DUMP' trace || fail "$f: a route dump"
	done
}

# Issue 23, 6: a rule on oif sends one device's lookup to a table the scan
# never meets (table 100, up2 at metric 10): that answer is not the scan's,
# which is main's lowest metric, up2 (up1 were a lookup trusted).
t_scan_oif_divert() {
	local f
	ns
	tun wg0
	uplink up1 1 200
	uplink up2 2 100
	ip -n "$NS" route add default via 10.2.0.1 dev up2 table 100 metric 10
	ip -n "$NS" -6 route add default via 2001:db8:2::1 dev up2 table 100 \
	    metric 10
	for f in -4 -6; do
		ip -n "$NS" $f route add default dev wg0 table 51820
		ip -n "$NS" $f rule add not fwmark 51820 table 51820
		ip -n "$NS" $f rule add pref 10 oif up2 table 100
		ip -n "$NS" $f route del default via "$(gw $f 2)" dev up2
		ip -n "$NS" $f route add default via "$(gw $f 2)" dev up2 \
		    metric 150
		is up2 ef $f --method scan wg0
	done
}

# gw -4|-6 N: the gateway of uplink N.
gw() {
	if [ "$1" = -4 ]; then echo "10.$2.0.1"; else echo "2001:db8:$2::1"; fi
}

# Issue 23, 6: an IPv6 throw default in main below the uplink's metric
# sends the scan on to table 300 (up2); a lookup bound to up1 passes over
# the throw, which lives on lo, and would answer up1.  Then a reject.
t_scan_throw6() {
	ns
	tun wg0
	uplink up1 1 200
	uplink up2 2 300
	ip -n "$NS" -6 route del default via 2001:db8:2::1 dev up2
	ip -n "$NS" -6 route add default via 2001:db8:2::1 dev up2 table 300
	ip -n "$NS" -6 rule add pref 40000 table 300
	ip -n "$NS" -6 route add throw default metric 100
	ip -n "$NS" -6 route get 2001:db8::1 | grep -q 'dev up2'
	is up2 ef -6 --method scan wg0
	ip -n "$NS" -6 route add default dev wg0 table 51820
	ip -n "$NS" -6 rule add not fwmark 51820 table 51820
	ip -n "$NS" -6 rule add table main suppress_prefixlength 0
	is up2 ef -6 --method scan wg0
	ip -n "$NS" -6 route del throw default metric 100
	is up1 ef -6 --method scan wg0
	# Packets with the mark pass by table 51820: only unmarked ones see
	# its reject, which no lookup bound to an uplink sees either.
	ip -n "$NS" -6 route add unreachable default metric 10 table 51820
	must_fail 2 ef -6 --method scan wg0
	expect_err err "no underlay route (unreachable default route in table 51820)"
	ip -n "$NS" -6 route del unreachable default metric 10 table 51820
	ip -n "$NS" -6 route add unreachable default metric 100 table 300
	ip -n "$NS" -6 route del default via 2001:db8:1::1 dev up1
	must_fail 2 ef -6 --method scan wg0
	expect_err err "no underlay route (unreachable default route in table 300)"
}

# owner ARGS: tests/tunowner.py ARGS in the namespace, a real tun owner
# with its UDP socket; once it is ready, $OWNER is its pid, $OPORT its port.
owner() {
	bg ip netns exec "$NS" python3 "$TESTS/tunowner.py" "$@" >own 2>&1
	wait_for 10 grep -q '^ready' own
	read -r _ OWNER OPORT <own
}

# ssfield PID FIELD: a field of ss's line for the UDP socket of PID.
ssfield() {
	ip netns exec "$NS" ss -H -uapne 2>/dev/null | grep "pid=$1," |
	    tr ' ' '\n' | sed -n "s/^$2//p"
}

# The socket method: a tunnel owner whose UDP socket has a mark and a
# device and a peer; effif finds it by its tun fd, and routes exactly that
# socket's packets, as ss and ip route get see them.
t_socket() {
	local dst peerns
	ns
	peerns=$NS
	ip -n "$peerns" addr add 203.0.113.7/32 dev lo
	ns
	uplink up1 1 100
	uplink up2 2 200
	# The peer across up2's veth, in its own namespace.
	ip -n "$NS" link set up2p netns "$peerns"
	ip -n "$peerns" link set up2p up
	ip -n "$peerns" addr add 10.2.0.1/24 dev up2p
	owner tun0 -m 0x1234 -d up2 -c 203.0.113.7:51820
	ip -n "$NS" link set tun0 up
	ip -n "$NS" route add default dev tun0 metric 10
	# Without the socket, every other method says up1.
	is up1 ef -4 --method scan tun0
	is up2 ef -4 --method socket tun0
	ef -v -4 tun0 >out
	[ "$(field method)" = socket ] || fail "method $(field method)"
	[ "$(field mark)" = 0x1234 ] || fail "mark $(field mark)"
	[ "$(field gateway)" = 10.2.0.1 ] || fail "gateway $(field gateway)"
	# What ss says of the same socket: pid, inode, peer, mark, device.
	dst=$(ip netns exec "$NS" ss -H -uapne | grep "pid=$OWNER," |
	    awk '{ print $5 }')
	[ "$dst" = 203.0.113.7:51820 ] || fail "ss peer $dst"
	[ "$(ssfield "$OWNER" fwmark:)" = 0x1234 ] || fail "ss fwmark"
	ip netns exec "$NS" ss -H -uapne | grep "pid=$OWNER," |
	    grep -q "%up2:$OPORT " || fail "ss: not bound to up2"
	[ "$(field note)" = "pid $OWNER uid 0 udp socket $(ssfield "$OWNER" ino:) 10.2.0.2:$OPORT -> 203.0.113.7:51820 mark 0x1234 dev up2" ] ||
	    fail "note $(field note)"
	# And what ip route get says of exactly that flow.
	ip -n "$NS" route get 203.0.113.7 mark 0x1234 oif up2 |
	    grep -q 'via 10.2.0.1 dev up2'
}

# wireguard-go's way: a socket not connected and not bound, only marked;
# a rule sends the mark to table 100.  Without the mark's rule, the
# socket's packets would loop into the tunnel: the next method answers.
t_socket_mark() {
	ns
	uplink up1 1 100
	uplink up2 2 200
	owner tun0 -m 0x80000 -C "[2001:db8:ff::7]:51820"
	ip -n "$NS" link set tun0 up
	ip -n "$NS" route add default dev tun0 metric 10
	ip -n "$NS" route add default via 10.2.0.1 dev up2 table 100
	ip -n "$NS" rule add pref 100 fwmark 0x80000 lookup 100
	ip -n "$NS" -6 route add default via 2001:db8:1::1 dev up1 table 100
	ip -n "$NS" -6 rule add pref 100 fwmark 0x80000 lookup 100
	ip -n "$NS" route get 192.0.2.1 mark 0x80000 | grep -q 'dev up2'
	is up2 ef -4 --method socket tun0
	# A socket per family, each family its own uplink: -6 asks the IPv6
	# one; no family, the IPv4 one first, as the other methods do.
	is up1 ef -6 --method socket tun0
	is up2 ef --method socket tun0
	ef -v -4 tun0 >out
	[ "$(field method)" = socket ] || fail "method $(field method)"
	field note | grep -q "^pid $OWNER uid 0 udp .* (not connected)$" ||
	    fail "note $(field note)"
	ip -n "$NS" rule del pref 100
	must_fail 2 ef -4 --method socket tun0
	expect_err err "tun0: no underlay route by method socket: the sockets of tun0 route into a tunnel"
	ef -v -4 tun0 >out
	[ "$(field method)" = scan ] || fail "method $(field method)"
	# No owner at all: a persistent tun device nobody holds.
	ip netns exec "$NS" ip tuntap add mode tun name tun9
	must_fail 2 ef --method socket tun9
	expect_err err "tun9: no underlay route by method socket: no process holds tun9 open"
	must_fail 100 ef -w --method socket tun0
	expect_err err "effif: cannot use --method socket with -w"
}

# txpk DEV: packets sent by DEV so far.
txpk() {
	ip netns exec "$NS" cat "/sys/class/net/$1/statistics/tx_packets"
}

# tx_above DEV N: DEV has sent more than N packets, read anew each call.
tx_above() {
	[ "$(txpk "$1")" -gt "$2" ]
}

# sent DEV: the owner sends one datagram, which leaves by DEV.
sent() {
	local before
	before=$(txpk "$1")
	kill -USR1 "$OWNER"
	wait_for 5 tx_above "$1" "$before"
}

# sockrules: uplinks up1 and up2 whose gateways answer without ARP,
# a default route into tun0 before them, and table 7's default via up2.
sockrules() {
	ns
	uplink up1 1 100
	uplink up2 2 200
	ip -n "$NS" neigh add 10.1.0.1 lladdr 02:00:00:00:01:01 dev up1 \
	    nud permanent
	ip -n "$NS" neigh add 10.2.0.1 lladdr 02:00:00:00:02:01 dev up2 \
	    nud permanent
	ip netns exec "$NS" ip tuntap add mode tun name tun0
	ip -n "$NS" link set tun0 up
	ip -n "$NS" route add default dev tun0 metric 10
	ip -n "$NS" route add default via 10.2.0.1 dev up2 table 7
}

# The socket method asks the socket's whole question: its uid, protocol
# and ports too, as the kernel routes that socket's datagrams.
t_socket_uid() {
	sockrules
	ip -n "$NS" rule add pref 100 uidrange 1000-1000 lookup 7
	owner tun0 -c 203.0.113.7:51820 -u 1000
	sent up2
	is up2 ef -4 --method socket tun0
}

t_socket_ports() {
	sockrules
	ip -n "$NS" rule add pref 100 ipproto udp dport 51820 lookup 7
	owner tun0 -c 203.0.113.7:51820 -p 40000
	sent up2
	is up2 ef -4 --method socket tun0
	ip -n "$NS" rule del pref 100
	ip -n "$NS" rule add pref 100 ipproto udp sport 40000 lookup 7
	sent up2
	is up2 ef -4 --method socket tun0
	ip -n "$NS" rule del pref 100
	must_fail 2 ef -4 --method socket tun0
	expect_err err "the sockets of tun0 route into a tunnel"
}

# Every process that holds the tun device counts, not the first found: a
# child shares its parent's tun fd (the kernel counts one queue).
t_socket_owners() {
	sockrules
	ip -n "$NS" route add default via 10.1.0.1 dev up1 table 8
	ip -n "$NS" rule add pref 100 fwmark 0x1 lookup 8
	ip -n "$NS" rule add pref 101 fwmark 0x2 lookup 7
	# Parent 0x1 (up1), child 0x2 (up2): ambiguous, each one named.
	owner tun0 -m 0x1 -k 0x2 -c 203.0.113.7:51820
	must_fail 3 ef -4 --method socket tun0
	# Each holder by its pid, in /proc's order: the child's pid may have
	# wrapped below its parent's.
	expect_err err "tun0: ambiguous: sockets routed through several devices: "
	expect_err err "up1 (pid $OWNER)"
	expect_err err " up2 (pid "
	kill -TERM "$OWNER"
	wait_exit 5 "$OWNER"
	# A parent without a socket, its child's socket marked 0x2: up2.
	owner tun0 -n -k 0x2 -c 203.0.113.7:51820
	sent up2
	is up2 ef -4 --method socket tun0
	ef -v -4 tun0 >out
	field socket | grep -q "^pid [0-9]* uid 0 udp socket .* mark 0x2 -> up2 via 10.2.0.1 table 7$" ||
	    fail "socket $(field socket)"
}

# leftby: the owner (-W) sends a datagram from each socket; the devices
# they left by, as its packet socket saw them.
leftby() {
	local n
	n=$(nleft)
	kill -USR1 "$OWNER"
	wait_for 5 more_left "$n"
	grep '^left' own | tail -n 1 | cut -d ' ' -f 2-
}

nleft() {
	grep -c '^left' own || :
}

more_left() {
	[ "$(nleft)" -gt "$1" ]
}

# Issue 23, 1: a socket bound to a device (SO_BINDTODEVICE up2) while the
# routes prefer up1.  The kernel holds a bound socket's route to its
# device, but ip route get with both a source and a device does not
# (IPv6: no RT6_LOOKUP_F_IFACE without a socket): a real datagram of each
# family says where they leave, and effif must say the same.
t_socket_bound6() {
	local left f
	sockrules
	ip -n "$NS" -6 neigh add 2001:db8:1::1 lladdr 02:00:00:00:01:01 \
	    dev up1 nud permanent
	ip -n "$NS" -6 neigh add 2001:db8:2::1 lladdr 02:00:00:00:02:01 \
	    dev up2 nud permanent
	owner tun0 -d up2 -c 203.0.113.7:51820 -C "[2001:db8:ff::7]:51820" -W
	# The question as the netlink lookup hears it answers up1.
	ip -n "$NS" -6 route get 2001:db8:ff::7 oif up2 from 2001:db8:2::2 |
	    grep -q 'dev up1' || t_note "ip -6 route get oif up2 from: not up1"
	left=$(leftby)
	[ "$left" = "up2 up2" ] || fail "datagrams left by $left"
	t_note "datagrams left by: $left (IPv4, IPv6)"
	for f in -4 -6; do
		ef "$f" --method socket tun0 >out 2>err ||
		    fail "effif $f: exit $?: $(cat err)"
		[ "$(cat out)" = up2 ] || fail "effif $f: $(cat out), not up2"
	done
	ef -v -6 tun0 >out
	field socket | grep -q "dev up2 -> up2 via 2001:db8:2::1 table main" ||
	    fail "socket $(field socket)"
	# No route by up2 at all: the bound socket's datagram cannot leave,
	# and effif says so rather than answer up1.
	ip -n "$NS" -6 route del default via 2001:db8:2::1 dev up2
	ip -n "$NS" -6 route del 2001:db8:2::/64 dev up2
	left=$(leftby)
	[ "$left" = "up2 unreachable" ] || fail "datagrams left by $left"
	must_fail 2 ef -6 --method socket tun0
	expect_err err "tun0: no underlay route from the tunnel's sockets"
}

# kthreads: the children of kthreadd, one a line, sorted.
kthreads() {
	tr ' ' '\n' </proc/2/task/2/children | sed '/^$/d' | sort
}

# Issue 23, 6: in a namespace of its own, the walk of /proc passes over
# the kernel's threads and helpers (the children of kthreadd, all in the
# first namespace) without a readlink of their ns/net each, and still
# finds the owner.  Only those there before and after effif count.
t_socket_kthreads() {
	sockrules
	owner tun0 -d up2 -c 203.0.113.7:51820
	if [ ! -r /proc/2/task/2/children ]; then
		t_note "no /proc/2/task/2/children (CONFIG_PROC_CHILDREN)"
		return 0
	fi
	kthreads >k0
	ip netns exec "$NS" env \
	    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	    strace -e trace=readlinkat -o trace \
	    "$BIN/effif" -4 --method socket tun0 >out
	kthreads | comm -12 k0 - | sed 's|.*|"&/ns/net"|' >k1
	[ "$(cat out)" = up2 ] || fail "answer $(cat out)"
	grep -q "\"$OWNER/ns/net\"" trace || fail "the owner's ns/net not read"
	[ -s k1 ] || fail "kthreadd has no children"
	! grep -F -f k1 trace || fail "a kernel thread's ns/net read"
}

# Issue 23, 6: effif does not read its own fds (it never carries the
# tunnel's packets), and for -6 it asks sock_diag for IPv6 sockets only
# (an IPv4 socket carries no IPv6 packet; -4 asks both, for v4-mapped).
t_socket_walk_self() {
	local me
	sockrules
	owner tun0 -C "[2001:db8:ff::7]:51820"
	ip netns exec "$NS" env \
	    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	    strace -f -e trace=openat,sendto -o trace \
	    "$BIN/effif" -6 --method socket tun0 >out
	[ "$(cat out)" = up1 ] || fail "answer $(cat out)"
	me=$(grep -m 1 'execve\|openat' trace | awk '{ print $1 }')
	grep -q "\"$OWNER/fd\"" trace || fail "the owner's fds not read"
	! grep "\"$me/fd\"" trace || fail "its own fds read"
	grep -q 'SOCK_DIAG_BY_FAMILY.*sdiag_family=AF_INET6' trace ||
	    fail "no IPv6 sock_diag dump"
	! grep 'SOCK_DIAG_BY_FAMILY.*sdiag_family=AF_INET,' trace ||
	    fail "an IPv4 sock_diag dump for -6"
}

# One rule for several paths: the methods that ask about no flow say
# ambiguous for any multipath route (nexthops, groups, resilient groups,
# or one leg through the tunnel itself); the socket method, whose one
# flow the kernel hashes onto one leg, answers that leg and -v says so.
t_multipath_methods() {
	ns
	tun tun0
	uplink up1 1 100
	uplink up2 2 200
	ip -n "$NS" route del default via 10.1.0.1 dev up1
	ip -n "$NS" route del default via 10.2.0.1 dev up2
	ip -n "$NS" route add default nexthop via 10.1.0.1 dev up1 \
	    nexthop via 10.2.0.1 dev up2
	must_fail 3 ef -4 -P 203.0.113.7 --method peer tun0
	expect_err err "tun0: ambiguous: multipath route to peer 203.0.113.7 in table 254: up1 up2"
	must_fail 3 ef -4 -M 0x1 --method mark tun0
	expect_err err "tun0: ambiguous: multipath route with mark 0x1 in table 254: up1 up2"
	owner tun0 -c 203.0.113.7:51820
	is "$(ip -n "$NS" route get 203.0.113.7 | sed -n 's/.* dev \(up[12]\) .*/\1/p')" \
	    ef -4 --method socket tun0
	ef -v -4 --method socket tun0 >out
	field socket | grep -q "(multipath route over up1 up2: the kernel's hash of this flow picks up[12])$" ||
	    fail "socket $(field socket)"
	ip -n "$NS" route del default
	ip -n "$NS" nexthop add id 1 via 10.1.0.1 dev up1
	ip -n "$NS" nexthop add id 2 via 10.2.0.1 dev up2
	ip -n "$NS" nexthop add id 10 group 1/2
	ip -n "$NS" nexthop add id 11 group 1/2 type resilient buckets 8
	for g in 10 11; do
		ip -n "$NS" route replace default nhid "$g"
		must_fail 3 ef -4 -P 203.0.113.7 --method peer tun0
		expect_err err "multipath route to peer 203.0.113.7 in table 254: up1 up2"
		must_fail 3 ef -4 -M 0x1 --method mark tun0
		expect_err err "multipath route with mark 0x1 in table 254: up1 up2"
	done
	ip -n "$NS" route replace default nexthop dev tun0 \
	    nexthop via 10.1.0.1 dev up1
	must_fail 3 ef -4 -P 203.0.113.7 --method peer tun0
	expect_err err "multipath route to peer 203.0.113.7 in table 254: tun0 (the tunnel itself) up1"
}

# A vxlan made in one namespace on its uplink and moved into another: its
# packets are still routed, and leave, in the first.  effif never names a
# device of the namespace it runs in for it.
t_vxlan_netns() {
	local a
	ns
	a=$NS
	uplink up1 1 100
	ns
	uplink up3 3 100
	ip -n "$a" link add vx0 type vxlan id 42 dev up1 remote 10.1.0.9 \
	    dstport 4789
	ip -n "$a" link set vx0 netns "$NS"
	ip -n "$NS" link set vx0 up
	must_fail 2 ef vx0
	expect_err err "effif: vx0: no underlay route: the underlay of vx0 is in another network namespace (nsid "
	expect_err err ", ifindex $(ip netns exec "$a" cat /sys/class/net/up1/ifindex))"
}

# Source-specific IPv6 defaults (default from P via ...): a lookup with
# no source matches none; each source is asked, and two sources that
# leave by two devices are named, ambiguous; one source is the answer.
t_source_routes() {
	ns
	tun tun0
	uplink up1 1 100
	uplink up2 2 200
	ip -n "$NS" -6 route del default via 2001:db8:1::1 dev up1
	ip -n "$NS" -6 route del default via 2001:db8:2::1 dev up2
	ip -n "$NS" -6 route add default from 2001:db8:1::/64 \
	    via 2001:db8:1::1 dev up1
	ip -n "$NS" -6 route add default from 2001:db8:2::/64 \
	    via 2001:db8:2::1 dev up2
	must_fail 3 ef -6 --method scan tun0
	expect_err err "tun0: ambiguous: the answer depends on the source: from 2001:db8:1::/64 up1, from 2001:db8:2::/64 up2"
	must_fail 3 ef -6 -P 2001:db8:ff::7 --method peer tun0
	expect_err err "tun0: ambiguous: the answer depends on the source: from 2001:db8:1::/64 up1, from 2001:db8:2::/64 up2"
	ip -n "$NS" -6 route del default from 2001:db8:2::/64
	is up1 ef -6 --method scan tun0
	is up1 ef -6 -P 2001:db8:ff::7 --method peer tun0
	ef -v -6 --method scan tun0 >out
	[ "$(field note)" = "source-specific route from 2001:db8:1::/64 up1" ] ||
	    fail "note $(field note)"
}

# The scan with source-specific IPv6 defaults behind a rule that sends
# everything into the tunnel first (as Tailscale's table 52): as if the
# tunnel were not there, the packets take the source routes of main.
t_source_routes_scan() {
	ns
	tun tun0
	uplink up1 1 100
	uplink up2 2 200
	ip -n "$NS" -6 route flush exact ::/0 table main
	ip -n "$NS" -6 route add default from 2001:db8:1::/64 \
	    via 2001:db8:1::1 dev up1
	ip -n "$NS" -6 route add default from 2001:db8:2::/64 \
	    via 2001:db8:2::1 dev up2
	ip -n "$NS" -6 route add default dev tun0 table 52
	ip -n "$NS" -6 rule add pref 5270 lookup 52
	must_fail 3 ef -6 --method scan tun0
	expect_err err "tun0: ambiguous: the answer depends on the source: from 2001:db8:1::/64 up1, from 2001:db8:2::/64 up2"
	ip -n "$NS" -6 route del default from 2001:db8:2::/64
	is up1 ef -6 --method scan tun0
	ef -v -6 --method scan tun0 >out
	[ "$(field note)" = "source-specific route from 2001:db8:1::/64 up1" ] ||
	    fail "note $(field note)"
	# A rule that rejects a packet with no source yet: the kernel picks
	# a source and looks again, and that source's rules let it by.
	ip -n "$NS" -6 rule add pref 100 not from 2001:db8:1::/48 prohibit
	is up1 ef -6 --method scan tun0
	# A rule that rejects that source: no route, as for the kernel.
	ip -n "$NS" -6 rule add pref 90 from 2001:db8:1::/48 blackhole
	! ip -n "$NS" -6 route get 2001:db8::1 from 2001:db8:1:: 2>/dev/null ||
	    fail "the kernel routes from 2001:db8:1::"
	must_fail 2 ef -6 --method scan tun0
	expect_err err "tun0: no underlay route (rule 100)"
}

# Kernel WireGuard: its fwmark and peers from its netlink family.
t_socket_wireguard() {
	ns
	uplink up1 1 100
	ip -n "$NS" link add wg0 type wireguard
	ip -n "$NS" link set wg0 up
	must_fail 2 ef --method socket wg0
	expect_err err "wireguard wg0 has no peer endpoint"
}

# Watch mode with both families: each line says which family changed.
t_watch46() {
	local pid
	tailscale
	ip -n "$NS" -6 rule add pref 5210 fwmark 0x80000/0xff0000 lookup main
	bg ip netns exec "$NS" "$BIN/effif" -w -46 -M 0x80000 utun5 >wout \
	    2>werr
	pid=$!
	wait_for 5 lines wout 2
	ip -n "$NS" -6 route del default via 2001:db8:1::1 dev up1
	wait_for 5 lines wout 3
	kill -TERM "$pid"
	wait_exit 5 "$pid"
	printf 'inet\tup1\ninet6\tup1\ninet6\tup2\n' | diff -u - wout
}

# A netlink error in watch mode is that round's answer, not the end: the
# second request of the first round fails (EIO, by strace), the line is
# empty and the error is said; the next change is answered again.
t_watch_error() {
	local pid
	tailscale
	# LeakSanitizer cannot run under ptrace.
	bg ip netns exec "$NS" \
	    env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	    strace -f -qq -o /dev/null -e trace=sendto \
	    -e inject=sendto:error=EIO:when=2 "$BIN/effif" -w -4 -M 0x80000 \
	    utun5 >wout 2>werr
	pid=$!
	wait_for 5 lines wout 1
	ip -n "$NS" route del default via 10.1.0.1 dev up1
	wait_for 5 lines wout 2
	# strace leaves its tracee running on SIGTERM: end effif itself.
	kill -TERM "$(pgrep -P "$pid" effif)"
	wait_exit 5 "$pid"
	[ "$RC" -eq 0 ] || { cat werr >&2; fail "watch exited $RC"; }
	printf '\nup2\n' | diff -u - wout
	expect_err werr "effif: utun5: route with mark 0x80000: Input/output error"
}

# stamp: each line read, after the time it was read (ns since the epoch).
stamp() {
	local line
	while IFS= read -r line; do
		printf '%s %s\n' "$(date +%s%N)" "$line"
	done
}

# Watch mode prints every change: twenty flips 50 ms apart are twenty
# lines, each soon after its flip (latencies measured, not asserted).
t_watch_flips() {
	local pid i t lat
	tailscale
	ip -n "$NS" route del default via 10.2.0.1 dev up2
	ip -n "$NS" route add default via 10.2.0.1 dev up2 metric 200
	bg ip netns exec "$NS" "$BIN/effif" -w -4 -M 0x80000 utun5 \
	    > >(stamp >wout) 2>werr
	pid=$!
	wait_for 5 lines wout 1
	: >flips
	for i in $(seq 1 20); do
		if [ $((i % 2)) -eq 1 ]; then
			ip -n "$NS" route del default via 10.1.0.1 dev up1
		else
			ip -n "$NS" route add default via 10.1.0.1 dev up1 \
			    metric 100
		fi
		date +%s%N >>flips
		sleep 0.05
	done
	wait_for 5 lines wout 21
	sleep 0.3
	kill -TERM "$pid"
	wait_exit 5 "$pid"
	cut -d' ' -f2 wout >got
	{ echo up1; for i in $(seq 1 10); do printf 'up2\nup1\n'; done; } |
	    diff -u - got
	# Latency: each line after the flip before it, in ms.
	lat=$(tail -n +2 wout | cut -d' ' -f1 | paste - flips |
	    awk '{ print int(($1 - $2) / 1000000) }' | sort -n | tr '\n' ' ')
	t_note "watch: 20 flips 50 ms apart, 20 lines; latency ms (sorted): $lat"
	t=$(echo "$lat" | awk '{ print $NF }')
	[ "$t" -lt 2000 ] || fail "a line $t ms late"
}

# run NAME FUNCTION: t_case, or t_skip where namespaces cannot be made.
run() {
	if [ -n "$NO_NETNS" ] && [ "$2" != t_usage ]; then
		t_skip "$1" "$NO_NETNS"
	else
		t_case "$1" "$2"
	fi
}

NO_NETNS=
if ip netns add "effif-$$-probe" 2>/dev/null; then
	ip netns del "effif-$$-probe"
else
	NO_NETNS="cannot create network namespaces (root needed)"
fi

run "tailscale exit node: the uplink of lowest metric, then the next" t_tailscale
run "tailscale exit node, watch mode: a line per change" t_tailscale_watch
run "wg-quick, IPv4: fwmark 51820 and suppress_prefixlength 0" t_wgquick4
run "wg-quick, IPv6" t_wgquick6
run "openvpn def1: -P server answers by peer, scan without it" t_openvpn
run "macvlan: its lower device" t_macvlan
run "vxlan with a device: that device" t_vxlan
run "vxlan moved into another namespace: never a device of this one" t_vxlan_netns
run "vxlan routed into a tunnel: the tunnel's uplink" t_vxlan_tunnel
run "bridge: one port is the answer, two are ambiguous" t_bridge
run "multipath default over two uplinks: ambiguous" t_multipath
run "veth: not a tunnel, prints itself, never its peer" t_veth
run "unknown interface: exit 4" t_nosuch
run "usage errors: exit 100" t_usage
run "-j: one JSON object per interface, every field" t_json
run "-v: Apple's first line, then how" t_verbose
run "several interfaces, -I, -46, -a" t_several
run "-a -w: devices that come and go" t_all_watch
run "scan: goto jumps over an unreachable rule, as the kernel does" t_goto
run "scan: suppress_ifgroup suppresses only devices of its group" t_suppress_ifgroup
run "-M and -P hold below a stacked device" t_stacked_mark
run "nexthop objects with nexthop_compat_mode=0" t_nhid
run "output: JSON of any name, marks as ip-rule reads them, one status" t_output
run "-w -46: each line names its family" t_watch46
if have_strace; then
	run "-w: a netlink error is one round's answer, not the end" t_watch_error
else
	t_skip "-w: a netlink error is one round's answer, not the end" \
	    "strace cannot trace here"
fi
run "-w: twenty flips 50 ms apart are twenty lines" t_watch_flips
run "scan asks the kernel, device by device, unless a rule forbids" t_scan_kernel
run "scan: an oif rule, no IPv6 reject: the kernel asked, no dump" t_scan_nodump
run "scan: an oif rule that diverts a lookup is not the scan's answer" t_scan_oif_divert
run "scan: an IPv6 throw default below the uplink, a reject before it" t_scan_throw6
run "socket: the tun owner's socket, its mark, device and peer" t_socket
run "socket: an unconnected marked socket, then none that leaves" t_socket_mark
run "socket: a uidrange rule routes the owner's socket as its packets" t_socket_uid
run "socket: ipproto and port rules route the socket as its packets" t_socket_ports
run "socket: every process that holds the tun, not the first" t_socket_owners
run "socket: bound to a device, each family leaves by it" t_socket_bound6
run "socket: the walk of /proc passes over the kernel's threads" t_socket_kthreads
run "socket: not its own fds; for -6 no IPv4 sock_diag dump" t_socket_walk_self
run "multipath: ambiguous to peer and mark, the socket's own leg" t_multipath_methods
run "IPv6 source-specific defaults: each source asked" t_source_routes
run "IPv6 source-specific defaults behind a tunnel rule: the scan" t_source_routes_scan
WG=
if [ -z "$NO_NETNS" ] && ip netns add "effif-$$-wg" 2>/dev/null; then
	ip -n "effif-$$-wg" link add wg0 type wireguard 2>/dev/null && WG=1
	ip netns del "effif-$$-wg"
fi
if [ -n "$WG" ]; then
	run "socket: kernel WireGuard by its netlink family" t_socket_wireguard
else
	t_skip "socket: kernel WireGuard by its netlink family" \
	    "no wireguard module in this kernel"
fi
if [ -z "${SAN:-}" ]; then
	run "valgrind memcheck: no errors, leaks or open fds" t_memcheck
else
	t_skip "valgrind memcheck" "sanitizer build"
fi
t_done
