/* ISC license: see LICENSE. */
/*
 * The control socket of fdholder: taking over from a live holder, and
 * handing over to a successor, as DESIGN's "Handoff across restarts" and
 * fdproto(7) say.  At every moment one process owns each fd and byte:
 *
 *	successor		holder
 *	connect, F_TAKE	->	stops reading and writing
 *			<-	F_HANDOFF: its fds, bytes in flight
 *	F_ACK		->	closes its copies, exits 0
 *	EOF: owns all		(F_ERROR instead: it resumed; we close ours)
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exits.h"
#include "fdholder.h"
#include "hold.h"
#include "util.h"

void
ctl_init(struct ctl *c, const struct addr *a, int kind, struct trust *rights,
    int tms)
{
	memset(c, 0, sizeof(*c));
	c->ep.addr = *a;
	c->ep.lfd = c->ep.cfd = -1;
	c->rights = rights;
	c->tms = tms;
	c->kind = kind;
	c->succ = -1;
	c->pi_l = c->pi_s = -1;
	c->spare = -1;
}

/*
 * The fd we give up to accept a peer at the fd limit (ctl_accept): a
 * copy of the listening socket, which is ours alone and needs no open(2)
 * in the sandbox.
 */
static void
spare_get(struct ctl *c)
{
	if (c->spare == -1 && c->ep.lfd != -1)
		c->spare = fcntl(c->ep.lfd, F_DUPFD_CLOEXEC, 0);
}

/*
 * The control socket's path, from its creation to its removal, is handled
 * here and nowhere else: ctl_listen binds it (ep_listen), or ctl_adopt
 * takes it over with the listening socket a holder handed us; ctl_start
 * has it removed when we exit or are killed (ctl_atexit,
 * ep_unlink_on_signal) while it is ours.  From our F_HANDOFF on it may be
 * the successor's already: we lend it (PATH_LEND), and take it back if the
 * successor drops (PATH_BACK) or give it up once it commits (PATH_GIVE).
 */

/*
 * Listen on the control socket, claimed atomically against every other
 * claimant (ep_listen): -1 with EADDRINUSE if a holder is live.
 */
int
ctl_listen(struct ctl *c)
{
	struct addr a = c->ep.addr;
	struct deadline dl;
	int op, shared = 0;

	for (op = 0; op < OP_N; op++)
		shared |= trust_widened(&c->rights[op]);
	deadline_in(&dl, c->tms);
	if (ep_listen(&c->ep, &a, shared, &dl) == -1)
		return -1;
	if (c->ep.lfd == -1) {
		ep_close(&c->ep);
		errno = ENOTSOCK;
		return -1;
	}
	spare_get(c);
	return 0;
}

/* The control socket the holder handed us becomes ours, its path too. */
void
ctl_adopt(struct ctl *c, int lfd, uint64_t dev, uint64_t ino)
{
	c->ep.lfd = lfd;
	c->ep.created = c->ep.addr.kind == ADDR_PATH && (dev != 0 || ino != 0);
	c->ep.dev = dev;
	c->ep.ino = ino;
	fd_nonblock(lfd, 1);
	spare_get(c);
}

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

/* The path's dev and ino for our F_HANDOFF: 0 0 if it is not ours. */
void
ctl_path_id(const struct ctl *c, uint64_t *dev, uint64_t *ino)
{
	*dev = c->ep.created ? (uint64_t)c->ep.dev : 0;
	*ino = c->ep.created ? (uint64_t)c->ep.ino : 0;
}

static struct ctl *exit_ctl;

static void
ctl_atexit(void)
{
	if (exit_ctl != NULL)
		ep_close(&exit_ctl->ep);
}

/* Remove the control socket's path when we exit, unless it was handed on. */
static void
ctl_unlink_at_exit(struct ctl *c)
{
	if (exit_ctl == NULL)
		atexit(ctl_atexit);
	exit_ctl = c;
	ep_unlink_on_signal(&c->ep);
}

/*
 * Become the holder on the control socket: take over from the live holder
 * there (take returns 1 once it did, 0 when the holder closed without
 * answering, as one that is exiting does), or claim the socket where none
 * listens.  Returns 1 when we took over, 0 when we listen; either way the
 * path is removed when we exit, unless handed on.  A live socket
 * that closes every request unanswered is not a holder: say so.
 */
int
ctl_start(struct ctl *c, int (*take)(void *, int), void *arg)
{
	int s, tries;

	ctl_unlink_at_exit(c);
	for (tries = 0; tries < CTL_TRIES; tries++) {
		if ((s = ctl_ask(c)) != -1) {
			if (take(arg, s))
				return 1;
			continue;
		}
		if (ctl_listen(c) == 0)
			return 0;
		if (errno == ENOTSOCK && c->ep.addr.kind == ADDR_FD)
			errx(EXIT_USAGE, "%s: a connected socket, not a "
			    "listening one", c->ep.addr.str);
		if (errno != EADDRINUSE)
			errx(errno == ETIMEDOUT ? EXIT_TIMEOUT : EXIT_SYS,
			    "listen %s", ep_error());
	}
	errx(EXIT_SYS, "%s: a live socket that does not speak fdproto (it "
	    "closed %d requests to take over unanswered)", c->ep.addr.str,
	    CTL_TRIES);
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
		frame_send(s, F_TAKE, FF_SINCE, b.p, b.len, NULL, 0, &dl,
		    &pe);
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

int
ctl_pollfds(struct ctl *c, struct pollfd *pfd, int n, int listening)
{
	c->pi_l = c->pi_s = -1;
	if (listening && c->ep.lfd != -1 && ctl_accepting(c)) {
		pfd[n].fd = c->ep.lfd;
		pfd[n].events = POLLIN;
		pfd[n].revents = 0;
		c->pi_l = n++;
	}
	if (c->succ != -1) {
		pfd[n].fd = c->succ;
		pfd[n].events = POLLIN;
		pfd[n].revents = 0;
		c->pi_s = n++;
	}
	return n;
}

int
ctl_timeout(const struct ctl *c)
{
	int ms = ctl_accepting(c) ? -1 : deadline_ms(&c->pause);

	if (c->succ == -1)
		return ms;
	return poll_ms(ms, deadline_ms(&c->until));
}

/* Tell a peer why we will not serve it, and hang up. */
void
ctl_refuse(int s, int code, const char *fmt, ...)
{
	struct deadline dl;
	struct perr pe;
	va_list ap;

	pe.code = code;
	pe.errnum = 0;
	va_start(ap, fmt);
	vsnprintf(pe.msg, sizeof(pe.msg), fmt, ap);
	va_end(ap);
	deadline_in(&dl, 1000);
	frame_error(s, &pe, &dl);
	close(s);
}

/*
 * A peer may connect only if it may ask for something: a successor of a
 * relay, a client of the store for at least one operation.  Anyone else
 * is told so and hung up on before it takes a slot or we read a byte.
 */
static int
admitted(struct ctl *c, int s, const struct peer *p)
{
	int op;

	for (op = 0; op < OP_N; op++)
		if ((op == OP_TAKE || c->kind == HOLD_STORE) &&
		    peer_trusted(p, &c->rights[op]))
			return 1;
	if (c->kind == HOLD_CONN) {
		lwarnx(&c->trustlog, "%s: refused successor %s",
		    c->ep.addr.str, peer_str(p));
		ctl_refuse(s, PE_REFUSED, "uid %u not allowed to take over",
		    (unsigned)p->uid);
	} else {
		lwarnx(&c->trustlog, "%s: refused %s: not allowed",
		    c->ep.addr.str, peer_str(p));
		ctl_refuse(s, PE_REFUSED, "uid %u not allowed",
		    (unsigned)p->uid);
	}
	return 0;
}

/*
 * At the fd limit accept fails with EMFILE (whether a peer waits or not)
 * and leaves the peer queued, and poll wakes us for it again at once:
 * give up the spare fd to accept it, refuse it with the limit named, and
 * take the spare back.  Without a spare, accept nothing for a second.
 * Returns 0 when it refused a peer, -1 when none is waiting.
 */
static int
at_limit(struct ctl *c, int e)
{
	struct rlimit rl;
	struct peer p;
	char lim[64];
	int s;

	if (e == ENFILE)
		strlcpy(lim, "the system's fd limit reached (ENFILE)",
		    sizeof(lim));
	else if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		snprintf(lim, sizeof(lim), "fd limit %ju reached",
		    (uintmax_t)rl.rlim_cur);
	else
		strlcpy(lim, "fd limit reached", sizeof(lim));
	if (c->spare == -1) {
		lwarnx(&c->limitlog, "%s: %s%s: accepting nothing for 1 s",
		    c->ep.addr.str, lim, e == ENFILE ? "" : " (RLIMIT_NOFILE)");
		deadline_in(&c->pause, 1000);
		return -1;
	}
	close(c->spare);
	c->spare = -1;
	if ((s = sock_accept(c->ep.lfd)) != -1) {
		if (peer_get(s, &p) == -1)
			memset(&p, 0xff, sizeof(p));
		lwarnx(&c->limitlog, "%s: %s%s: refused %s", c->ep.addr.str,
		    lim, e == ENFILE ? "" : " (RLIMIT_NOFILE)", peer_str(&p));
		ctl_refuse(s, PE_LIMIT, "%s", lim);
	}
	spare_get(c);
	return s == -1 ? -1 : 0;
}

/*
 * The next peer on the control socket that may ask us anything, or -1
 * when none is waiting.
 */
int
ctl_accept(struct ctl *c, struct peer *p)
{
	int s;

	while (ctl_accepting(c)) {
		if ((s = sock_accept(c->ep.lfd)) == -1) {
			if ((errno != EMFILE && errno != ENFILE) ||
			    at_limit(c, errno) == -1)
				return -1;
			continue;
		}
		if (peer_get(s, p) == -1)
			close(s);
		else if (admitted(c, s, p))
			return s;
	}
	return -1;
}

/* Do we accept now?  Not for a second after the fd limit left no spare. */
int
ctl_accepting(const struct ctl *c)
{
	return deadline_ms(&c->pause) == 0;
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
	if (c->state == CS_SENT) {
		path_set(c, PATH_BACK);
		cpu_defer(0);
	}
	c->state = CS_IDLE;
}

/* The successor owns it all: let go of the control socket and of it. */
void
ctl_commit(struct ctl *c)
{
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

static int
asking(struct ctl *c, struct frame *f)
{
	struct perr pe;
	struct rbuf r;
	int kind = -1, ok;

	rb_init(&r, f->data, f->len);
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
	if (f->type == F_ERROR)
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

	r = frame_step(c->succ, &c->in, &f, MSG_DONTWAIT, &pe);
	if (r == FRAME_AGAIN)
		return CTL_NONE;
	if (r <= 0) {
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
	if (frame_step(c->succ, &c->in, &f, MSG_DONTWAIT, &pe) == 1) {
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
