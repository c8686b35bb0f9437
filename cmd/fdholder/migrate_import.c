/* ISC license: see LICENSE. */
/*
 * fdholder -X -s ctlsock -- command ...: the importer.  It runs command
 * (ssh oldhost fdholder -x ...) with a socket for its standard input and
 * output, as rsync runs ssh, rebuilds the connection from the record the
 * exporter sends, confirms, and once the old holder has let go (its
 * verdict) thaws it and holds it like any holder (migrate.h).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "esc.h"
#include "exits.h"
#include "fd.h"
#include "migrate.h"
#include "mrec.h"

#define REAP_MS		1000	/* the command's exit, waited for */

static pid_t child = -1;

/* The command, on one end of a socket pair: our end, close-on-exec. */
static int
spawn(char *const cmd[])
{
	int sp[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == -1 ||
	    fcntl(sp[0], F_SETFD, FD_CLOEXEC) == -1 ||
	    fcntl(sp[1], F_SETFD, FD_CLOEXEC) == -1)
		err(EXIT_SYS, "socketpair");
	if ((child = fork()) == -1)
		err(EXIT_SYS, "fork");
	if (child == 0) {
		if (dup2(sp[1], STDIN_FILENO) == -1 ||
		    dup2(sp[1], STDOUT_FILENO) == -1)
			_exit(EXIT_SYS);
		signal(SIGPIPE, SIG_DFL);
		execvp(cmd[0], cmd);
		warn("%s", esc(cmd[0]));
		_exit(errno == ENOENT ? EXIT_NOTFOUND : EXIT_NOEXEC);
	}
	close(sp[1]);
	return sp[0];
}

/* Wait a moment for the command to end; say how it did if it failed. */
static void
reap(const char *name)
{
	struct deadline dl;
	int st;
	pid_t r;

	deadline_in(&dl, REAP_MS);
	while ((r = waitpid(child, &st, WNOHANG)) == 0 &&
	    deadline_ms(&dl) > 0)
		usleep(10000);
	if (r != child)
		return;
	child = -1;
	if (WIFEXITED(st) && WEXITSTATUS(st) != 0)
		warnx("%s exited %d", esc(name), WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		warnx("%s killed by signal %d", esc(name), WTERMSIG(st));
}

/* Tell the exporter why not; the old holder resumes.  Ends the program. */
static void __dead2
refuse(int t, const char *name, const struct perr *pe)
{
	unsigned char buf[2 + sizeof(pe->msg)];
	struct deadline dl;
	struct perr ignored;

	deadline_in(&dl, REAP_MS);
	pframe_write(t, F_ERROR, buf, error_put(buf, pe->code, pe->msg),
	    &dl, &ignored);
	close(t);
	reap(name);
	errx(exit_for(pe), "import: %s; the holder on the other host "
	    "resumes", pe->msg);
}

/* The exporter's first frame: the record, or why there is none. */
static void
record_read(int t, const char *name, struct frame *f, struct mrec *m,
    int tms)
{
	struct deadline dl;
	struct perr pe;
	struct rbuf r;
	int n;

	deadline_in(&dl, tms);
	if ((n = pframe_read(t, f, &dl, &pe)) <= 0) {
		close(t);
		reap(name);
		if (n == 0)
			errx(EXIT_SYS, "%s: ended without a record",
			    esc(name));
		errx(exit_for(&pe), "%s: %s", esc(name), pe.msg);
	}
	if (f->type == F_ERROR) {
		perr_remote(&pe, f);
		close(t);
		reap(name);
		errx(exit_for(&pe), "%s: %s", esc(name), pe.msg);
	}
	rb_init(&r, f->data, f->len);
	if (f->type != F_STATE)
		perr_set(&pe, PE_PROTO, "expected a connection's state, got "
		    "frame type %u", f->type);
	if (f->type != F_STATE || mrec_get(&r, m, &pe) == -1)
		refuse(t, name, &pe);
}

/*
 * Our F_ACK, then the holder's verdict through the exporter: its F_ACK
 * once it let go.  An end of file or an F_ERROR: it kept the connection
 * (or cannot tell us it did not), and ours, still frozen, goes silently.
 * The holder waits -t for our F_ACK and resumes then: with no verdict
 * in twice that (a transport that hangs), we give up too.
 */
static void
confirm(int t, int s, const char *name, int tms)
{
	unsigned char ack[ACK_LEN];
	struct deadline dl;
	struct frame f;
	struct perr pe;
	int r = -1;

	ack_put(ack, 1);
	deadline_in(&dl, tms > INT_MAX / 2 ? INT_MAX : 2 * tms);
	if (pframe_write(t, F_ACK, ack, sizeof(ack), &dl, &pe) == 0 &&
	    (r = pframe_read(t, &f, &dl, &pe)) == 1) {
		if (f.type == F_ACK && f.len == ACK_LEN) {
			frame_free(&f);
			return;
		}
		if (f.type == F_ERROR)
			perr_remote(&pe, &f);
		else
			perr_set(&pe, PE_PROTO, "unexpected frame type %u",
			    f.type);
	} else if (r == 0)
		perr_set(&pe, PE_SYS, "ended before the holder's verdict");
	close(s);
	close(t);
	reap(name);
	errx(exit_for(&pe), "%s: %s; the holder on the other host keeps the "
	    "connection", esc(name), pe.msg);
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * -X: the connection, from the exporter that cmd runs.  Returns once it
 * is ours, thawed, its bytes in flight in rl's buffers.
 */
int
import_take(struct relay *rl, char *const cmd[])
{
	static char host[64], port[8];
	struct frame f;
	struct mrec m;
	struct perr pe;
	const char *peer;
	unsigned char *ib;
	uint64_t t0;
	int t, s;

	t = spawn(cmd);
	record_read(t, cmd[0], &f, &m, rl->ctl->tms);
	if ((s = tcpr_restore(&m.tc, &pe)) == -1)
		refuse(t, cmd[0], &pe);
	confirm(t, s, cmd[0], rl->ctl->tms);
	if (tcpr_thaw(s) == -1)
		err(EXIT_SYS, "TCP_REPAIR off");
	t0 = now_ns();
	close(t);
	fd_nonblock(s, 1);
	rl->conn = s;
	buf_set(&rl->ob, m.ob, m.olen);
	/* Never sent, then what -i had not sent yet: the order they had. */
	if ((ib = malloc(m.tc.unsent + m.ilen + 1)) == NULL)
		err(EXIT_SYS, "malloc");
	memcpy(ib, m.tc.sndq + (m.tc.sndlen - m.tc.unsent), m.tc.unsent);
	memcpy(ib + m.tc.unsent, m.ib, m.ilen);
	buf_set(&rl->ib, ib, m.tc.unsent + m.ilen);
	free(ib);
	peer = tcpr_str(&m.tc, 1);
	strlcpy(host, peer, sizeof(host));
	*strrchr(host, ':') = '\0';
	strlcpy(port, strrchr(peer, ':') + 1, sizeof(port));
	rl->host = host;
	rl->port = port;
	warnx("%s: moved in the connection %s to %s: %zu bytes received and "
	    "%zu to send in flight, frozen %.1f ms before",
	    rl->ctl->ep.addr.str, tcpr_str(&m.tc, 0), peer, m.tc.rcvlen +
	    m.olen, m.tc.sndlen + m.ilen, m.frozen != 0 && t0 > m.frozen ?
	    (t0 - m.frozen) / 1e6 : 0.0);
	frame_free(&f);
	reap(cmd[0]);
	return 1;
}
