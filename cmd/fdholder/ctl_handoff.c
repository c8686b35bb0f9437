/* ISC license: see LICENSE. */
/*
 * The handoff over fdholder's control socket (its listening side is ctl.c's):
 * taking over from a live holder, and handing over to a successor, as
 * DESIGN's "Handoff across restarts" and fdproto(7) say.  At every moment
 * one process owns each fd and byte:
 *
 *	successor		holder
 *	connect, F_TAKE	->	stops reading and writing
 *			<-	F_HANDOFF: its fds, bytes in flight
 *	F_ACK		->	closes its copies, exits 0
 *	EOF: owns all		(F_ERROR instead: it resumed; we close ours)
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <err.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <unistd.h>

#include "exits.h"
#include "fdholder.h"
#include "hold.h"
#include "mrec.h"
#include "util.h"

enum { PATH_LEND, PATH_BACK, PATH_GIVE };

static void
path_set(struct ctl *c, int how)
{
	switch (how) {
	case PATH_LEND:
		/* Killed now, we must leave the path to the successor. */
		c->created = c->ep.created;
		c->ep.created = 0;
		break;
	case PATH_BACK:
		c->ep.created = c->created;
		break;
	case PATH_GIVE:
		c->ep.created = 0;
		break;
	}
}

/*
 * The first answer to our F_TAKE was not a frame of ours: whatever listens
 * there is not a holder.  Ends the program.
 */
void
ctl_foreign(struct ctl *c, const struct perr *pe)
{
	if (pe->code == PE_PROTO || pe->code == PE_VERSION)
		errx(EXIT_SYS, "%s: a live socket that does not speak fdproto "
		    "(%s)", c->ep.addr.str, pe->msg);
	errx(exit_for(pe), "%s: %s", c->ep.addr.str, pe->msg);
}

/*
 * Ask a live holder on the control socket to hand over what it holds.
 * Returns the connection, F_TAKE sent, or -1 when no holder listens there.
 * Anything else ends the program: we touched nothing yet.
 */
int
ctl_ask(struct ctl *c)
{
	const struct addr *a = &c->ep.addr;
	struct endpoint ep;
	struct deadline dl;
	struct peer p;
	struct perr pe;
	struct wbuf b = { 0 };
	int s;

	deadline_in(&dl, c->tms);
	if (a->kind == ADDR_FD)
		return -1;
	/* A full backlog is a live holder: ep_connect_now waits for it. */
	if (ep_connect_now(&ep, a, &dl) == -1 ||
	    (s = ep_next(&ep, &dl)) == -1) {
		/* No holder; ctl_listen says what else is there. */
		if (errno == ENOENT || errno == ECONNREFUSED ||
		    errno == ENOTSOCK)
			return -1;
		if (errno == ETIMEDOUT)
			errx(EXIT_TIMEOUT, "connect %s: timed out", a->str);
		err(EXIT_SYS, "connect %s", a->str);
	}
	if (peer_get(s, &p) == -1)
		err(EXIT_SYS, "%s: peer credentials", a->str);
	if (!peer_trusted(&p, &c->rights[OP_TAKE]))
		errx(EXIT_REFUSED, "%s: refused holder %s", a->str,
		    peer_str(&p));
	/*
	 * If this fails, the holder's F_ERROR or end of file says why.  A
	 * store sends entries' times exactly when asked (FF_SINCE); a
	 * holder of a connection, or an older store, ignores the flag.
	 */
	take_put(&b, c->kind);
	if (!b.oom)
		frame_send(s, &(struct frout){ .type = F_TAKE,
		    .flags = FF_SINCE, .data = b.p, .len = b.len }, &dl, &pe);
	wb_free(&b);
	return s;
}

/*
 * Confirm that we hold the nfds received.  A holder that cuts (HF_CUT)
 * can no longer resume once our F_ACK is sent: then everything is ours at
 * once.  Otherwise we wait for the holder's verdict: end of file once it
 * closed its copies (or died), and we own everything; or its F_ERROR, when
 * it gave up waiting and resumed (a cutting holder refused our F_ACK).
 * No bound on that wait: the holder has its own.  Returns 0 or -1.
 */
int
ctl_confirm(struct ctl *c, int s, size_t nfds, int cut)
{
	struct frame f;
	struct perr pe;
	int r;

	if (ack_send(s, nfds, NULL, &pe) == 0 && cut) {
		close(s);
		return 0;
	}
	r = frame_recv(s, &f, NULL, &pe);
	close(s);
	if (r == 0)
		return 0;
	if (r == 1) {
		if (f.type == F_ERROR)
			perr_remote(&pe, &f);
		else
			perr_set(&pe, PE_PROTO, "unexpected frame type %u",
			    f.type);
		frame_free(&f);
	} else if (pe.errnum == ECONNRESET)
		return 0;
	warnx("%s: holder kept what it holds: %s", c->ep.addr.str, pe.msg);
	return -1;
}

/*
 * Can we cut off a late F_ACK?  Once our reading side is shut down, Linux
 * refuses the successor's later sends (EPIPE) and keeps what is queued, so
 * the queue then holds the F_ACK or never will.  BSD kernels (xnu among
 * them) flush the queue on SHUT_RD: there we never cut, and the successor
 * waits for our verdict.
 */
int
ctl_can_cut(void)
{
#ifdef __linux__
	return 1;
#else
	return 0;
#endif
}

/*
 * Did the peer hang up without a word?  A connection that only probed
 * whether we are alive (as ep_listen does) must not make the next
 * successor busy.
 */
static int
gone(int s)
{
	char b;

	return recv(s, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

/* A successor connected (or asked, for the store): one at a time. */
int
ctl_begin(struct ctl *c, int s, const struct peer *p)
{
	if (!peer_trusted(p, &c->rights[OP_TAKE])) {
		lwarnx(&c->trustlog, "%s: refused successor %s",
		    c->ep.addr.str, peer_str(p));
		ctl_refuse(s, PE_REFUSED, "uid %u not allowed to take over",
		    (unsigned)p->uid);
		return -1;
	}
	if (c->succ != -1 && c->state == CS_ASKING && gone(c->succ))
		ctl_drop(c, NULL);
	if (c->succ != -1) {
		ctl_refuse(s, PE_BUSY, "busy: another successor is taking "
		    "over");
		return -1;
	}
	c->succ = s;
	c->peer = *p;
	c->state = CS_ASKING;
	deadline_in(&c->until, c->tms);
	return 0;
}

void
ctl_sent(struct ctl *c, size_t nfds)
{
	c->state = CS_SENT;
	c->nsent = nfds;
	path_set(c, PATH_LEND);
	deadline_in(&c->until, c->tms);
	/* Nothing is urgent for us now, everything for the successor: our
	 * wake-up by its F_ACK must not take its CPU from it. */
	cpu_defer(1);
}

/*
 * The state went to an exporter (F_STATE): the importer's verdict, passed
 * on, comes as a successor's would.  The control socket's path is not
 * lent: nobody on this host takes it over, and it goes when we exit.
 */
void
ctl_exported(struct ctl *c)
{
	c->state = CS_SENT;
	c->nsent = 1;
	c->exporting = 1;
	deadline_in(&c->until, c->tms);
}

/* The successor is gone, or we give up on it: go on as if it never came. */
void
ctl_drop(struct ctl *c, const struct perr *pe)
{
	struct deadline dl;

	if (pe != NULL) {
		deadline_in(&dl, 1000);
		frame_error(c->succ, pe, &dl);
	}
	close(c->succ);
	c->succ = -1;
	frdec_free(&c->in);
	if (c->state == CS_SENT && !c->exporting) {
		path_set(c, PATH_BACK);
		cpu_defer(0);
	}
	c->state = CS_IDLE;
	c->exporting = 0;
}

/*
 * The successor owns it all: let go of the control socket and of it.  An
 * importer on another host does not take the path: we remove it.
 */
void
ctl_commit(struct ctl *c)
{
	if (!c->exporting)
		path_set(c, PATH_GIVE);
	if (c->ep.lfd != -1)
		close(c->ep.lfd);
	c->ep.lfd = -1;
	if (c->spare != -1)
		close(c->spare);
	c->spare = -1;
	close(c->succ);
	c->succ = -1;
	frdec_free(&c->in);
}

/* F_EXPORT: a connection's state, in a record of the version asked. */
static int
exporting(struct ctl *c, struct frame *f)
{
	struct perr pe;
	unsigned v;

	v = f->len == 1 ? f->data[0] : 0;
	if (f->nfds != 0 || f->len != 1)
		perr_set(&pe, PE_PROTO, "malformed export request");
	else if (c->kind != HOLD_CONN)
		perr_set(&pe, PE_KIND, "holds named fds, not a connection");
	else if (v != MREC_VERSION)
		perr_set(&pe, PE_VERSION, "record version %u not supported "
		    "(this is %u)", v, MREC_VERSION);
	else
		return CTL_EXPORT;
	ctl_drop(c, &pe);
	return CTL_NONE;
}

static int
asking(struct ctl *c, struct frame *f)
{
	struct perr pe;
	struct rbuf r;
	int kind = -1, ok;

	rb_init(&r, f->data, f->len);
	if (f->type == F_EXPORT)
		return exporting(c, f);
	ok = f->type == F_TAKE && f->nfds == 0 && take_get(&r, &kind) == 0;
	if (ok && kind == c->kind)
		return CTL_TAKE;
	if (ok)
		perr_set(&pe, PE_KIND, "holds %s, not %s", c->kind ==
		    HOLD_CONN ? "a connection" : "named fds", c->kind ==
		    HOLD_CONN ? "named fds" : "a connection");
	else if (f->type == F_TAKE)
		perr_set(&pe, PE_PROTO, "malformed take-over request");
	else if (f->type >= F_STORE && f->type <= F_DELETE)
		perr_set(&pe, PE_KIND, "holds a connection, not named fds");
	else
		perr_set(&pe, PE_PROTO, "unexpected frame type %u", f->type);
	ctl_drop(c, &pe);
	return CTL_NONE;
}

static int
confirming(struct ctl *c, struct frame *f)
{
	struct perr pe;
	uint32_t n;

	if (f->nfds == 0 && ack_get(f, &n) == 0 && n == c->nsent)
		return CTL_COMMIT;
	if (f->type == F_ERROR && c->exporting) {
		perr_remote(&pe, f);
		warnx("%s: export refused: %s; resumed", c->ep.addr.str,
		    pe.msg);
		perr_set(&pe, PE_NONE, "resumed");
	} else if (f->type == F_ERROR)
		perr_set(&pe, PE_NONE, "resumed");
	else
		perr_set(&pe, PE_PROTO, "expected a confirmation of %zu "
		    "fds; resumed", c->nsent);
	ctl_drop(c, &pe);
	return CTL_RESUME;
}

/* What came from the successor: part of a frame waits for the rest. */
static int
succ_event(struct ctl *c)
{
	struct frame f;
	struct perr pe;
	int r, state = c->state;

	r = frame_step(c->succ, &c->in, &f, &pe);
	if (r == FRAME_AGAIN)
		return CTL_NONE;
	if (r <= 0) {
		if (c->exporting)
			warnx("%s: export: the exporter went away before the "
			    "importer confirmed; resumed", c->ep.addr.str);
		ctl_drop(c, r == 0 ? NULL : &pe);
		return state == CS_SENT ? CTL_RESUME : CTL_NONE;
	}
	r = state == CS_SENT ? confirming(c, &f) : asking(c, &f);
	frame_free(&f);
	return r;
}

/*
 * The confirmation is late.  Where we can (ctl_can_cut), shut our reading
 * side: from that instant the successor's F_ACK either is in our queue,
 * and it owns everything, or can no longer be sent, and we resume.
 * Returns CTL_COMMIT or CTL_NONE (then the caller resumes).
 */
static int
cut(struct ctl *c)
{
	struct frame f;
	struct perr pe;
	uint32_t n;
	int r = CTL_NONE;

	if (c->state != CS_SENT || !ctl_can_cut() ||
	    shutdown(c->succ, SHUT_RD) == -1)
		return CTL_NONE;
	if (frame_step(c->succ, &c->in, &f, &pe) == 1) {
		if (f.nfds == 0 && ack_get(&f, &n) == 0 && n == c->nsent)
			r = CTL_COMMIT;
		frame_free(&f);
	}
	return r;
}

/*
 * What happened on the control socket.  With listening, new peers are
 * successors (the store accepts its clients itself).
 */
int
ctl_events(struct ctl *c, const struct pollfd *pfd)
{
	struct perr pe;
	struct peer p;
	int r = CTL_NONE, state = c->state, s, i;

	if (c->pi_s != -1 && pfd[c->pi_s].revents != 0)
		r = succ_event(c);
	if (r == CTL_NONE && c->succ != -1 && deadline_ms(&c->until) == 0 &&
	    (r = cut(c)) == CTL_NONE) {
		perr_set(&pe, PE_SYS, "%s timed out; resumed",
		    state == CS_SENT ? "confirmation" : "request");
		pe.errnum = ETIMEDOUT;
		warnx("%s: successor %s: %s", c->ep.addr.str,
		    peer_str(&c->peer), pe.msg);
		ctl_drop(c, &pe);
		r = state == CS_SENT ? CTL_RESUME : CTL_NONE;
	}
	if (r == CTL_COMMIT || c->pi_l == -1 || pfd[c->pi_l].revents == 0)
		return r;
	for (i = 0; i < 16 && (s = ctl_accept(c, &p)) != -1; i++)
		ctl_begin(c, s, &p);
	return r;
}
