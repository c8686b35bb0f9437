/* ISC license: see LICENSE. */
/*
 * The store's clients' life cycle: accepted within the slots of their uid,
 * polled, read, timed, and each reply queued and pushed out; what each
 * request does is store_request.c's.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"
#include "wire.h"

/*
 * The client lets go of the entry it reserved: it took it (its program
 * runs) and the entry goes, or it did not and the entry is free again.
 */
void
client_release(struct store *st, struct client *cl, int took)
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

	client_release(st, cl, 0);
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
void
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
	struct wentry we;
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
		strlcpy(we.name, e->name, sizeof(we.name));
		we.uid = e->uid;
		we.age = entry_age(e, now);
		we.ttl = entry_ttl(e, now);
		we.nfds = e->set.n;
		we.reserved = cl->liststate ? e->taken : -1;
		entry_put(&b, &we, e->set.fds);
		strlcpy(cl->name, e->name, sizeof(cl->name));
	}
	if (i == st->nentries)
		cl->fill = FILL_NONE;
	if (b.oom) {
		perr_set(pe, PE_SYS, "out of memory");
		r = -1;
	} else
		r = outq_frame(&cl->q, &(struct frout){ .type = F_ENTRIES,
		    .flags = (i < st->nentries ? FF_MORE : 0) |
		    (cl->liststate ? FF_STATE : 0), .data = b.p,
		    .len = b.len }, pe);
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

/*
 * The kernel refused the fds of client i's frame: those our user has sent
 * and nobody has received yet passed its RLIMIT_NOFILE (Linux, but for
 * root).  Say so; the entry stays.
 */
static void
client_inflight(struct store *st, int i)
{
	struct client *cl = &st->cl[i];
	struct rlimit rl;
	struct perr pe;

	outq_withdraw(&cl->q);
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		rl.rlim_cur = 0;
	perr_set(&pe, PE_LIMIT, "fds in flight past RLIMIT_NOFILE %llu of uid "
	    "%u (sent to clients, not yet received): entry %s kept, retry",
	    (unsigned long long)rl.rlim_cur, (unsigned)geteuid(), cl->name);
	client_fail(st, i, &pe);
}

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
			if (pe.errnum == ETOOMANYREFS)
				client_inflight(st, i);
			else
				client_close(st, i);
			return;
		}
		if (r == 0)
			return;
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
void
client_fail(struct store *st, int i, const struct perr *pe)
{
	struct client *cl = &st->cl[i];

	client_release(st, cl, 0);
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

/* Client i sent something: read it, and serve it once a frame is whole. */
static void
client_frame(struct store *st, int i)
{
	struct client *cl = &st->cl[i];
	struct frame f;
	struct perr pe;
	int rc;

	if ((rc = frame_step(cl->fd, &cl->in, &f, &pe)) == FRAME_AGAIN) {
		if (deadline_ms(&cl->until) == 0)
			client_timeout(st, i);
		return;
	}
	if (cl->state == CL_OUTCOME) {
		req_outcome(st, i, rc, &f);
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
		rc = req_offer(st, i, &f, &pe);
	else if (cl->state == CL_CONFIRM && f.nfds > 0) {
		perr_set(&pe, PE_PROTO, "fds on a confirmation");
		rc = -1;
	} else if (cl->state == CL_CONFIRM)
		rc = req_confirm(st, i, &f, &pe);
	else
		rc = req_serve(st, i, &f, &pe);
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
		if (req_room(st, i, &pe))
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
