# ISC license: see LICENSE.
# A WSGI application for examples/gunicorn.conf.py in tests/examples.t: it
# answers every request with the process ID of gunicorn's master.
import os


def application(environ, start_response):
    body = b"%d\n" % os.getppid()
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]
