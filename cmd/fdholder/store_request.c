/* ISC license: see LICENSE. */
/*
 * The store's requests: store, fetch, list, delete and take, each served
 * from the table in req_serve, and the offer and confirmation that follow
 * a store and a fetch.  The client's life cycle is store_client.c's.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "esc.h"
#include "hold.h"
#include "store.h"

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
int
req_room(struct store *st, int i, struct perr *pe)
{
	struct client *cl = &st->cl[i];
	unsigned char b[PROTO_HDRLEN];
	size_t got = cl->in.got;
	struct hdr h;

	/* The header's bytes so far are the decoder's, the rest still the
	 * kernel's; once fds came, req_offer() judges them. */
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
int
req_offer(struct store *st, int i, struct frame *f, struct perr *pe)
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
 * does not exist until this one's outcome (req_confirm, client_frame).
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
	/* The right first: one not allowed learns nothing of the name. */
	if (flags & FETCH_REMOVE) {
		snprintf(asked, sizeof(asked), "retrieve and delete %s",
		    esc(cl->name));
		if (!allowed(st, i, OP_DELETE, asked, pe))
			return -1;
	}
	if ((e = entry_find(st, cl->name)) == NULL ||
	    ((flags & FETCH_REMOVE) && e->taken)) {
		perr_set(pe, PE_NOENT, "%s: no such entry", cl->name);
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
int
req_confirm(struct store *st, int i, struct frame *f, struct perr *pe)
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
void
req_outcome(struct store *st, int i, int rc, const struct frame *f)
{
	struct client *cl = &st->cl[i];
	struct perr pe;

	if (rc == 0) {
		client_release(st, cl, 1);
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
int
req_serve(struct store *st, int i, const struct frame *f, struct perr *pe)
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
