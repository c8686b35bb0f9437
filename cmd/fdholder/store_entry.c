/* ISC license: see LICENSE. */
/* The store's entries: named sets of fds, sorted by name, and their expiry. */
#include <sys/types.h>

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hold.h"
#include "store.h"

int64_t
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
 * The entries are an array of pointers sorted by name: one found by
 * binary search, listed in order from any name on (a list resumes at a
 * name in O(log n)), and as portable as the language (sys/tree.h is
 * libbsd's on Linux and not public on macOS; tsearch(3) cannot resume
 * after a name).  Adding or removing one moves pointers by memmove, at
 * most -E of them: 1.4% of the daemon's time with 10,000 held (perf),
 * where a red-black tree would cost 24 bytes an entry.  When they expire
 * is store_due.c's.
 */

/* The place of the first entry whose name is not below name. */
size_t
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

struct entry *
entry_find(struct store *st, const char *name)
{
	size_t i = entry_at(st, name);

	if (i < st->nentries && strcmp(st->ent[i]->name, name) == 0)
		return st->ent[i];
	return NULL;
}

/* The entry that client cl is sending, unless deleted or replaced since. */
struct entry *
entry_sent(struct store *st, const struct client *cl)
{
	struct entry *e;

	if ((e = entry_find(st, cl->name)) == NULL || e->gen != cl->gen)
		return NULL;
	return e;
}

/*
 * Close an entry.  A frame of its fds still waiting in a client's queue
 * is withdrawn first, and that client told the entry is gone
 * (fill_offer): holding copies for it instead would cost fds that no
 * budget counts, up to 253 for each client.
 */
void
entry_remove(struct store *st, struct entry *e)
{
	struct client *cl;
	size_t i = entry_at(st, e->name);
	int c;

	for (c = 0; c < st->ncl; c++) {
		cl = &st->cl[c];
		if (cl->q.nfds == 0 || cl->gen != e->gen)
			continue;
		outq_withdraw(&cl->q);
		if (cl->state == CL_SEND && cl->then != CL_GONE)
			cl->fill = FILL_OFFER;
	}

	memmove(&st->ent[i], &st->ent[i + 1],
	    (st->nentries - i - 1) * sizeof(*st->ent));
	st->nentries--;
	st->nfds -= e->set.n;
	due_remove(st, e);
	if (e->sd != NULL)
		sds_remove(e->sd);
	fdset_close(&e->set);
	free(e->sd);
	free(e);
}

/* Add an entry; it takes the fds of set. */
struct entry *
entry_add(struct store *st, const char *name, const struct peer *p,
    int64_t since, uint32_t ttl, struct fdset *set)
{
	struct entry *e, **v;
	size_t i, cap, len = strlen(name) + 1;

	if (st->nentries == st->capentries) {
		cap = st->capentries ? st->capentries * 2 : 16;
		if ((v = reallocarray(st->ent, cap, sizeof(*v))) == NULL)
			return NULL;
		st->ent = v;
		st->capentries = cap;
	}
	if ((e = calloc(1, sizeof(*e) + len)) == NULL)
		return NULL;
	memcpy(e->name, name, len);
	e->uid = p->uid;
	e->gid = p->gid;
	e->since = since;
	e->ttl = ttl;
	e->gen = ++st->gen;
	if (due_add(st, e) == -1) {
		free(e);
		return NULL;
	}
	fdset_trim(set);
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
int
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
	if ((e->sd = strdup(m.sdname)) == NULL) {
		sds_remove(m.sdname);
		perr_sys(pe, "malloc");
		return -1;
	}
	return 0;
}

/* -S: an entry the fd store kept for us, taken back after a restart. */
int
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
	if ((e->sd = strdup(m->sdname)) == NULL) {
		entry_remove(st, e);
		return -1;
	}
	return 0;
}

/*
 * Close what has expired, from the top of the due heap: no walk of the
 * entries.  Returns the ms until the next expiry, or -1.
 */
int
entry_expire(struct store *st)
{
	struct entry *e;
	int64_t now = now_ms(), left = -1;

	while ((e = due_next(st)) != NULL && (left = entry_left(e, now)) == 0)
		entry_remove(st, e);
	if (e == NULL)
		return -1;
	return left > INT_MAX ? INT_MAX : (int)left;
}

/* An entry's age and time left, as F_ENTRIES and F_HANDOFF say them. */
uint32_t
entry_age(const struct entry *e, int64_t now)
{
	return (uint32_t)((now - e->since) / 1000);
}

uint32_t
entry_ttl(const struct entry *e, int64_t now)
{
	int64_t left = entry_left(e, now);

	return left < 0 ? HOLD_FOREVER : (uint32_t)((left + 999) / 1000);
}


void
store_clear(struct store *st)
{
	while (st->nentries > 0)
		entry_remove(st, st->ent[st->nentries - 1]);
	free(st->ent);
	st->ent = NULL;
	st->capentries = 0;
	free(st->due);
	st->due = NULL;
	st->capdue = 0;
}
