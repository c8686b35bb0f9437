/* ISC license: see LICENSE. */
/*
 * fdholder -x -s ctlsock: the exporter, run on the old host by the
 * importer's command (ssh).  It asks the holder on ctlsock for its
 * connection's state (F_EXPORT), writes it to standard output, and passes
 * the importer's answer from standard input back to the holder, and the
 * holder's verdict to the importer (migrate.h).  It holds nothing itself:
 * killed at any step, the holder sees the end of file and resumes.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <err.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exits.h"
#include "hold.h"
#include "migrate.h"
#include "mrec.h"

/* Connect to the holder, which must be ours or root's (or -u, -g). */
static int
holder_connect(struct ctl *c, const struct deadline *dl)
{
	struct endpoint ep;
	struct peer p;
	int s;

	if (ep_connect_now(&ep, &c->ep.addr, dl) == -1 ||
	    (s = ep_next(&ep, dl)) == -1) {
		if (errno == ETIMEDOUT)
			errx(EXIT_TIMEOUT, "connect %s: timed out",
			    c->ep.addr.str);
		err(EXIT_SYS, "connect %s", c->ep.addr.str);
	}
	if (peer_get(s, &p) == -1)
		err(EXIT_SYS, "%s: peer credentials", c->ep.addr.str);
	if (!peer_trusted(&p, &c->rights[OP_TAKE]))
		errx(EXIT_REFUSED, "%s: refused holder %s", c->ep.addr.str,
		    peer_str(&p));
	return s;
}

/* Tell the importer too, then end with what went wrong. */
static void __dead2
fail(struct ctl *c, const struct perr *pe, const char *who)
{
	struct deadline dl;
	unsigned char buf[2 + sizeof(pe->msg)];
	struct perr ignored;

	deadline_in(&dl, 1000);
	pframe_write(STDOUT_FILENO, F_ERROR, buf, error_put(buf, pe->code,
	    pe->msg), &dl, &ignored);
	errx(exit_for(pe), "%s: %s%s", c->ep.addr.str, who, pe->msg);
}

/*
 * Is the connection's local address still one of this host's?  Then the
 * server's packets still reach the frozen socket and its state goes stale
 * (fdholder(1): take the address down first).  Binding to it without
 * IP_FREEBIND says.
 */
static int
still_local(const struct tcpconn *t)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	int s, r;

	memset(&ss, 0, sizeof(ss));
	ss.ss_family = t->family;
	if (t->family == AF_INET) {
		memcpy(&sin->sin_addr, t->laddr, 4);
		len = sizeof(*sin);
	} else {
		memcpy(&sin6->sin6_addr, t->laddr, 16);
		len = sizeof(*sin6);
	}
	if ((s = sock_open(t->family, SOCK_DGRAM, 0)) == -1)
		return 0;
	r = bind(s, (struct sockaddr *)&ss, len) == 0;
	close(s);
	return r;
}

/* The holder's state, checked, to standard output. */
static void
state_pass(struct ctl *c, int s)
{
	struct deadline dl;
	struct frame f;
	struct perr pe;
	struct mrec m;
	struct rbuf r;
	int n;

	deadline_in(&dl, c->tms);
	if ((n = frame_recv(s, &f, &dl, &pe)) == 0)
		perr_set(&pe, PE_SYS, "the holder closed without an answer");
	if (n <= 0)
		fail(c, &pe, "");
	if (f.type == F_ERROR) {
		perr_remote(&pe, &f);
		fail(c, &pe, "");
	}
	rb_init(&r, f.data, f.len);
	if (f.type != F_STATE)
		perr_set(&pe, PE_PROTO, "expected a connection's state, got "
		    "frame type %u", f.type);
	else if (mrec_get(&r, &m, &pe) == -1)
		;
	else if (still_local(&m.tc))
		perr_set(&pe, PE_REFUSED, "%s is still an address of this "
		    "host: take it down first (fdholder(1)); the holder "
		    "resumes", tcpr_str(&m.tc, 0));
	else
		goto pass;
	deadline_in(&dl, 1000);
	frame_error(s, &pe, &dl);
	fail(c, &pe, "");
pass:
	deadline_in(&dl, c->tms);
	if (pframe_write(STDOUT_FILENO, F_STATE, f.data, f.len, &dl, &pe) ==
	    -1)
		errx(EXIT_SYS, "standard output: %s; the holder resumes",
		    pe.msg);
	frame_free(&f);
}

/*
 * The importer's answer, to the holder.  The holder bounds the wait (its
 * -t), and says so by an F_ERROR or an end of file, which we pass on.
 */
static void
answer_pass(struct ctl *c, int s)
{
	struct pollfd pfd[2];
	struct frame f;
	struct perr pe;
	int r;

	pfd[0].fd = STDIN_FILENO;
	pfd[1].fd = s;
	pfd[0].events = pfd[1].events = POLLIN;
	while (poll(pfd, 2, -1) == -1)
		if (errno != EINTR)
			err(EXIT_SYS, "poll");
	if (pfd[1].revents != 0) {
		if ((r = frame_recv(s, &f, NULL, &pe)) == 1 &&
		    f.type == F_ERROR)
			perr_remote(&pe, &f);
		else if (r != -1)
			perr_set(&pe, PE_SYS, "the holder ended the export");
		fail(c, &pe, "");
	}
	if ((r = pframe_read(STDIN_FILENO, &f, NULL, &pe)) <= 0) {
		close(s);
		errx(EXIT_SYS, "%s: the importer went away before it "
		    "confirmed%s%s; the holder resumes", c->ep.addr.str,
		    r == 0 ? "" : ": ", r == 0 ? "" : pe.msg);
	}
	if (f.type != F_ACK && f.type != F_ERROR) {
		perr_set(&pe, PE_PROTO, "the importer sent frame type %u, not "
		    "a confirmation", f.type);
		frame_error(s, &pe, NULL);
		fail(c, &pe, "");
	}
	if (frame_send(s, &(struct frout){ .type = f.type, .data = f.data,
	    .len = f.len }, NULL, &pe) == -1)
		fail(c, &pe, "to the holder: ");
	if (f.type == F_ERROR) {
		perr_remote(&pe, &f);
		close(s);
		errx(exit_for(&pe), "%s: the importer: %s; the holder "
		    "resumes", c->ep.addr.str, pe.msg);
	}
	frame_free(&f);
}

/* -x: one export, from asking to the holder's verdict. */
void
export_run(struct ctl *c)
{
	struct deadline dl;
	struct frame f;
	struct perr pe;
	unsigned char v = MREC_VERSION, ack[ACK_LEN];
	int s, r;

	/* An importer gone is said, not a silent death by SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	deadline_in(&dl, c->tms);
	s = holder_connect(c, &dl);
	if (frame_send(s, &(struct frout){ .type = F_EXPORT, .data = &v,
	    .len = 1 }, &dl, &pe) == -1)
		fail(c, &pe, "");
	state_pass(c, s);
	answer_pass(c, s);
	/* The holder closes once it has let go; an F_ERROR if it resumed. */
	if ((r = frame_recv(s, &f, NULL, &pe)) == 1) {
		if (f.type == F_ERROR)
			perr_remote(&pe, &f);
		else
			perr_set(&pe, PE_PROTO, "unexpected frame type %u",
			    f.type);
		fail(c, &pe, "");
	}
	if (r == -1 && pe.errnum != ECONNRESET)
		fail(c, &pe, "");
	ack_put(ack, 1);
	deadline_in(&dl, c->tms);
	if (pframe_write(STDOUT_FILENO, F_ACK, ack, sizeof(ack), &dl, &pe) ==
	    -1)
		errx(EXIT_SYS, "standard output: %s; the connection is the "
		    "importer's, but it may not know", pe.msg);
	exit(EXIT_OK);
}
