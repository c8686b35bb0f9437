#!/bin/sh
# ISC license: see LICENSE.
# Restart a web server without refusing a connection: the runbook of
# fdholder(1) (EXAMPLES: park a web server's listening socket in a store
# while the server restarts) as a script.
#
#   restart-webserver.sh [-e seconds] [-f fd | -f tcp:port] [-k signal]
#       [-n name] [-o seconds] [-s ctlsock] [-t seconds] pidfile httpd [arg ...]
#
# If pidfile names a running server, the script parks its listening
# socket, descriptor fd (3) of that process, or the one it listens on
# port with (tcp:port, found with ss(8): servers keep their listeners
# where they like, and not always on the same descriptor), in the
# fdholder store on ctlsock (/run/fds.ctl) under name (web.listen), to
# expire after -e seconds (60) if nobody takes it; then stops the server
# with signal (TERM) and waits up to -t seconds (30) for it to end.  Then
# it writes its process ID to pidfile and becomes the new server, which
# keeps that ID: fdrecv -n name -D takes the socket out of the store and
# execs httpd with it on descriptor 3, LISTEN_FDS=1 and LISTEN_FDNAMES=http
# (sd_listen_fds(3)).  With no such entry in the store (the first start),
# it execs httpd as it is, to bind a socket of its own.
#
# Connections that arrive while no server accepts wait in the socket's
# queue (its listen backlog), which the store keeps open, and the new
# server accepts them: none is refused or reset.  The requests the old
# server has accepted it must finish before it exits: give -k the signal
# on which your server stops accepting and finishes what it has (nginx:
# QUIT).  The store runs under the service manager (fdholder -s ctlsock,
# see fdholder(1)); if parking fails, the old server is left running and
# the script exits 1.
#
# With -o, the new server starts first, on the same socket, and the old one
# is stopped only once the new one has run for -o seconds: both accept
# for that while, and no connection waits for a server to stop and
# another to start (gunicorn under load, 3 restarts: the longest request
# took 1.6 s stopping first, 14 ms with -o 1).  If the new server is gone by then
# (its configuration is broken), the old one is left running.
#
# Runs on one pidfile are serialised on a lock of the pidfile itself (no
# other file): a second run waits, up to -t seconds, until the first one's
# new server holds the socket and, with -o, its old server is gone.
#
# Linux: it needs flock(1) and, for tcp:port, ss(8) (util-linux, iproute2).
set -eu
ctl=/run/fds.ctl name=web.listen fd=3 expiry=60 sig=TERM limit=30 overlap=
usage() {
	echo "usage: restart-webserver.sh [-e seconds] [-f fd | -f tcp:port]" \
	    "[-k signal] [-n name] [-o seconds] [-s ctlsock] [-t seconds]" \
	    "pidfile httpd [arg ...]" >&2
	exit 100
}
while getopts e:f:k:n:o:s:t: opt; do
	case $opt in
	e) expiry=$OPTARG ;;
	f) fd=$OPTARG ;;
	k) sig=$OPTARG ;;
	n) name=$OPTARG ;;
	o) overlap=$OPTARG ;;
	s) ctl=$OPTARG ;;
	t) limit=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 2 ] || usage
pidfile=$1
shift

# alive PID: PID runs (a zombie does not).
alive() {
	kill -0 "$1" 2>/dev/null && ! ps -o stat= -p "$1" | grep -q Z
}

parked() {
	fdholder -L -s "$ctl" | cut -f 1 | grep -qxF -- "$name"
}

# listener PID PORT: the descriptor on which PID listens on TCP port PORT.
listener() {
	ss -Hltnp "sport = :$2" | grep -o "pid=$1,fd=[0-9]*" |
	    sed -n '1s/.*fd=//p'
}

# stop PID: signal PID and wait up to -t seconds for it to end.
stop() {
	kill -s "$sig" "$1"
	i=0
	while alive "$1"; do
		i=$((i + 1))
		if [ "$i" -gt $((limit * 10)) ]; then
			echo "restart-webserver.sh: $1 still runs after" \
			    "${limit}s" >&2
			return 1
		fi
		sleep 0.1
	done
}

# handover OLD: run beside the new server, pid $$ once it execs, holding
# the lock: wait until it has taken the socket (the entry is gone), then
# with -o stop OLD once the new server has run for -o seconds.
handover() {
	i=0
	while parked && alive $$; do
		i=$((i + 1))
		[ "$i" -le $((limit * 10)) ] || exit 1
		sleep 0.1
	done
	[ -n "$overlap" ] || exit 0
	! alive $$ || sleep "$overlap"
	if ! alive $$; then
		echo "restart-webserver.sh: the new server $$ is gone;" \
		    "$1 runs on" >&2
		exit 1
	fi
	stop "$1"
}

exec 9<>"$pidfile"
if ! flock -w "$limit" 9; then
	echo "restart-webserver.sh: another restart of $pidfile runs;" \
	    "gave up after ${limit}s" >&2
	exit 1
fi

# The running server: park its socket, then stop it (with -o, once the
# new one runs).
old=$(cat "$pidfile")
if [ -n "$old" ] && alive "$old"; then
	case $fd in
	tcp:*)	n=$(listener "$old" "${fd#tcp:}") ;;
	*)	n=$fd ;;
	esac
	if [ -z "$n" ]; then
		echo "restart-webserver.sh: $old listens on no $fd; it" \
		    "runs on" >&2
		exit 1
	fi
	if ! fdsend -p "$old" -n "$name" -e "$expiry" "$ctl" "$n=http"; then
		echo "restart-webserver.sh: could not park the socket of" \
		    "$old; it runs on" >&2
		exit 1
	fi
	[ -n "$overlap" ] || stop "$old" ||
	    echo "restart-webserver.sh: starting the new server all" \
	    "the same" >&2
fi

# The new server, with the parked socket if there is one.
echo $$ >"$pidfile"
if parked; then
	# The helper is left to init, not a child of the server.
	(handover "$old" </dev/null >/dev/null &)
	exec 9>&-
	exec fdrecv -n "$name" -D "$ctl" "$@"
fi
exec 9>&-
exec "$@"
