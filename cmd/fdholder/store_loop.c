/* ISC license: see LICENSE. */
/* The store's loop: one poll for the control socket and every client. */
#include <sys/types.h>
#include <sys/resource.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>

#include "exits.h"
#include "notify.h"
#include "sandbox.h"
#include "store.h"

static void
fd_room(size_t want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ?
	    want : rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
}

/*
 * What RLIMIT_NOFILE leaves us once we listen and hold what a predecessor
 * handed over.  Where it is less than -f and the clients need, the free
 * fds are shared: a client slot per 8 (MAXCLIENTS at most), a margin, and
 * the rest for the entries, so that neither clients nor entries can take
 * the fds the others need.
 */
static void
fd_budget(struct store *st)
{
	struct rlimit rl;
	size_t lim, used = 0, avail, slots, fd;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 ||
	    rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= st->maxfds +
	    MAXCLIENTS + FDMARGIN + 64)
		return;
	lim = rl.rlim_cur;
	for (fd = 0; fd < lim; fd++)
		used += fcntl((int)fd, F_GETFD) != -1;
	avail = lim - used;
	slots = avail / 8 < 1 ? 1 : avail / 8 > MAXCLIENTS ? MAXCLIENTS :
	    avail / 8;
	st->maxcl = (int)slots;
	avail = avail > slots + FDMARGIN ? avail - slots - FDMARGIN : 0;
	if (st->nfds + avail < st->maxfds) {
		st->maxfds = st->nfds + avail;
		st->rlim = lim;
	}
}

/*
 * The poll array: the listener (its place in *pi_l, or -1) while there
 * is a slot, the clients we serve, then the control socket's.  Returns
 * how many; *timeout shrinks to the nearest deadline.
 */
static int
store_pollfds(struct store *st, struct pollfd *pfd, int *pi_l, int *timeout)
{
	struct ctl *c = st->ctl;
	struct client *cl;
	int i, n = 0;

	*pi_l = -1;
	if (c->state != CS_SENT) {
		/* Those who come now wait for the successor. */
		if (st->ncl < st->maxcl && c->state == CS_IDLE &&
		    ctl_accepting(c)) {
			pfd[n].fd = c->ep.lfd;
			pfd[n].events = POLLIN;
			pfd[n].revents = 0;
			*pi_l = n++;
		}
		for (i = 0; i < st->ncl; i++) {
			cl = &st->cl[i];
			cl->pi = -1;
			if (!client_polled(st, cl))
				continue;
			*timeout = poll_ms(*timeout, deadline_ms(&cl->until));
			pfd[n].fd = cl->fd;
			pfd[n].events = cl->state == CL_SEND ? POLLOUT : POLLIN;
			pfd[n].revents = 0;
			cl->pi = n++;
		}
	}
	n = ctl_pollfds(c, pfd, n, 0);
	*timeout = poll_ms(*timeout, ctl_timeout(c));
	return n;
}

/*
 * While a taker's program starts (its F_ACK read, the end of its
 * connection awaited), give way to it if it took many fds.  Its exec ends
 * the connection and wakes us to remove the entry; run at once, on the
 * program's CPU, that removal would come before the program and leave it
 * the last copies of the fds to close at its exit (1,000 fds: 0.16 ms
 * ahead of the program, and a cost per fetched fd 1.5 times the floor's).
 * Fewer than DEFER_FDS take the store less than a wake-up to remove,
 * while a store giving way answers its other clients later on a busy
 * machine (10 clients taking 1 fd each: p99 4-8% longer).
 */
#define DEFER_FDS	64
static void
store_defer(struct store *st)
{
	int i, on = 0;

	for (i = 0; i < st->ncl && !on; i++)
		on = st->cl[i].state == CL_OUTCOME &&
		    st->cl[i].nsent >= DEFER_FDS;
	if (on != st->deferring) {
		cpu_defer(on);
		st->deferring = on;
	}
}

/* Take over or start afresh, and be ready, in the sandbox. */
static void
store_begin(struct store *st, int Sflag)
{
	struct perr pe;

	signal(SIGPIPE, SIG_IGN);
	/* The fds, a socket per client, a frame of a predecessor's. */
	fd_room(st->maxfds + MAXCLIENTS + PROTO_MAXFDS + 64);
	if (Sflag && sds_open(st->ctl->tms, &pe) == -1)
		errx(EXIT_USAGE, "-S: %s", pe.msg);
	if (sandbox_prepare(Sflag ? SB_STORE_SD : SB_STORE) == -1)
		err(EXIT_SYS, "sandbox");
	store_start(st);
	fd_budget(st);
	notify_ready("store of named fds: %zu entries, %zu fds%s", st->nentries,
	    st->nfds, Sflag ? ", kept in the fd store too" : "");
	if (sandbox_enter() == -1)
		err(EXIT_SYS, "sandbox");
}

void
store_run(struct ctl *c, size_t maxentries, size_t maxfds, int Sflag)
{
	static struct store st;
	struct pollfd pfd[MAXCLIENTS + 2];
	struct client *cl;
	int i, n, pi_l, timeout;

	st.ctl = c;
	st.maxentries = maxentries;
	st.maxfds = maxfds;
	st.maxcl = MAXCLIENTS;
	store_begin(&st, Sflag);
	for (;;) {
		/* Before a handoff's own cpu_defer, which this leaves alone. */
		store_defer(&st);
		/* A successor waited for the takes in flight to end. */
		if (c->state == CS_ASKING && st.nreserved == 0)
			handoff_send(&st);
		timeout = entry_expire(&st);
		n = store_pollfds(&st, pfd, &pi_l, &timeout);
		if (poll(pfd, n, timeout) == -1) {
			if (errno == EINTR)
				continue;
			err(EXIT_SYS, "poll");
		}
		switch (ctl_events(c, pfd)) {
		case CTL_COMMIT:
			/* The successor holds it all; ours are copies. */
			for (i = st.ncl - 1; i >= 0; i--)
				client_close(&st, i);
			store_clear(&st);
			ctl_commit(c);
			exit(EXIT_OK);
		case CTL_RESUME:
			continue;
		}
		if (c->state == CS_SENT)
			continue;
		/* Backwards: serving one may move the last into its place. */
		for (i = st.ncl - 1; i >= 0; i--) {
			cl = &st.cl[i];
			client_event(&st, i, cl->pi != -1 ?
			    pfd[cl->pi].revents : 0);
			if (c->state == CS_SENT)
				break;
		}
		if (c->state == CS_IDLE && pi_l != -1 && pfd[pi_l].revents)
			clients_accept(&st);
	}
}
