/* ISC license: see LICENSE. */
/*
 * The store: named entries of fds that clients (fdsend -n, fdrecv -n)
 * store, retrieve, list and delete, as fdproto(7) says, handed whole to a
 * successor like the connection of relay.c.
 *
 * One process, one poll loop, and nothing in it waits for one client: a
 * request is read as its bytes come (frame_step) and served once whole,
 * and every reply goes into the client's queue (struct outq), sent as its
 * socket takes it.  A long reply, a list or an entry of many fds, is made
 * a frame at a time, the next once the last is out, so that a client that
 * does not read costs about one frame.  Each client has -t seconds for
 * each step, then is dropped: a slow or hostile client holds up nobody.
 *
 * A fetch with removal reserves its entry from the first frame until the
 * outcome: after the client's F_ACK, the end of its connection with no
 * other frame means its program runs (the connection was close-on-exec),
 * and the entry goes; an F_ERROR, or -t, and the entry stays.  Meanwhile
 * nobody else can take it.  A successor waits for every reservation to
 * end, so that each entry ends up in exactly one place.
 */
#include <sys/cdefs.h>
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "esc.h"
#include "exits.h"
#include "fdholder.h"
#include "hold.h"
#include "notify.h"
#include "sandbox.h"
#include "sdstore.h"
#include "util.h"

#define MAXCLIENTS	32		/* served at once; the rest wait */
#define UIDSLOTS(n)	((n) / 4 > 0 ? (n) / 4 : 1)	/* one uid's share */
#define IDLE_MS		1000		/* for a whole request, if -t is more */
#define ENTRYMAXFDS	65535		/* F_ENTRIES counts them in 16 bits */
#define LISTFRAME	65536		/* bytes of entries in an F_ENTRIES */
#define TURN		4		/* frames made for a client per turn */
#define FAREWELL_MS	1000		/* for a last error to go out */
#define FDMARGIN	4		/* fds opened for a moment (-S, notify) */

struct entry {
	char		 name[PROTO_NAMEMAX + 1];
	uid_t		 uid;		/* who stored it */
	gid_t		 gid;
	int64_t		 since;		/* ms, CLOCK_MONOTONIC */
	uint32_t	 ttl;		/* seconds, or HOLD_FOREVER */
	uint64_t	 gen;		/* tells a replaced entry apart */
	int		 taken;		/* reserved by a fetch with removal */
	struct fdset	 set;
	char		 sd[SDS_NAMEMAX];	/* its name in the fd store */
};

enum {
	CL_REQ,			/* waiting for a request */
	CL_OFFER,		/* F_STORE read: receiving its offer */
	CL_SEND,		/* replying: its queue, then state then */
	CL_CONFIRM,		/* entry sent for removal: waiting for F_ACK */
	CL_OUTCOME,		/* F_ACK read: waiting for end of file */
	CL_GONE			/* then: hang up */
};

/* What fills the queue of a client in CL_SEND each time it drained. */
enum {
	FILL_NONE,
	FILL_LIST,		/* the entries after name */
	FILL_OFFER		/* the fds of entry name (gen) from nsent on */
};

struct client {
	int		 fd;
	int		 state;
	int		 fill;		/* CL_SEND: FILL_* */
	int		 then;		/* CL_SEND: the state once all is out */
	int		 reserved;	/* entry name (gen) is ours to take */
	int		 rflags;	/* of the request being served */
	int		 liststate;	/* FILL_LIST: with FF_STATE */
	struct peer	 peer;
	struct deadline	 until;		/* of the current step */
	struct outq	 q;		/* what we said and it did not read */
	struct fdset	 set;		/* CL_OFFER: what came so far */
	char		 name[PROTO_NAMEMAX + 1];
	uint32_t	 ttl;
	uint64_t	 gen;		/* of the entry sent */
	size_t		 nsent;		/* of its fds */
	int		 pi;		/* its place in the poll array */
	struct frdec	 in;		/* the frame coming from it */
};

struct store {
	struct ctl	*ctl;
	struct entry	**ent;		/* sorted by name */
	size_t		 nentries;
	size_t		 capentries;
	size_t		 nfds;		/* held in all entries */
	size_t		 maxentries;
	size_t		 maxfds;
	size_t		 nreserved;	/* clients holding an entry */
	uint64_t	 gen;
	int		 since;		/* the successor asked FF_SINCE */
	struct client	 cl[MAXCLIENTS];
	int		 ncl;
	int		 maxcl;		/* slots, MAXCLIENTS unless fds are few */
	size_t		 rlim;		/* RLIMIT_NOFILE, if it set maxfds */
	struct loglimit	 idlelog;	/* dropped for no request */
	struct loglimit	 uidlog;	/* refused for the uid's share */
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds until e expires, 0 once it has; -1 for never. */
static int64_t
entry_left(const struct entry *e, int64_t now)
{
	int64_t end;

	if (e->ttl == HOLD_FOREVER)
		return -1;
	end = e->since + (int64_t)e->ttl * 1000;
	return end > now ? end - now : 0;
}

/*
 * The entries are an array of pointers sorted by name: found by binary
 * search, listed in order from any name on, and as portable as the
 * language (sys/tree.h is libbsd's on Linux and not public on macOS;
 * tsearch(3) cannot resume after a name).  Adding or removing moves
 * pointers, at most -l of them.
 */

/* The place of the first entry whose name is not below name. */
static size_t
entry_at(const struct store *st, const char *name)
{
	size_t lo = 0, hi = st->nentries, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (strcmp(st->ent[mid]->name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct entry *
entry_find(struct store *st, const char *name)
{
	size_t i = entry_at(st, name);

	if (i < st->nentries && strcmp(st->ent[i]->name, name) == 0)
		return st->ent[i];
	return NULL;
}

/* The entry that client cl is sending, unless deleted or replaced since. */
static struct entry *
entry_sent(struct store *st, const struct client *cl)
{
	struct entry *e;

	if ((e = entry_find(st, cl->name)) == NULL || e->gen != cl->gen)
		return NULL;
	return e;
}

/*
 * Close an entry.  An fd of it still waiting in a client's queue is a
 * copy of the queue's own (outq_keep), so that fd stays valid.
 */
static void
entry_remove(struct store *st, struct entry *e)
{
	size_t i = entry_at(st, e->name);

	memmove(&st->ent[i], &st->ent[i + 1],
	    (st->nentries - i - 1) * sizeof(*st->ent));
	st->nentries--;
	st->nfds -= e->set.n;
	sds_remove(e->sd);
	fdset_close(&e->set);
	free(e);
}

/* Add an entry; it takes the fds of set. */
static struct entry *
entry_add(struct store *st, const char *name, const struct peer *p,
    int64_t since, uint32_t ttl, struct fdset *set)
{
	struct entry *e, **v;
	size_t i, cap;

	if (st->nentries == st->capentries) {
		cap = st->capentries ? st->capentries * 2 : 16;
		if ((v = reallocarray(st->ent, cap, sizeof(*v))) == NULL)
			return NULL;
		st->ent = v;
		st->capentries = cap;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	strlcpy(e->name, name, sizeof(e->name));
	e->uid = p->uid;
	e->gid = p->gid;
	e->since = since;
	e->ttl = ttl;
	e->gen = ++st->gen;
	e->set = *set;
	memset(set, 0, sizeof(*set));
	i = entry_at(st, name);
	memmove(&st->ent[i + 1], &st->ent[i],
	    (st->nentries - i) * sizeof(*st->ent));
	st->ent[i] = e;
	st->nentries++;
	st->nfds += e->set.n;
	return e;
}

/* -S: keep the entry in the service manager's fd store too (sdstore.c). */
static int
entry_keep(struct entry *e, struct perr *pe)
{
	struct sdmeta m;

	if (!sds_on())
		return 0;
	memset(&m, 0, sizeof(m));
	strlcpy(m.name, e->name, sizeof(m.name));
	m.uid = e->uid;
	m.gid = e->gid;
	m.since = e->since;
	m.stored = now_ms();
	m.ttl = e->ttl;
	if (sds_add(&m, &e->set, pe) == -1)
		return -1;
	strlcpy(e->sd, m.sdname, sizeof(e->sd));
	return 0;
}

/* -S: an entry the fd store kept for us, taken back after a restart. */
static int
entry_restored(void *arg, const struct sdmeta *m, struct fdset *set)
{
	struct store *st = arg;
	struct entry *e;
	struct peer p;

	memset(&p, 0, sizeof(p));
	p.uid = m->uid;
	p.gid = m->gid;
	if ((e = entry_add(st, m->name, &p, m->since, m->ttl, set)) == NULL)
		return -1;
	strlcpy(e->sd, m->sdname, sizeof(e->sd));
	return 0;
}

/* Close what has expired; returns the ms until the next expiry, or -1. */
static int
expire(struct store *st)
{
	struct entry *e;
	int64_t now = now_ms(), left, soonest = -1;
	size_t i = 0;

	while (i < st->nentries) {
		e = st->ent[i];
		if ((left = entry_left(e, now)) == 0) {
			entry_remove(st, e);
			continue;
		}
		if (left > 0 && (soonest == -1 || left < soonest))
			soonest = left;
		i++;
	}
	return soonest > INT_MAX ? INT_MAX : (int)soonest;
}

/*
 * The client lets go of the entry it reserved: it took it (its program
 * runs) and the entry goes, or it did not and the entry is free again.
 */
static void
release(struct store *st, struct client *cl, int took)
{
	struct entry *e;

	if (!cl->reserved)
		return;
	if ((e = entry_sent(st, cl)) != NULL) {
		if (took)
			entry_remove(st, e);
		else
			e->taken = 0;
	}
	cl->reserved = 0;
	st->nreserved--;
}

static void
client_close(struct store *st, int i)
{
	struct client *cl = &st->cl[i];

	release(st, cl, 0);
	if (cl->fd != -1)
		close(cl->fd);
	fdset_close(&cl->set);
	outq_free(&cl->q);
	frdec_free(&cl->in);
	st->cl[i] = st->cl[--st->ncl];
}

/* The bound on a whole request: short, so that silence costs a slot. */
static int
idle_ms(const struct store *st)
{
	return st->ctl->tms < IDLE_MS ? st->ctl->tms : IDLE_MS;
}

static void
client_next(struct store *st, struct client *cl)
{
	cl->state = CL_REQ;
	deadline_in(&cl->until, idle_ms(st));
}

/* Reply from the client's queue, filled by fill; then go on to then. */
static void
client_send(struct store *st, struct client *cl, int fill, int then)
{
	cl->state = CL_SEND;
	cl->fill = fill;
	cl->then = then;
	deadline_in(&cl->until, st->ctl->tms);
}

/* An entry's age and time left, as F_ENTRIES and F_HANDOFF say them. */
static uint32_t
entry_age(const struct entry *e, int64_t now)
{
	return (uint32_t)((now - e->since) / 1000);
}

static uint32_t
entry_ttl(const struct entry *e, int64_t now)
{
	int64_t left = entry_left(e, now);

	return left < 0 ? HOLD_FOREVER : (uint32_t)((left + 999) / 1000);
}

/* The next F_ENTRIES of a list: the entries after the last one sent. */
static int
fill_list(struct store *st, struct client *cl, struct perr *pe)
{
	struct wbuf b = { 0 };
	struct entry *e;
	int64_t now = now_ms();
	size_t i;
	int r;

	/* By name: what was added or removed since moves nothing. */
	i = entry_at(st, cl->name);
	if (i < st->nentries && strcmp(st->ent[i]->name, cl->name) == 0)
		i++;
	for (; i < st->nentries && b.len < LISTFRAME; i++) {
		e = st->ent[i];
		entry_put(&b, e->name, e->uid, entry_age(e, now),
		    entry_ttl(e, now), e->set.fds, e->set.n, cl->liststate,
		    e->taken);
		strlcpy(cl->name, e->name, sizeof(cl->name));
	}
	if (i == st->nentries)
		cl->fill = FILL_NONE;
	if (b.oom) {
		perr_set(pe, PE_SYS, "out of memory");
		r = -1;
	} else
		r = outq_frame(&cl->q, F_ENTRIES,
		    (i < st->nentries ? FF_MORE : 0) |
		    (cl->liststate ? FF_STATE : 0), b.p, b.len, NULL, 0, pe);
	wb_free(&b);
	return r;
}

/* The next F_OFFER of the entry being fetched. */
static int
fill_offer(struct store *st, struct client *cl, struct perr *pe)
{
	struct entry *e;
	int k;

	if ((e = entry_sent(st, cl)) == NULL) {
		perr_set(pe, PE_NOENT, "%s: no such entry", cl->name);
		return -1;
	}
	if ((k = outq_offer(&cl->q, &e->set, cl->nsent, pe)) == -1)
		return -1;
	cl->nsent += k;
	if (cl->nsent == e->set.n)
		cl->fill = FILL_NONE;
	return 0;
}

static void	client_fail(struct store *, int, const struct perr *);

/*
 * Send what client i's socket takes now, making the next frame of a long
 * reply each time the last is out, a few in a turn; once all is out, go
 * on to the next step.
 */
static void
client_push(struct store *st, int i)
{
	struct client *cl = &st->cl[i];
	struct perr pe;
	int n, r;

	for (n = 0;; n++) {
		if ((r = outq_flush(cl->fd, &cl->q, &pe)) == -1) {
			client_close(st, i);
			return;
		}
		if (r == 0) {
			/* Its fds must outlive a delete meanwhile. */
			if (outq_keep(&cl->q, &pe) == -1)
				client_close(st, i);
			return;
		}
		if (cl->fill == FILL_NONE)
			break;
		if (n == TURN)
			return;		/* the others' turn; POLLOUT is ours */
		r = cl->fill == FILL_LIST ? fill_list(st, cl, &pe) :
		    fill_offer(st, cl, &pe);
		if (r == -1) {
			client_fail(st, i, &pe);
			return;
		}
	}
	if (cl->then == CL_GONE)
		client_close(st, i);
	else if (cl->then == CL_CONFIRM) {
		cl->state = CL_CONFIRM;
		deadline_in(&cl->until, st->ctl->tms);
	} else
		client_next(st, cl);
}

/* Tell the client why, and hang up on it once that is out. */
static void
client_fail(struct store *st, int i, const struct perr *pe)
{
	struct client *cl = &st->cl[i];

	release(st, cl, 0);
	if (outq_error(&cl->q, pe) == -1) {
		client_close(st, i);
		return;
	}
	client_send(st, cl, FILL_NONE, CL_GONE);
	deadline_in(&cl->until, FAREWELL_MS);
	client_push(st, i);
}

/*
 * Its step took more than -t: say so if the socket takes it now, and
 * hang up.  Whatever it reserved stays in the store.
 */
static void
client_timeout(struct store *st, int i)
{
	struct client *cl = &st->cl[i];
	struct perr pe;

	if (cl->state == CL_REQ) {
		lwarnx(&st->idlelog, "%s: dropped %s: no whole request within "
		    "%d ms", st->ctl->ep.addr.str, peer_str(&cl->peer),
		    idle_ms(st));
		/* Most likely fdrecv -c, waiting for fds as we wait for
		 * a request: say what we are, and that we are alive (its
		 * peer credentials name the store that bound the socket,
		 * maybe gone since a takeover). */
		perr_set(&pe, PE_SYS, "timed out: no whole request within "
		    "%d ms: an fdholder store (pid %ld) waits for a request: "
		    "fdrecv -n NAME fetches an entry", idle_ms(st),
		    (long)getpid());
		pe.errnum = ETIMEDOUT;
		if (outq_error(&cl->q, &pe) == 0)
			outq_flush(cl->fd, &cl->q, &pe);
	} else if (cl->state != CL_SEND || cl->then != CL_GONE) {
		perr_set(&pe, PE_SYS, "timed out");
		pe.errnum = ETIMEDOUT;
		if (outq_error(&cl->q, &pe) == 0)
			outq_flush(cl->fd, &cl->q, &pe);
	}
	client_close(st, i);
}

/*
 * May client i do op?  A refusal is told to the client and logged, with
 * what it asked (asked: the operation, and the entry where it is known),
 * at most a line a second with the refusals at accept.
 */
static int
allowed(struct store *st, int i, int op, const char *asked, struct perr *pe)
{
	struct client *cl = &st->cl[i];

	if (peer_trusted(&cl->peer, &st->ctl->rights[op]))
		return 1;
	lwarnx(&st->ctl->trustlog, "%s: refused %s: %s: not allowed",
	    st->ctl->ep.addr.str, peer_str(&cl->peer), asked);
	perr_set(pe, PE_REFUSED, "uid %u not allowed to %s",
	    (unsigned)cl->peer.uid, op_name(op));
	return 0;
}

static int
req_store(struct store *st, int i, struct rbuf *r, struct perr *pe)
{
	struct client *cl = &st->cl[i];

	if (store_get(r, cl->name, &cl->ttl) == -1 || cl->name[0] == '\0' ||
	    cl->ttl == 0) {
		perr_set(pe, PE_PROTO, "malformed store request");
		return -1;
	}
	if (entry_find(st, cl->name) != NULL) {
		perr_set(pe, PE_EXIST, "%s: entry exists", cl->name);
		return -1;
	}
	if (st->nentries >= st->maxentries) {
		perr_set(pe, PE_LIMIT, "store full: %zu entries held, the "
		    "limit", st->nentries);
		return -1;
	}
	cl->state = CL_OFFER;
	return 0;
}

/* Room for n more fds offered by cl, with what the others offer? */
static int
room(const struct store *st, const struct client *cl, size_t n,
    struct perr *pe)
{
	char why[48] = "";
	size_t held = st->nfds;
	int i;

	for (i = 0; i < st->ncl; i++)
		if (&st->cl[i] != cl)
			held += st->cl[i].set.n;
	if (held + cl->set.n + n <= st->maxfds)
		return 1;
	if (st->rlim != 0)
		snprintf(why, sizeof(why), " (RLIMIT_NOFILE %zu)", st->rlim);
	perr_set(pe, PE_LIMIT, "store full: %zu fds held, %zu more offered, "
	    "the limit is %zu%s", held, cl->set.n + n, st->maxfds, why);
	return 0;
}

/*
 * Is there room for the fds of the offer that client i has queued?
 * Asked of its header, before recvmsg takes them: past our fd limit the
 * kernel would install part of them and close the rest (MSG_CTRUNC).
 */
static int
offer_room(struct store *st, int i, struct perr *pe)
{
	struct client *cl = &st->cl[i];
	unsigned char b[PROTO_HDRLEN];
	size_t got = cl->in.got;
	struct hdr h;

	/* The header's bytes so far are the decoder's, the rest still the
	 * kernel's; once fds came, offer() judges them. */
	if (cl->state != CL_OFFER || got >= sizeof(b) || cl->in.f.nfds > 0)
		return 1;
	memcpy(b, cl->in.hdr, got);
	if (recv(cl->fd, b + got, sizeof(b) - got, MSG_PEEK | MSG_DONTWAIT) !=
	    (ssize_t)(sizeof(b) - got))
		return 1;	/* frame_step says what is wrong */
	hdr_get(b, &h);
	return h.type != F_OFFER || room(st, cl, h.nfds, pe);
}

/* A part of the offer that follows F_STORE. */
static int
offer(struct store *st, int i, struct frame *f, struct perr *pe)
{
	struct client *cl = &st->cl[i];
	struct entry *e;

	if (f->type == F_ERROR)
		return -1;	/* the client gave up; nothing to say */
	if (f->type != F_OFFER) {
		perr_set(pe, PE_PROTO, "expected an offer, got frame type %u",
		    f->type);
		return -1;
	}
	if (!room(st, cl, f->nfds, pe))
		return -1;
	if (cl->set.n + f->nfds > ENTRYMAXFDS) {
		perr_set(pe, PE_LIMIT, "more than %d fds in one entry",
		    ENTRYMAXFDS);
		return -1;
	}
	if (fdset_take(&cl->set, f, pe) == -1)
		return -1;
	if (f->flags & FF_MORE)
		return 0;
	if (cl->set.n == 0) {
		perr_set(pe, PE_COUNT, "an entry needs at least one fd");
		return -1;
	}
	/* Another client may have taken the name meanwhile. */
	if (entry_find(st, cl->name) != NULL) {
		perr_set(pe, PE_EXIST, "%s: entry exists", cl->name);
		return -1;
	}
	if ((e = entry_add(st, cl->name, &cl->peer, now_ms(), cl->ttl,
	    &cl->set)) == NULL) {
		perr_sys(pe, "malloc");
		return -1;
	}
	/* Acknowledged once it is where a crash does not lose it. */
	if (entry_keep(e, pe) == -1) {
		entry_remove(st, e);
		return -1;
	}
	if (outq_ack(&cl->q, e->set.n, pe) == -1)
		return -1;
	client_send(st, cl, FILL_NONE, CL_REQ);
	return 0;
}

/*
 * Send an entry.  With removal, reserve it: another take of it is told it
 * does not exist until this one's outcome (confirm, client_frame).
 */
static int
req_fetch(struct store *st, int i, struct rbuf *r, struct perr *pe)
{
	struct client *cl = &st->cl[i];
	char asked[32 + 4 * PROTO_NAMEMAX];
	struct entry *e;
	int flags;

	if (fetch_get(r, &flags, cl->name) == -1 ||
	    (flags & ~FETCH_REMOVE) != 0) {
		perr_set(pe, PE_PROTO, "malformed fetch request");
		return -1;
	}
	if ((e = entry_find(st, cl->name)) == NULL ||
	    ((flags & FETCH_REMOVE) && e->taken)) {
		perr_set(pe, PE_NOENT, "%s: no such entry", cl->name);
		return -1;
	}
	if (flags & FETCH_REMOVE) {
		snprintf(asked, sizeof(asked), "retrieve and delete %s",
		    esc(cl->name));
		if (!allowed(st, i, OP_DELETE, asked, pe))
			return -1;
	}
	cl->gen = e->gen;
	cl->nsent = 0;
	if (flags & FETCH_REMOVE) {
		e->taken = 1;
		cl->reserved = 1;
		st->nreserved++;
	}
	client_send(st, cl, FILL_OFFER, flags & FETCH_REMOVE ? CL_CONFIRM :
	    CL_REQ);
	return 0;
}

/*
 * The client has the entry it asked to remove.  It removes nothing yet:
 * only the end of the connection without an F_ERROR says that the fds
 * went where they should (client_frame).
 */
static int
confirm(struct store *st, int i, struct frame *f, struct perr *pe)
{
	struct client *cl = &st->cl[i];
	uint32_t n;

	if (ack_get(f, &n) == -1) {
		if (f->type != F_ERROR)
			perr_set(pe, PE_PROTO, "expected a confirmation, got "
			    "frame type %u", f->type);
		return -1;
	}
	if (n != cl->nsent) {
		perr_set(pe, PE_COUNT, "confirmed %lu fds of %zu; entry kept",
		    (unsigned long)n, cl->nsent);
		return -1;
	}
	cl->state = CL_OUTCOME;
	deadline_in(&cl->until, st->ctl->tms);
	return 0;
}

static int
req_list(struct store *st, int i, struct rbuf *r, struct perr *pe)
{
	struct client *cl = &st->cl[i];

	if (list_get(r) == -1) {
		perr_set(pe, PE_PROTO, "malformed list request");
		return -1;
	}
	cl->name[0] = '\0';	/* before every name */
	cl->liststate = (cl->rflags & FF_STATE) != 0;
	client_send(st, cl, FILL_LIST, CL_REQ);
	return 0;
}

/* Close an entry; one reserved goes too, and its taker removes nothing. */
static int
req_delete(struct store *st, int i, struct rbuf *r, struct perr *pe)
{
	struct client *cl = &st->cl[i];
	struct entry *e;
	size_t n;

	if (delete_get(r, cl->name) == -1) {
		perr_set(pe, PE_PROTO, "malformed delete request");
		return -1;
	}
	if ((e = entry_find(st, cl->name)) == NULL) {
		perr_set(pe, PE_NOENT, "%s: no such entry", cl->name);
		return -1;
	}
	n = e->set.n;
	entry_remove(st, e);
	if (outq_ack(&cl->q, n, pe) == -1)
		return -1;
	client_send(st, cl, FILL_NONE, CL_REQ);
	return 0;
}

static void	handoff_send(struct store *);

/*
 * A successor asks for everything: the client becomes the ctl's
 * successor, served once no entry is reserved (store_run).  Returns 1
 * when the client is no longer ours to serve.
 */
static int
req_take(struct store *st, int i, struct rbuf *r, struct perr *pe)
{
	struct ctl *c = st->ctl;
	struct client *cl = &st->cl[i];
	struct peer p = cl->peer;
	int kind, s = cl->fd;

	if (take_get(r, &kind) == -1) {
		perr_set(pe, PE_PROTO, "malformed take-over request");
		return -1;
	}
	if (kind != HOLD_STORE) {
		perr_set(pe, PE_KIND, "holds named fds, not a connection");
		return -1;
	}
	cl->fd = -1;
	st->since = (cl->rflags & FF_SINCE) != 0;
	client_close(st, i);
	if (ctl_begin(c, s, &p) == 0 && st->nreserved == 0)
		handoff_send(st);
	return 1;
}

/*
 * After its F_ACK, the taker's connection ends: at end of file, with no
 * frame, its program runs and the entry goes; anything else (an F_ERROR,
 * a frame cut short, a reset) and the entry stays.
 */
static void
outcome(struct store *st, int i, int rc, const struct frame *f)
{
	struct client *cl = &st->cl[i];
	struct perr pe;

	if (rc == 0) {
		release(st, cl, 1);
		client_close(st, i);
	} else if (rc == 1 && f->type != F_ERROR) {
		perr_set(&pe, PE_PROTO, "expected the end of the connection, "
		    "got frame type %u; entry kept", f->type);
		client_fail(st, i, &pe);
	} else
		client_close(st, i);
}

/*
 * The requests a client may open with: the right each needs (OP_N: none
 * here, ctl_begin judges a take-over) and what serves it.  A server
 * returns 0 to go on, -1 with pe set, 1 when the client is no longer ours.
 */
static const struct request {
	uint8_t	 type;
	int	 op;
	int	(*serve)(struct store *, int, struct rbuf *, struct perr *);
} requests[] = {
	{ F_TAKE,	OP_N,		req_take },
	{ F_STORE,	OP_STORE,	req_store },
	{ F_FETCH,	OP_RETRIEVE,	req_fetch },
	{ F_LIST,	OP_LIST,	req_list },
	{ F_DELETE,	OP_DELETE,	req_delete },
};
#define NREQUESTS	(sizeof(requests) / sizeof(requests[0]))

/* Serve the request f from client i. */
static int
request(struct store *st, int i, const struct frame *f, struct perr *pe)
{
	const struct request *rq;
	struct rbuf r;

	if (f->nfds > 0) {
		/* Most likely fdsend without -n: say what we are. */
		perr_set(pe, PE_PROTO, "fds on a request: an fdholder store "
		    "(pid %ld) takes fds only as a named entry: fdsend -n NAME",
		    (long)getpid());
		return -1;
	}
	for (rq = requests; rq < requests + NREQUESTS; rq++)
		if (rq->type == f->type)
			break;
	if (rq == requests + NREQUESTS) {
		perr_set(pe, PE_PROTO, "unexpected frame type %u", f->type);
		return -1;
	}
	if (rq->op != OP_N && !allowed(st, i, rq->op, op_name(rq->op), pe))
		return -1;
	rb_init(&r, f->data, f->len);
	st->cl[i].rflags = f->flags;
	return rq->serve(st, i, &r, pe);
}

/* Client i sent something: read it, and serve it once a frame is whole. */
static void
client_frame(struct store *st, int i)
{
	struct client *cl = &st->cl[i];
	struct frame f;
	struct perr pe;
	int rc;

	if ((rc = frame_step(cl->fd, &cl->in, &f, MSG_DONTWAIT, &pe)) ==
	    FRAME_AGAIN) {
		if (deadline_ms(&cl->until) == 0)
			client_timeout(st, i);
		return;
	}
	if (cl->state == CL_OUTCOME) {
		outcome(st, i, rc, &f);
		if (rc == 1)
			frame_free(&f);
		return;
	}
	if (rc <= 0) {
		if (rc == 0 || pe.errnum == ECONNRESET || pe.errnum == EPIPE)
			client_close(st, i);
		else
			client_fail(st, i, &pe);
		return;
	}
	pe.code = PE_NONE;
	pe.msg[0] = '\0';
	if (cl->state == CL_OFFER)
		rc = offer(st, i, &f, &pe);
	else if (cl->state == CL_CONFIRM && f.nfds > 0) {
		perr_set(&pe, PE_PROTO, "fds on a confirmation");
		rc = -1;
	} else if (cl->state == CL_CONFIRM)
		rc = confirm(st, i, &f, &pe);
	else
		rc = request(st, i, &f, &pe);
	frame_free(&f);
	if (rc == 1)
		return;
	if (rc == 0) {
		if (cl->state == CL_SEND)
			client_push(st, i);
		return;
	}
	if (pe.msg[0] == '\0' || pe.errnum == EPIPE ||
	    pe.errnum == ECONNRESET)
		client_close(st, i);
	else
		client_fail(st, i, &pe);
}

/*
 * Do we read client i's requests now?  Not while a successor waits for
 * the reservations to end: what we would start, it would lose.
 */
static int
client_reading(const struct store *st, const struct client *cl)
{
	if (cl->state == CL_SEND)
		return 0;
	return cl->state != CL_REQ || st->ctl->state != CS_ASKING;
}

/*
 * Do we poll client i?  One we do not read while a successor waits is
 * not timed either: the successor's own bound ends the wait.
 */
static int
client_polled(const struct store *st, const struct client *cl)
{
	return cl->state == CL_SEND || client_reading(st, cl);
}

/* What poll said of client i, ev: serve it, or drop it. */
static void
client_event(struct store *st, int i, int ev)
{
	struct client *cl = &st->cl[i];
	struct perr pe;

	if (cl->state == CL_SEND && ev != 0)
		client_push(st, i);
	else if (client_reading(st, cl) && ev) {
		if (offer_room(st, i, &pe))
			client_frame(st, i);
		else
			client_fail(st, i, &pe);
	} else if (ev & (POLLHUP | POLLERR))
		client_close(st, i);	/* gone mid-frame */
	else if (client_polled(st, cl) && deadline_ms(&cl->until) == 0)
		client_timeout(st, i);
}

/*
 * How many slots uid holds.  Root and our own user are not counted: the
 * store is theirs.
 */
static int
uid_slots(const struct store *st, uid_t uid)
{
	int i, n = 0;

	if (uid == 0 || uid == geteuid())
		return 0;
	for (i = 0; i < st->ncl; i++)
		n += st->cl[i].peer.uid == uid;
	return n;
}

/*
 * Take the peers that wait, as many as we have slots for.  ctl_accept
 * has judged their credentials; no other uid than root and ours may hold
 * more than its share of the slots, so that nobody locks the others out.
 */
static void
clients_accept(struct store *st)
{
	struct client *cl;
	struct peer p;
	int s, n;

	while (st->ncl < st->maxcl && (s = ctl_accept(st->ctl, &p)) != -1) {
		if ((n = uid_slots(st, p.uid)) >= UIDSLOTS(st->maxcl)) {
			lwarnx(&st->uidlog, "%s: refused %s: uid %u holds %d "
			    "connections, the most one uid may",
			    st->ctl->ep.addr.str, peer_str(&p),
			    (unsigned)p.uid, n);
			ctl_refuse(s, PE_BUSY, "busy: uid %u holds %d "
			    "connections, the most one uid may",
			    (unsigned)p.uid, n);
			continue;
		}
		cl = &st->cl[st->ncl++];
		memset(cl, 0, sizeof(*cl));
		cl->fd = s;
		cl->peer = p;
		cl->pi = -1;
		client_next(st, cl);
	}
}


/*
 * The successor's F_HANDOFF frames: each carries at most PROTO_MAXFDS
 * fds, the first one our control socket, then the entries' fds in order.
 * A frame's payload: kind, flags, 0, dev, ino as relay.c writes them, a
 * count of records, one record per entry whose first fd rides in this
 * frame (hrec_put: name, uid, gid, its times, its number of fds), then
 * the name of each fd of the frame but the control socket.
 */
struct hframe {
	struct wbuf	 recs;
	struct wbuf	 names;
	unsigned	 nrecs;
	int		 fds[PROTO_MAXFDS];
	int		 nfds;
};

static int
hframe_flush(struct store *st, struct hframe *h, int more, struct perr *pe)
{
	struct ctl *c = st->ctl;
	struct wbuf b = { 0 };
	struct handoff hd = { .kind = HOLD_STORE, .nrecs = h->nrecs };
	int r;

	ctl_path_id(c, &hd.dev, &hd.ino);
	handoff_put(&b, &hd);
	wb_bytes(&b, h->recs.p, h->recs.len);
	wb_bytes(&b, h->names.p, h->names.len);
	if (b.oom || h->recs.oom || h->names.oom) {
		perr_set(pe, PE_SYS, "out of memory");
		r = -1;
	} else
		r = frame_send(c->succ, F_HANDOFF, (more ? FF_MORE : 0) |
		    (st->since ? FF_SINCE : 0), b.p, b.len, h->fds, h->nfds,
		    &c->until, pe);
	wb_free(&b);
	h->recs.len = h->names.len = 0;
	h->nrecs = 0;
	h->nfds = 0;
	return r;
}

static void
handoff_send(struct store *st)
{
	struct ctl *c = st->ctl;
	struct hframe h;
	struct entry *e;
	struct perr pe;
	struct hrec rec;
	int64_t now = now_ms();
	size_t i, j, total = 1;

	memset(&h, 0, sizeof(h));
	h.fds[h.nfds++] = c->ep.lfd;
	for (i = 0; i < st->nentries; i++) {
		e = st->ent[i];
		/* A record rides with its entry's first fd. */
		if (h.nfds == PROTO_MAXFDS && hframe_flush(st, &h, 1, &pe) == -1)
			goto fail;
		strlcpy(rec.name, e->name, sizeof(rec.name));
		rec.uid = e->uid;
		rec.gid = e->gid;
		rec.since = e->since;
		rec.ttl = e->ttl;
		rec.nfds = e->set.n;
		hrec_put(&h.recs, &rec, st->since, now);
		h.nrecs++;
		for (j = 0; j < e->set.n; j++) {
			if (h.nfds == PROTO_MAXFDS &&
			    hframe_flush(st, &h, 1, &pe) == -1)
				goto fail;
			h.fds[h.nfds++] = e->set.fds[j];
			wb_name(&h.names, e->set.names[j]);
			total++;
		}
	}
	if (hframe_flush(st, &h, 0, &pe) == -1)
		goto fail;
	wb_free(&h.recs);
	wb_free(&h.names);
	ctl_sent(c, total);
	return;
fail:
	wb_free(&h.recs);
	wb_free(&h.names);
	ctl_drop(c, pe.errnum == EPIPE || pe.errnum == ECONNRESET ? NULL :
	    &pe);
}

/*
 * Take one F_HANDOFF frame: its records become entries, its fds go to the
 * entry that is filling (*cur, which lacks *want more) and then to the
 * next record's.  The fds are ours once it returns 0.
 */
static int
hframe_take(struct store *st, struct frame *f, int first, struct entry **cur,
    size_t *want, uint64_t *dev, uint64_t *ino, struct perr *pe)
{
	char name[PROTO_NAMEMAX + 1];
	struct fdset empty = { 0 };
	struct entry **recs = NULL;
	struct handoff hd;
	struct hrec rec;
	struct peer p;
	struct rbuf r;
	unsigned nrecs, k;
	size_t *wants = NULL;
	int64_t now = now_ms();
	int i;

	rb_init(&r, f->data, f->len);
	if (handoff_get(&r, &hd) == -1 || hd.kind != HOLD_STORE ||
	    f->nfds < first || hd.nrecs > (unsigned)f->nfds)
		goto bad;
	*dev = hd.dev;
	*ino = hd.ino;
	nrecs = hd.nrecs;
	if (nrecs > 0 && ((recs = calloc(nrecs, sizeof(*recs))) == NULL ||
	    (wants = calloc(nrecs, sizeof(*wants))) == NULL)) {
		perr_sys(pe, "malloc");
		goto fail;
	}
	for (k = 0; k < nrecs; k++) {
		if (hrec_get(&r, &rec, f->flags & FF_SINCE, now) == -1 ||
		    rec.ttl == 0 ||
		    rec.nfds == 0 || rec.nfds > ENTRYMAXFDS ||
		    entry_find(st, rec.name) != NULL)
			goto bad;
		wants[k] = rec.nfds;
		p.uid = rec.uid;
		p.gid = rec.gid;
		if ((recs[k] = entry_add(st, rec.name, &p, rec.since,
		    rec.ttl, &empty)) == NULL) {
			perr_sys(pe, "malloc");
			goto fail;
		}
	}
	if (first) {
		st->ctl->ep.lfd = f->fds[0];
		f->fds[0] = -1;
	}
	for (i = first, k = 0; i < f->nfds; i++) {
		if (*want == 0) {
			/* The next record: an entry whose fds begin here. */
			if (k == nrecs)
				goto bad;
			*cur = recs[k];
			*want = wants[k++];
		}
		rb_name(&r, name);
		if (r.bad)
			goto bad;
		if (fdset_add(&(*cur)->set, f->fds[i], name) == -1) {
			perr_sys(pe, "malloc");
			goto fail;
		}
		f->fds[i] = -1;
		st->nfds++;
		(*want)--;
	}
	if (k != nrecs || r.off != r.len)
		goto bad;
	free(recs);
	free(wants);
	return 0;
bad:
	perr_set(pe, PE_PROTO, "malformed handoff");
fail:
	free(recs);
	free(wants);
	return -1;
}

static void
store_clear(struct store *st)
{
	while (st->nentries > 0)
		entry_remove(st, st->ent[st->nentries - 1]);
	free(st->ent);
	st->ent = NULL;
	st->capentries = 0;
}

/*
 * Receive the holder's store on s.  Returns 1 once it is ours, 0 when the
 * holder went away before handing it over.
 */
static int
takeover(struct store *st, int s)
{
	struct ctl *c = st->ctl;
	struct deadline dl;
	struct entry *cur = NULL;
	struct frame f;
	struct perr pe;
	uint64_t dev = 0, ino = 0, d, n;
	size_t want = 0, total = 0, k;
	int r, first = 1, more;

	deadline_in(&dl, c->tms);
	do {
		if ((r = frame_recv(s, &f, &dl, &pe)) == 0 ||
		    (r == -1 && pe.errnum == ECONNRESET)) {
			if (first) {
				close(s);
				return 0;
			}
			perr_set(&pe, PE_SYS, "holder went away mid-handoff");
			r = -1;
		}
		if (r == -1 && first)
			ctl_foreign(c, &pe);
		if (r == -1)
			goto fail;
		if (f.type == F_ERROR) {
			perr_remote(&pe, &f);
			frame_free(&f);
			goto fail;
		}
		if (f.type != F_HANDOFF) {
			perr_set(&pe, PE_PROTO, "expected a handoff, got "
			    "frame type %u", f.type);
			frame_free(&f);
			goto fail;
		}
		total += f.nfds;
		more = f.flags & FF_MORE;
		r = hframe_take(st, &f, first, &cur, &want, &d, &n, &pe);
		frame_free(&f);
		if (r == -1)
			goto fail;
		if (first) {
			dev = d;
			ino = n;
		}
		first = 0;
	} while (more);
	if (want != 0) {
		perr_set(&pe, PE_PROTO, "malformed handoff: an entry lacks "
		    "%zu fds", want);
		goto fail;
	}
	/* -S: in our fd store before we confirm; what it held goes. */
	if (sds_on()) {
		sds_restore(NULL, NULL);
		for (k = 0; k < st->nentries; k++)
			if (entry_keep(st->ent[k], &pe) == -1) {
				frame_error(s, &pe, NULL);
				goto fail;
			}
	}
	if (ctl_confirm(c, s, total, 0) == -1) {
		/* It kept everything: ours are copies, let them go. */
		store_clear(st);
		close(c->ep.lfd);
		c->ep.lfd = -1;
		exit(EXIT_REFUSED);
	}
	ctl_adopt(c, c->ep.lfd, dev, ino);
	return 1;
fail:
	close(s);
	store_clear(st);
	if (c->ep.lfd != -1)
		close(c->ep.lfd);
	c->ep.lfd = -1;
	errx(exit_for(&pe), "%s: %s", c->ep.addr.str, pe.msg);
}

static int
take(void *arg, int s)
{
	return takeover(arg, s);
}

/* Take over from the store on the control socket, or become the store. */
static void
start(struct store *st)
{
	if (ctl_start(st->ctl, take, st) == 0 && sds_on())
		sds_restore(entry_restored, st);
}

/* Room for what we may hold: every fd, every client, a margin. */
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

void
store_run(struct ctl *c, size_t maxentries, size_t maxfds, int Sflag)
{
	static struct store st;
	struct pollfd pfd[MAXCLIENTS + 2];
	struct client *cl;
	struct perr pe;
	int i, n, pi_l, timeout;

	st.ctl = c;
	st.maxentries = maxentries;
	st.maxfds = maxfds;
	st.maxcl = MAXCLIENTS;
	signal(SIGPIPE, SIG_IGN);
	/* The fds, the clients, one frame of copies (outq_keep) each. */
	fd_room(maxfds + MAXCLIENTS * (PROTO_MAXFDS + 1) + PROTO_MAXFDS + 64);

	if (Sflag && sds_open(c->tms, &pe) == -1)
		errx(EXIT_USAGE, "-S: %s", pe.msg);
	if (sandbox_prepare(Sflag ? SB_STORE_SD : SB_STORE) == -1)
		err(EXIT_SYS, "sandbox");
	start(&st);
	fd_budget(&st);
	notify_ready("store of named fds: %zu entries, %zu fds%s", st.nentries,
	    st.nfds, Sflag ? ", kept in the fd store too" : "");
	fd_nonblock(c->ep.lfd, 1);
	if (sandbox_enter() == -1)
		err(EXIT_SYS, "sandbox");

	for (;;) {
		/* A successor waited for the takes in flight to end. */
		if (c->state == CS_ASKING && st.nreserved == 0)
			handoff_send(&st);
		timeout = expire(&st);
		n = 0;
		pi_l = -1;
		if (c->state != CS_SENT) {
			/* Those who come now wait for the successor. */
			if (st.ncl < st.maxcl && c->state == CS_IDLE &&
			    ctl_accepting(c)) {
				pfd[n].fd = c->ep.lfd;
				pfd[n].events = POLLIN;
				pfd[n].revents = 0;
				pi_l = n++;
			}
			for (i = 0; i < st.ncl; i++) {
				cl = &st.cl[i];
				cl->pi = -1;
				if (!client_polled(&st, cl))
					continue;
				timeout = poll_ms(timeout,
				    deadline_ms(&cl->until));
				pfd[n].fd = cl->fd;
				pfd[n].events = cl->state == CL_SEND ?
				    POLLOUT : POLLIN;
				pfd[n].revents = 0;
				cl->pi = n++;
			}
		}
		n = ctl_pollfds(c, pfd, n, 0);
		timeout = poll_ms(timeout, ctl_timeout(c));
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
