/* ISC license: see LICENSE. */
/* The store handed whole to a successor, and taken whole from a holder. */
#include <sys/types.h>

#include <err.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exits.h"
#include "hold.h"
#include "store.h"

/*
 * The successor's F_HANDOFF frames: each carries at most PROTO_MAXFDS
 * fds, the first one our control socket, then the entries' fds in order.
 * A frame's payload: kind, flags, 0, dev, ino as relay_handoff.c writes
 * them, a count of records, one record per entry whose first fd rides in
 * this frame (hrec_put: name, uid, gid, its times, its number of fds), then
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
		r = frame_send(c->succ, &(struct frout){ F_HANDOFF,
		    (more ? FF_MORE : 0) | (st->since ? FF_SINCE : 0), b.p,
		    b.len, h->fds, h->nfds }, &c->until, pe);
	wb_free(&b);
	h->recs.len = h->names.len = 0;
	h->nrecs = 0;
	h->nfds = 0;
	return r;
}

void
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

/* Where a takeover is, from one F_HANDOFF frame to the next. */
struct htake {
	int		 first;		/* the next frame is the first */
	struct entry	*cur;		/* the entry that is filling */
	size_t		 want;		/* the fds it lacks */
	size_t		 total;		/* fds taken, for the F_ACK */
	uint64_t	 dev, ino;	/* of the control socket's path */
};

/*
 * Take one F_HANDOFF frame: its records become entries, its fds go to the
 * entry that is filling (t->cur, which lacks t->want more) and then to the
 * next record's.  The fds are ours once it returns 0.
 */
static int
hframe_take(struct store *st, struct frame *f, struct htake *t,
    struct perr *pe)
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
	    f->nfds < t->first || hd.nrecs > (unsigned)f->nfds)
		goto bad;
	if (t->first) {
		t->dev = hd.dev;
		t->ino = hd.ino;
	}
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
	if (t->first) {
		st->ctl->ep.lfd = f->fds[0];
		f->fds[0] = -1;
	}
	for (i = t->first, k = 0; i < f->nfds; i++) {
		if (t->want == 0) {
			/* The next record: an entry whose fds begin here. */
			if (k == nrecs)
				goto bad;
			t->cur = recs[k];
			t->want = wants[k++];
		}
		rb_name(&r, name);
		if (r.bad)
			goto bad;
		if (fdset_add(&t->cur->set, f->fds[i], name) == -1) {
			perr_sys(pe, "malloc");
			goto fail;
		}
		f->fds[i] = -1;
		st->nfds++;
		t->want--;
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

/*
 * Receive and take the next F_HANDOFF frame.  Returns 1 if more follow,
 * 0 after the last, -1 on an error (pe), -2 when the holder went away
 * before it sent anything.
 */
static int
hframe_next(struct store *st, int s, const struct deadline *dl,
    struct htake *t, struct perr *pe)
{
	struct frame f;
	int r, more;

	if ((r = frame_recv(s, &f, dl, pe)) == 0 ||
	    (r == -1 && pe->errnum == ECONNRESET)) {
		if (t->first)
			return -2;
		perr_set(pe, PE_SYS, "holder went away mid-handoff");
		return -1;
	}
	if (r == -1 && t->first)
		ctl_foreign(st->ctl, pe);
	if (r == -1)
		return -1;
	more = f.flags & FF_MORE;
	if (f.type == F_ERROR)
		perr_remote(pe, &f);
	else if (f.type != F_HANDOFF)
		perr_set(pe, PE_PROTO, "expected a handoff, got frame type %u",
		    f.type);
	else {
		t->total += f.nfds;
		r = hframe_take(st, &f, t, pe);
		t->first = 0;
	}
	frame_free(&f);
	if (f.type != F_HANDOFF || r == -1)
		return -1;
	return more ? 1 : 0;
}

/* -S: in our fd store before we confirm; what it held goes. */
static int
keep_all(struct store *st, struct perr *pe)
{
	size_t k;

	if (!sds_on())
		return 0;
	sds_restore(NULL, NULL);
	for (k = 0; k < st->nentries; k++)
		if (entry_keep(st->ent[k], pe) == -1)
			return -1;
	return 0;
}

/*
 * Receive the holder's store on s.  Returns 1 once it is ours, 0 when the
 * holder went away before handing it over.
 */
static int
takeover(struct store *st, int s)
{
	struct ctl *c = st->ctl;
	struct htake t = { .first = 1 };
	struct deadline dl;
	struct perr pe;
	int r;

	deadline_in(&dl, c->tms);
	while ((r = hframe_next(st, s, &dl, &t, &pe)) == 1)
		;
	if (r == -2) {
		close(s);
		return 0;
	}
	if (r == 0 && t.want != 0) {
		perr_set(&pe, PE_PROTO, "malformed handoff: an entry lacks "
		    "%zu fds", t.want);
		r = -1;
	}
	if (r == 0 && keep_all(st, &pe) == -1) {
		frame_error(s, &pe, NULL);
		r = -1;
	}
	if (r == -1) {
		close(s);
		store_clear(st);
		if (c->ep.lfd != -1)
			close(c->ep.lfd);
		c->ep.lfd = -1;
		errx(exit_for(&pe), "%s: %s", c->ep.addr.str, pe.msg);
	}
	if (ctl_confirm(c, s, t.total, 0) == -1) {
		/* It kept everything: ours are copies, let them go. */
		store_clear(st);
		close(c->ep.lfd);
		c->ep.lfd = -1;
		exit(EXIT_REFUSED);
	}
	ctl_adopt(c, c->ep.lfd, t.dev, t.ino);
	return 1;
}

static int
take(void *arg, int s)
{
	return takeover(arg, s);
}

/* Take over from the store on the control socket, or become the store. */
void
store_start(struct store *st)
{
	if (ctl_start(st->ctl, take, st) == 0 && sds_on())
		sds_restore(entry_restored, st);
}
