# ISC license: see LICENSE.
# A small web server for tests/examples.t: python's http.server, which
# answers every GET with its process ID.  It takes its listening socket
# from socket activation (LISTEN_FDS=1, descriptor 3) or binds one on
# 127.0.0.1 (an ephemeral port, written to the file PORTFILE) and moves it
# to descriptor 3.  On SIGTERM it stops accepting, finishes the request it
# serves and exits 0: a graceful stop.
import http.server
import os
import signal
import socket
import sys
import threading


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"%d\n" % os.getpid()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(http.server.HTTPServer):
    request_queue_size = 64


srv = Server(("127.0.0.1", 0), Handler, bind_and_activate=False)
if (os.environ.get("LISTEN_FDS") == "1"
        and os.environ.get("LISTEN_PID") == str(os.getpid())):
    srv.socket.close()
    srv.socket = socket.socket(fileno=3)
else:
    srv.server_bind()
    srv.server_activate()
    fd = srv.socket.detach()
    if fd != 3:
        os.dup2(fd, 3)
        os.close(fd)
    srv.socket = socket.socket(fileno=3)
    with open(sys.argv[1] + ".tmp", "w") as f:
        print(srv.socket.getsockname()[1], file=f)
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
signal.signal(signal.SIGTERM,
              lambda *a: threading.Thread(target=srv.shutdown).start())
srv.serve_forever(poll_interval=0.05)
