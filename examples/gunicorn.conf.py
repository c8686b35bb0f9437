# ISC license: see LICENSE.
# gunicorn restarted without refusing a connection: install as
# /etc/gunicorn/fdtools.conf.py (port yours); start it, and restart it,
# with the one command (app:application being your WSGI application)
#
# $ /usr/share/doc/fdtools/examples/restart-webserver.sh -o 1 -f tcp:8080 /run/gunicorn-fdtools.pid gunicorn -c /etc/gunicorn/fdtools.conf.py app:application
#
# gunicorn takes the socket by LISTEN_FDS.  It keeps its listener on a
# descriptor of its choice (5 when it binds, 7 when handed one): -f tcp:8080
# finds it.  The old gunicorn is stopped with SIGTERM, on which it finishes
# what its workers have accepted.  The first start binds 127.0.0.1:8080.
# Tested by tests/examples.t.
bind = "127.0.0.1:8080"
workers = 2
graceful_timeout = 10
