#!/bin/sh
# ISC license: see LICENSE.
# Restart a web server without refusing a connection: the runbook of
# fdholder(1) (EXAMPLES: park a web server's listening socket in a store
# while the server restarts) as a script.
#
#   restart-webserver.sh [-e seconds] [-f fd] [-k signal] [-n name]
#       [-s ctlsock] [-t seconds] pidfile httpd [arg ...]
#
# If pidfile names a running server, the script parks its listening
# socket, descriptor fd (3) of that process, in the fdholder store on
# ctlsock (/run/fds.ctl) under name (web.listen), to expire after -e
# seconds (60) if nobody takes it; then stops the server with signal
# (TERM) and waits up to -t seconds (30) for it to end.  Then it writes
# its process ID to pidfile and becomes the new server, which keeps that
# ID: fdrecv -n name -D takes the socket out of the store and execs
# httpd with it on descriptor 3, LISTEN_FDS=1 and LISTEN_FDNAMES=http
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
set -eu
ctl=/run/fds.ctl name=web.listen fd=3 expiry=60 sig=TERM limit=30
usage() {
	echo "usage: restart-webserver.sh [-e seconds] [-f fd] [-k signal]" \
	    "[-n name] [-s ctlsock] [-t seconds] pidfile httpd [arg ...]" >&2
	exit 100
}
while getopts e:f:k:n:s:t: opt; do
	case $opt in
	e) expiry=$OPTARG ;;
	f) fd=$OPTARG ;;
	k) sig=$OPTARG ;;
	n) name=$OPTARG ;;
	s) ctl=$OPTARG ;;
	t) limit=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 2 ] || usage
pidfile=$1
shift

# The running server: park its socket, then stop it.
old=$(cat "$pidfile" 2>/dev/null) || old=
if [ -n "$old" ] && kill -0 "$old" 2>/dev/null; then
	fdsend -p "$old" -n "$name" -e "$expiry" "$ctl" "$fd=http" || {
		echo "restart-webserver.sh: could not park the socket of" \
		    "$old; it runs on" >&2
		exit 1
	}
	kill -s "$sig" "$old"
	i=0
	while kill -0 "$old" 2>/dev/null; do
		i=$((i + 1))
		if [ "$i" -gt $((limit * 10)) ]; then
			echo "restart-webserver.sh: $old still runs after" \
			    "${limit}s; starting the new server all the same" >&2
			break
		fi
		sleep 0.1
	done
fi

# The new server, with the parked socket if there is one.
echo $$ >"$pidfile"
if fdholder -L -s "$ctl" | cut -f 1 | grep -qxF -- "$name"; then
	exec fdrecv -n "$name" -D "$ctl" "$@"
fi
exec "$@"
