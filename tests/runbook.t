#!/bin/bash
# ISC license: see LICENSE.
# fdtools(7), the runbook: each task's session run as the page prints it
# (runbook.py), its paths under /run and its port made the case's, against
# real servers (lighttpd, ncat --chat, python3 -m http.server) on
# loopback; a command's output must be the page's.
# A session that hangs (in wait) ends at 60 s.
T_CASE_LIMIT=${T_CASE_LIMIT:-60}
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sd.sh"
PAGE=$(cd "$(dirname "$0")/../man" && pwd)/fdtools.7
EX=$(cd "$(dirname "$0")/../examples" && pwd)

free_port() {
	python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# session N [FROM TO] ...: the session of the page's Nth task, in
# ./session.sh, with /run/ made ./run/ and each FROM made TO.
session() {
	local n=$1
	shift
	mkdir -p run
	python3 "$TESTS/runbook.py" "$PAGE" "$n" "$PWD" /run/ "$PWD/run/" "$@"
}

# lighttpd_conf PORT: examples/lighttpd.conf as etc/lighttpd/fdtools.conf,
# on PORT, serving "hello".
lighttpd_conf() {
	mkdir -p www etc/lighttpd
	echo hello >www/index.html
	sed "s|8080|$1|; s|/var/www/html|$PWD/www|" "$EX/lighttpd.conf" \
	    >etc/lighttpd/fdtools.conf
}

# The commands run in a subshell of the case, which ends their jobs.
play() {
	(. ./session.sh) || fail "the session failed"
}

web_restart() {
	local port
	port=$(free_port)
	lighttpd_conf "$port"
	session 1 /usr/share/doc/fdtools/examples/ "$EX/" \
	    /etc/lighttpd/ "$PWD/etc/lighttpd/" 8080 "$port"
	play
}

pipeline() {
	session 2
	play
}

# connections N: the chat server has accepted N connections.
connections() {
	[ "$(grep -c '^Ncat: Connection from 127\.0\.0\.1:' chat.err)" = "$1" ]
}

chat() {
	local port
	port=$(free_port)
	bg ncat -v -l -k --chat 127.0.0.1 "$port" >/dev/null 2>chat.err
	wait_for 10 grep -q '^Ncat: Listening on' chat.err
	session 3 "chat.example.net 7000" "127.0.0.1 $port"
	play
	connections 1 || fail "the server saw: $(cat chat.err)"
	t_note "ncat --chat saw one connection through the restart"
}

systemd_store() {
	local port
	port=$(free_port)
	mkdir -p "$T_DIR/config/systemd/user/fds.service.d"
	printf '[Unit]\nDefaultDependencies=no\n' \
	    >"$T_DIR/config/systemd/user/fds.service.d/test.conf"
	session 4 /etc/systemd/system/ "$T_DIR/config/systemd/user/" \
	    /usr/bin/fdholder "$BIN/fdholder" 8080 "$port"
	sd_start
	# systemctl of the page: the case's own user manager.
	systemctl() {
		sdctl "$@"
	}
	play
	[ "$(prop fds.service NRestarts)" = 0 ] &&
	    [ "$(prop fds.service NFileDescriptorStore)" = 1 ] ||
	    fail "store: $(prop fds.service NFileDescriptorStore)"
}

take_socket() {
	local port
	port=$(free_port)
	lighttpd_conf "$port"
	session 5 /etc/lighttpd/ "$PWD/etc/lighttpd/" 8080 "$port"
	play
}

vpn_nic() {
	local ns=fdtools-runbook-$$
	ip netns add "$ns"
	defer "ip netns del $ns"
	ip -n "$ns" link set lo up
	ip netns exec "$ns" ip tuntap add mode tun name tun0
	ip -n "$ns" link set tun0 up
	ip -n "$ns" addr add 10.8.0.2/24 dev tun0
	ip -n "$ns" link add eth0 type veth peer name eth0p
	ip -n "$ns" link set eth0 up
	ip -n "$ns" link set eth0p up
	ip -n "$ns" addr add 10.1.0.2/24 dev eth0
	ip -n "$ns" route add default via 10.1.0.1 dev eth0
	ip -n "$ns" route add 0.0.0.0/1 dev tun0
	ip -n "$ns" route add 128.0.0.0/1 dev tun0
	ip -n "$ns" route add 203.0.113.7/32 via 10.1.0.1 dev eth0
	session 6
	ip netns exec "$ns" bash -c '. ./session.sh' ||
	    fail "the session failed"
}

if command -v lighttpd >/dev/null && command -v curl >/dev/null; then
	t_case "fdtools(7): restart a web server without refusing a connection" web_restart
else
	t_skip web_restart "no lighttpd or curl (.ci/deps installs them)"
fi
t_case "fdtools(7): move a pipeline to another shell" pipeline
if command -v ncat >/dev/null; then
	t_case "fdtools(7): keep a chat connection through restarts" chat
else
	t_skip chat "no ncat (.ci/deps installs it)"
fi
sd_case "fdtools(7): park sockets in systemd's store" systemd_store
if command -v lighttpd >/dev/null && command -v curl >/dev/null; then
	t_case "fdtools(7): take a socket from a running server" take_socket
else
	t_skip take_socket "no lighttpd or curl (.ci/deps installs them)"
fi
t_case "fdtools(7): find which NIC carries a VPN" vpn_nic
t_done
