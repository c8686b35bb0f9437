/* ISC license: see LICENSE. */
/* The store's clients: each request read as it comes, each reply queued. */
#include <sys/types.h>
#include <sys/socket.h>

#include <err.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "esc.h"
#include "hold.h"
#include "store.h"

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

void
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

void
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
int
client_polled(const struct store *st, const struct client *cl)
{
	return cl->state == CL_SEND || client_reading(st, cl);
}

/* What poll said of client i, ev: serve it, or drop it. */
void
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
void
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
