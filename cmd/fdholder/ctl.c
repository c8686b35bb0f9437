/* ISC license: see LICENSE. */
/*
 * The control socket of fdholder, its listening side: where it is, the
 * path we remove at exit, the spare fd that lets us refuse at the fd
 * limit, and who is admitted.  The conversation with a successor, and
 * with the holder we take over from, is ctl_handoff.c's.
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
	spare_get(c);
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
 * Claim the control socket, where no holder may be live: an importer
 * (-X) takes no connection over on this host.  Ends the program if it
 * cannot.
 */
void
ctl_claim(struct ctl *c)
{
	ctl_unlink_at_exit(c);
	if (ctl_listen(c) == 0)
		return;
	if (errno == EADDRINUSE)
		errx(EXIT_REFUSED, "%s: a holder is live there already",
		    c->ep.addr.str);
	errx(errno == ETIMEDOUT ? EXIT_TIMEOUT : EXIT_SYS, "listen %s",
	    ep_error());
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
	if ((s = sock_accept(c->ep.lfd, NULL)) != -1) {
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
		if ((s = sock_accept(c->ep.lfd, NULL)) == -1) {
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
