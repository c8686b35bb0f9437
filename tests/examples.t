#!/bin/bash
# ISC license: see LICENSE.
# The examples of examples/, as installed in the package's doc directory,
# each run for real: the systemd units under a real user manager (sd.sh),
# the s6 service directory under s6-supervise, the web server restart
# script against a real web server (webserver.py) under a client's load.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sd.sh"
EX=$(cd "$(dirname "$0")/../examples" && pwd)
PROXYD=${PROXYD:-/lib/systemd/systemd-socket-proxyd}

# example NAME [FROM TO] ...: examples/NAME with each FROM (a fixed
# string, which must be there) replaced by TO, on standard output: the
# paths and addresses of this machine in a scratch copy.
example() {
	local text from
	text=$(cat "$EX/$1")
	shift
	while [ $# -ge 2 ]; do
		from=$1
		case $text in *"$from"*) ;; *) fail "no $from in the example" ;; esac
		text=${text//"$from"/"$2"}
		shift 2
	done
	printf '%s\n' "$text"
}

# dropin UNIT: a drop-in for UNIT in the manager's configuration, from
# standard input.
dropin() {
	mkdir -p "$T_DIR/config/systemd/user/$1.d"
	cat >"$T_DIR/config/systemd/user/$1.d/test.conf"
}

# The units as the package installs them, their paths made this
# machine's: systemd-analyze verify --user says nothing about them.
units_verify() {
	mkdir u
	example chat-holder.service /usr/bin/fdholder "$BIN/fdholder" \
	    >u/chat-holder.service
	example web-proxy.service /usr/bin/fdrecv "$BIN/fdrecv" \
	    >u/web-proxy.service
	example web-proxy.socket >u/web-proxy.socket
	(cd u && XDG_RUNTIME_DIR=$T_DIR timeout 30 systemd-analyze --user \
	    --man=no verify chat-holder.service web-proxy.socket \
	    web-proxy.service) >out 2>&1 || fail "verify: $(cat out)"
	[ ! -s out ] || fail "verify: $(cat out)"
}

# free_port: a TCP port of loopback that nobody listened on just now.
free_port() {
	python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

chat_listening() {
	grep -q '^Ncat: Listening on' chat.err || ! kill -0 "$CHAT"
}

# chat_server: ncat's chat server (--chat) on loopback, its port in
# $PORT; it logs each connection in ./chat.err.
chat_server() {
	local i
	for i in 1 2 3; do
		PORT=$(free_port)
		bg ncat -v -l -k --chat 127.0.0.1 "$PORT" >/dev/null 2>chat.err
		CHAT=$!
		wait_for 5 chat_listening
		! grep -q '^Ncat: Listening on' chat.err || return 0
	done
	fail "ncat: $(cat chat.err)"
}

# connections N: the chat server has accepted N connections.
connections() {
	[ "$(grep -c '^Ncat: Connection from 127\.0\.0\.1:' chat.err)" = "$1" ]
}

# said WORD: the holder has written the chat line WORD to its log.
said() {
	grep -q "^<user[0-9]*> $1\$" chat.log
}

# examples/chat-holder.service under a real systemd user manager, its
# host, port, log and binary made the test's: Type=notify starts, the
# descriptor store holds 3; a chat client's lines reach the log through
# systemctl restart and a SIGKILL (Restart=always), and the chat server
# sees one connection from the holder throughout.
chat_holder() {
	local pid
	chat_server
	mkfifo say
	exec 7<>say
	bg ncat 127.0.0.1 "$PORT" <&7 >heard
	wait_for 10 connections 1
	example chat-holder.service /usr/bin/fdholder "$BIN/fdholder" \
	    "chat.example.net 7000" "127.0.0.1 $PORT" \
	    /var/log/chat.log "$PWD/chat.log" | unit chat-holder.service
	printf '[Unit]\nDefaultDependencies=no\n' | dropin chat-holder.service
	sd_start
	sdctl start chat-holder.service
	[ "$(prop chat-holder.service ActiveState)/$(prop chat-holder.service \
	    SubState)" = active/running ] ||
	    fail "after start: $(sdctl status chat-holder.service)"
	[ "$(prop chat-holder.service NFileDescriptorStore)" = 3 ] ||
	    fail "store: $(prop chat-holder.service NFileDescriptorStore)"
	wait_for 10 connections 2
	echo one >&7
	wait_for 10 said one
	pid=$(prop chat-holder.service MainPID)
	sdctl restart chat-holder.service
	wait_for 10 restarted chat-holder.service "$pid"
	echo two >&7
	wait_for 10 said two
	pid=$(prop chat-holder.service MainPID)
	sdctl kill -s KILL chat-holder.service
	wait_for 10 restarted chat-holder.service "$pid"
	echo three >&7
	wait_for 10 said three
	connections 2 || fail "connections: $(grep Connection chat.err)"
	[ "$(grep -c 'is connected as' heard)" = 2 ] ||
	    fail "the client saw: $(cat heard)"
	sed -n 's/^<user[0-9]*> //p' chat.log | paste -s -d ' ' >got
	[ "$(cat got)" = "one two three" ] || fail "log: $(cat chat.log)"
	[ "$(prop chat-holder.service NRestarts)" = 1 ] ||
	    fail "NRestarts $(prop chat-holder.service NRestarts)"
	[ "$(prop chat-holder.service NFileDescriptorStore)" = 3 ] ||
	    fail "store: $(prop chat-holder.service NFileDescriptorStore)"
	t_note "3 holders (start, restart, SIGKILL), one connection at" \
	    "ncat --chat, the log: $(cat got)"
}

# get SOCKET: an HTTP GET over the UNIX socket; the body on standard
# output, if the status is 200.
get() {
	timeout 10 python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"GET / HTTP/1.0\r\n\r\n")
head, _, body = s.makefile("rb").read().partition(b"\r\n\r\n")
assert head.split()[1] == b"200", head
sys.stdout.write(body.decode())' "$1"
}

# examples/web-proxy.socket and .service under a real user manager, the
# socket on a path of the test's, the web server the test's: a GET
# through the socket reaches the web server; the service's main process
# is systemd-socket-proxyd, which fdrecv -S execed with the socket named
# web alone, although systemd passed a second (another .socket unit of
# the service).
web_proxy() {
	local back pid
	bg python3 "$TESTS/webserver.py" port
	back=$!
	wait_for 10 test -s port
	example web-proxy.socket "ListenStream=127.0.0.1:8080" \
	    "ListenStream=$PWD/web.sock" | unit web-proxy.socket
	example web-proxy.service /usr/bin/fdrecv "$BIN/fdrecv" \
	    127.0.0.1:8000 "127.0.0.1:$(cat port)" \
	    /lib/systemd/systemd-socket-proxyd "$PROXYD" |
	    unit web-proxy.service
	printf '[Unit]\nDefaultDependencies=no\n' | dropin web-proxy.socket
	printf '[Unit]\nDefaultDependencies=no\n[Service]\nSockets=web-proxy.socket other.socket\nStandardError=append:%s\n' \
	    "$PWD/proxy.err" | dropin web-proxy.service
	unit other.socket <<-EOF
	[Unit]
	DefaultDependencies=no
	[Socket]
	ListenStream=$PWD/other.sock
	FileDescriptorName=other
	Service=web-proxy.service
	EOF
	sd_start
	sdctl start other.socket web-proxy.socket
	[ "$(get web.sock)" = "$back" ] || fail "no answer from the server"
	pid=$(prop web-proxy.service MainPID)
	[ "$(readlink "/proc/$pid/exe")" = "$(readlink -f "$PROXYD")" ] ||
	    fail "main process: $(readlink "/proc/$pid/exe")"
	tr '\0' '\n' <"/proc/$pid/environ" | grep '^LISTEN_FD' | sort >env
	printf 'LISTEN_FDNAMES=web\nLISTEN_FDS=1\n' | diff -u - env
	[ "$(get web.sock)" = "$back" ] || fail "no second answer"
	t_note "systemd-socket-proxyd (pid $pid) got: $(paste -s -d ' ' env)"
}

# svpid: the pid of the s6 service's process (-1 when down).
svpid() {
	s6-svstat -p sv/fdholder
}

# s6_up OLD: the service runs under another pid than OLD, its store
# answers.
s6_up() {
	local p
	p=$(svpid)
	[ "$p" != -1 ] && [ "$p" != "$1" ] &&
	    fdholder -L -s "$PWD/fds.ctl" >/dev/null
}

# kill_in DIR: kill (KILL) every process whose working directory is DIR,
# as s6-supervise runs ./run in the service directory: what a run script
# that does not exec would leave behind.
kill_in() {
	local p
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/cwd" 2>/dev/null)" != "$1" ] ||
		    kill -KILL "${p#/proc/}" 2>/dev/null
	done
}

# park: store an entry "pipe" holding a pipe with a line in it, and an
# entry "file".
park() {
	exec 5<>fifo
	echo "in the pipe" >&5
	fdsend -n pipe "$PWD/fds.ctl" 5
	exec 5>&-
	fdsend -n file "$PWD/fds.ctl" 3 3<fifo.txt
}

# examples/s6/fdholder under s6-supervise, as examples/s6/README says:
# s6-svc -r loses every entry (the store restarted is empty); a takeover
# by a store started by hand keeps them (the pipe still holds its line),
# the supervised store exits 0 and s6 runs ./run again, which takes
# everything from the one started by hand, which exits 0.
s6_store() {
	local sup pid hand
	mkdir sv
	cp -R "$EX/s6/fdholder" sv/
	example s6/fdholder/run /run/fds.ctl "$PWD/fds.ctl" >sv/fdholder/run
	# How each store ended, as s6-supervise tells ./finish: the exit
	# status (256 for a signal) and the signal.
	printf '#!/bin/sh\necho "$1 $2" >>%s/deaths\n' "$PWD" \
	    >sv/fdholder/finish
	chmod 755 sv/fdholder/finish
	mkfifo fifo
	echo file >fifo.txt
	defer "kill_in $PWD/sv/fdholder"
	bg s6-supervise sv/fdholder >sup.log 2>&1
	sup=$!
	wait_for 10 s6_up -1
	park
	printf 'file\npipe\n' >want
	fdholder -L -s "$PWD/fds.ctl" | cut -f 1 | diff -u want -
	# s6-svc -r: SIGTERM, and ./run again.
	pid=$(svpid)
	s6-svc -r sv/fdholder
	wait_for 10 s6_up "$pid"
	fdholder -L -s "$PWD/fds.ctl" >got
	[ ! -s got ] || fail "s6-svc -r kept: $(cat got)"
	[ "$(cat deaths)" = "256 15" ] || fail "deaths: $(cat deaths)"
	t_note "s6-svc -r: the store restarted (pid $pid, then $(svpid))" \
	    "holds nothing"
	# The takeover: a store started by hand, taken over in turn.
	park
	pid=$(svpid)
	bg fdholder -s "$PWD/fds.ctl" 2>hand.err
	hand=$!
	wait_exit 10 "$hand"
	[ "$RC" = 0 ] || fail "the store started by hand: $RC $(cat hand.err)"
	wait_for 10 s6_up "$pid"
	[ "$(sed -n 2p deaths)" = "0 0" ] || fail "deaths: $(cat deaths)"
	fdholder -L -s "$PWD/fds.ctl" | cut -f 1 | diff -u want -
	[ "$(fdrecv -n pipe -D "$PWD/fds.ctl" sh -c 'head -n 1 <&3')" = \
	    "in the pipe" ] || fail "the pipe lost its line"
	t_note "takeover: pid $pid (exit 0), then by hand $hand (exit 0)," \
	    "then $(svpid): file and pipe kept, the pipe's line read back"
	s6-svc -xd sv/fdholder
	wait_exit 10 "$sup"
}

# The load on the web server: GET requests one after the other until
# ./stop exists, each line "ok PID" or "fail ERROR".
CLIENT='import http.client, os, sys
while not os.path.exists("stop"):
    c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
    try:
        c.request("GET", "/")
        r = c.getresponse()
        body = r.read().decode().strip()
        print("ok" if r.status == 200 else "fail %d" % r.status, body,
              flush=True)
    except Exception as e:
        print("fail", repr(e), flush=True)
    c.close()'

# served N PID: N requests or more were answered by PID.
served() {
	[ "$(grep -c "^ok $2\$" load)" -ge "$1" ]
}

newpid() {
	[ -s httpd.pid ] && [ "$(cat httpd.pid)" != "$1" ]
}

# first_server: a store on ./fds.ctl and the first web server, started by
# restart-webserver.sh with ./httpd.pid, serving on the port in ./port;
# FIRST is the script's pid.
first_server() {
	bg fdholder -s "$PWD/fds.ctl"
	wait_for 10 fdholder -L -s "$PWD/fds.ctl"
	bg sh "$EX/restart-webserver.sh" -s "$PWD/fds.ctl" "$PWD/httpd.pid" \
	    python3 "$TESTS/webserver.py" "$PWD/port"
	FIRST=$!
	wait_for 10 test -s port
}

# examples/restart-webserver.sh: the first start binds (no entry in the
# store), then a restart under load: a client makes request after
# request; the restart parks the socket, stops the old server (which
# exits 0), and the new one serves from the same socket: every request
# is answered, by the old server and then by the new one, and the entry
# is gone from the store.
restart_webserver() {
	local old new client
	first_server
	old=$FIRST
	[ "$(cat httpd.pid)" = "$old" ] || fail "pid file: $(cat httpd.pid)"
	bg python3 -c "$CLIENT" "$(cat port)" >load
	client=$!
	wait_for 10 served 20 "$old"
	bg sh "$EX/restart-webserver.sh" -s "$PWD/fds.ctl" "$PWD/httpd.pid" \
	    python3 "$TESTS/webserver.py" "$PWD/port.new"
	new=$!
	wait_exit 20 "$old"
	[ "$RC" = 0 ] || fail "the old server exited $RC"
	wait_for 10 newpid "$old"
	[ "$(cat httpd.pid)" = "$new" ] || fail "pid file: $(cat httpd.pid)"
	wait_for 10 served 20 "$new"
	touch stop
	wait_exit 20 "$client"
	[ ! -e port.new ] || fail "the new server bound a socket of its own"
	! grep -q '^fail' load || fail "$(grep -c '^fail' load) requests" \
	    "failed: $(grep -m 3 '^fail' load)"
	[ -z "$(fdholder -L -s "$PWD/fds.ctl")" ] || fail "entry left"
	t_note "$(grep -c "^ok $old\$" load) requests served by the old" \
	    "server, $(grep -c "^ok $new\$" load) by the new one, none failed"
}

# Without a store to park the socket in, the script stops nothing: it
# exits 1 and the old server still serves.
restart_no_store() {
	local old
	bg sh "$EX/restart-webserver.sh" -s "$PWD/fds.ctl" "$PWD/httpd.pid" \
	    python3 "$TESTS/webserver.py" "$PWD/port"
	old=$!
	wait_for 10 test -s port
	must_fail 1 timeout 10 sh "$EX/restart-webserver.sh" -s "$PWD/fds.ctl" \
	    "$PWD/httpd.pid" python3 "$TESTS/webserver.py" "$PWD/port.new"
	expect_err err "could not park the socket of $old; it runs on"
	kill -0 "$old" || fail "the old server is gone"
	[ "$(cat httpd.pid)" = "$old" ] || fail "pid file: $(cat httpd.pid)"
	[ "$(timeout 10 python3 -c 'import sys, urllib.request
print(urllib.request.urlopen("http://127.0.0.1:" + sys.argv[1] + "/").read().decode().strip())' \
	    "$(cat port)")" = "$old" ] || fail "the old server does not answer"
}

# The load of a recipe: GET requests one after the other, each on a
# connection of its own, until ./stop exists; each line "ok MS" (the
# milliseconds it took) or "fail ERROR".
LOAD='import http.client, os, sys, time
while not os.path.exists("stop"):
    t = time.monotonic()
    c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
    try:
        c.request("GET", sys.argv[2], headers={"Connection": "close"})
        r = c.getresponse()
        r.read()
        if r.status == 200:
            print("ok %.1f" % ((time.monotonic() - t) * 1000), flush=True)
        else:
            print("fail %d" % r.status, flush=True)
    except Exception as e:
        print("fail", repr(e), flush=True)
    c.close()'

# Requests and restarts of each recipe: few in make check (a few seconds
# a server), many in make recipes (RECIPE_REQUESTS=2000 RECIPE_RESTARTS=20).
REQUESTS=${RECIPE_REQUESTS:-300}
RESTARTS=${RECIPE_RESTARTS:-3}

# done_requests N: the load has made N requests or more.
done_requests() {
	[ "$(wc -l <load)" -ge "$1" ]
}

# handed OLD: the server of srv.pid is another than OLD, has taken the
# socket (the entry is gone from the store), and OLD is gone.
handed() {
	local new
	new=$(cat srv.pid)
	[ -n "$new" ] && [ "$new" != "$1" ] && ! kill -0 "$1" 2>/dev/null &&
	    [ -z "$(fdholder -L -s "$PWD/fds.ctl")" ]
}

# listening PORT: a socket listens on PORT.
listening() {
	[ -n "$(ss -Hltn "sport = :$1")" ]
}

# recipe FILE CONF PATH [FROM TO] ...: examples/FILE, installed as CONF
# (a path in the file's command line) with each FROM replaced by TO,
# started by the command line of its header ("# $ "), as written but
# for this machine's paths and port, and restarted RESTARTS times under a
# client's load: every request is answered, each restart's new server
# takes the socket and its old one ends; PATH is what the load asks for.
recipe() {
	local file=$1 conf=$2 path=$3 cmd port i old max client
	shift 3
	port=$(free_port)
	mkdir www
	echo hello >www/index.html
	example "$file" 8080 "$port" "$@" >conf
	cmd=$(sed -n 's/^# \$ //p' "$EX/$file")
	[ -n "$cmd" ] || fail "no command line in $file"
	cmd=${cmd//\/usr\/share\/doc\/fdtools\/examples\//$EX/}
	cmd=${cmd//\/run\/fds.ctl/$PWD/fds.ctl}
	cmd=${cmd//$conf/$PWD/conf}
	cmd=${cmd//tcp:8080/tcp:$port}
	cmd=${cmd//app:application/wsgiapp:application}
	# RECIPE_STOPFIRST=1: without -o, for the figures of the old way.
	[ -z "${RECIPE_STOPFIRST-}" ] || cmd=${cmd/ -o 1 / }
	cmd="-s $PWD/fds.ctl ${cmd#"$EX/restart-webserver.sh "}"
	cmd=$(printf '%s' "$cmd" | sed 's|/run/[^ ]*\.pid|'"$PWD"'/srv.pid|')
	bg fdholder -s "$PWD/fds.ctl"
	wait_for 10 fdholder -L -s "$PWD/fds.ctl"
	bg sh -c "exec sh $EX/restart-webserver.sh $cmd" 2>srv.err
	wait_for 10 listening "$port" || fail "$(cat srv.err)"
	bg python3 -c "$LOAD" "$port" "$path" >load
	client=$!
	wait_for 10 done_requests 1
	for i in $(seq "$RESTARTS"); do
		old=$(cat srv.pid)
		bg sh -c "exec sh $EX/restart-webserver.sh $cmd" 2>>srv.err
		wait_for 30 handed "$old"
		wait_for 30 done_requests $((REQUESTS * i / RESTARTS))
	done
	touch stop
	wait_exit 20 "$client"
	old=$(cat srv.pid)
	kill -s "$(sed -n 's/.* -k \([A-Z0-9]*\) .*/\1/p' <<<"$cmd")" "$old" 2>/dev/null ||
	    kill -TERM "$old"
	wait_exit 20 "$old"
	! grep '^fail' load >failed || fail "$(wc -l <failed) of" \
	    "$(wc -l <load) requests failed: $(head -n 3 failed); server:" \
	    "$(tail -n 5 srv.err)"
	! grep -q 'could not park\|is gone' srv.err || fail "$(cat srv.err)"
	max=$(sed -n 's/^ok //p' load | sort -n | tail -n 1)
	t_note "$file: $(wc -l <load) requests, $RESTARTS restarts, 0 failed," \
	    "the longest ${max} ms"
}

lighttpd_recipe() {
	recipe lighttpd.conf /etc/lighttpd/fdtools.conf /index.html \
	    /var/www/html "$PWD/www"
}

nginx_recipe() {
	recipe nginx.conf /etc/nginx/fdtools.conf / \
	    /run/nginx-fdtools.nginx.pid "$PWD/nginx.pid"
}

haproxy_recipe() {
	recipe haproxy.cfg /etc/haproxy/fdtools.cfg /
}

gunicorn_recipe() {
	recipe gunicorn.conf.py /etc/gunicorn/fdtools.conf.py / \
	    "bind =" "chdir = '$TESTS'
bind ="
}

# alive PID: PID runs and is no zombie.
alive() {
	kill -0 "$1" 2>/dev/null && ! ps -o stat= -p "$1" | grep -q Z
}

# one_serves OLD A B: A and B have both run their course: OLD is gone, one
# of A and B serves (the pid file names it), the other is gone.
one_serves() {
	local cur
	cur=$(cat httpd.pid)
	! alive "$1" && { [ "$cur" = "$2" ] || [ "$cur" = "$3" ]; } &&
	    alive "$cur" && ! { alive "$2" && alive "$3"; } &&
	    [ -z "$(fdholder -L -s "$PWD/fds.ctl")" ]
}

# Two restarts started at the same instant, three times under load: the
# lock serialises them (the second parks the socket of the first one's
# new server), no run fails to park, and every request is answered.
restart_together() {
	local old a b client i
	first_server
	bg python3 -c "$CLIENT" "$(cat port)" >load
	client=$!
	for i in 1 2 3; do
		old=$(cat httpd.pid)
		wait_for 10 served 5 "$old"
		bg sh "$EX/restart-webserver.sh" -s "$PWD/fds.ctl" \
		    "$PWD/httpd.pid" python3 "$TESTS/webserver.py" x 2>>err
		a=$!
		bg sh "$EX/restart-webserver.sh" -s "$PWD/fds.ctl" \
		    "$PWD/httpd.pid" python3 "$TESTS/webserver.py" x 2>>err
		b=$!
		wait_for 20 one_serves "$old" "$a" "$b"
	done
	touch stop
	wait_exit 20 "$client"
	[ ! -s err ] || fail "$(cat err)"
	! grep -q '^fail' load || fail "$(grep -c '^fail' load) requests" \
	    "failed: $(grep -m 3 '^fail' load)"
	t_note "3 rounds of two restarts at once: $(wc -l <load) requests," \
	    "none failed"
}

# -o: the new server starts first; it dies at once, so the old one is
# not stopped: it still serves, and the script says why.
restart_overlap_broken() {
	local old
	first_server
	old=$FIRST
	bg sh "$EX/restart-webserver.sh" -o 1 -s "$PWD/fds.ctl" \
	    "$PWD/httpd.pid" sh -c 'exit 3' 2>err
	wait_for 10 grep -q . err
	expect_err err "the new server $! is gone; $old runs on"
	alive "$old" || fail "the old server is gone"
	[ "$(timeout 10 python3 -c 'import sys, urllib.request
print(urllib.request.urlopen("http://127.0.0.1:" + sys.argv[1] + "/").read().decode().strip())' \
	    "$(cat port)")" = "$old" ] || fail "the old server does not answer"
}

if command -v systemd-analyze >/dev/null; then
	t_case "systemd-analyze verify --user: the example units, nothing to say" units_verify
else
	t_skip units_verify "no systemd-analyze"
fi
if ! command -v ncat >/dev/null; then
	t_skip chat_holder "no ncat (.ci/deps installs it)"
else
	sd_case "chat-holder.service under systemd: a chat line after start, restart and SIGKILL each; ncat --chat sees one connection" chat_holder
fi
if [ ! -x "$PROXYD" ]; then
	t_skip web_proxy "no $PROXYD"
else
	sd_case "web-proxy.socket and .service: fdrecv -S web execs systemd-socket-proxyd with the socket web alone; a GET reaches the server" web_proxy
fi
if ! command -v s6-supervise >/dev/null; then
	t_skip s6_store "no s6-supervise (.ci/deps installs s6)"
else
	t_case "s6/fdholder under s6-supervise: s6-svc -r loses every entry; a takeover by hand keeps them" s6_store
fi
t_case "restart-webserver.sh under load: every request answered, by the old server, then by the new on the same socket" restart_webserver
for s in lighttpd nginx haproxy gunicorn; do
	if ! command -v "$s" >/dev/null; then
		t_skip "${s}_recipe" "no $s (.ci/deps installs it)"
	else
		t_case "examples/$s: its command line, $RESTARTS restarts under load: every request answered" "${s}_recipe"
	fi
done
t_case "restart-webserver.sh twice at once, three times under load: serialised, none fails to park, every request answered" restart_together
t_case "restart-webserver.sh -o with a new server that dies: the old one serves on" restart_overlap_broken
t_case "restart-webserver.sh with no store: exit 1, the old server serves on" restart_no_store
t_done
