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
void
store_start(struct store *st)
{
	if (ctl_start(st->ctl, take, st) == 0 && sds_on())
		sds_restore(entry_restored, st);
}
