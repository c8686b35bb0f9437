/* ISC license: see LICENSE. */
/*
 * The entries that expire, by when: a binary heap whose top is the next
 * to go, each entry knowing its place in it.  The loop asks for the next
 * expiry every round; walking every entry for it cost 47% of the daemon's
 * time with 10,000 held (perf).  Found at once, added or removed in
 * O(log n).  Entries held for ever are not in it.
 */
#include <sys/types.h>

#include <stdlib.h>

#include "hold.h"
#include "store.h"

/* When e expires, ms of CLOCK_MONOTONIC. */
static int64_t
due_at(const struct entry *e)
{
	return e->since + (int64_t)e->ttl * 1000;
}

static void
due_set(struct store *st, size_t i, struct entry *e)
{
	st->due[i] = e;
	e->duei = i;
}

static void
due_up(struct store *st, size_t i)
{
	struct entry *e = st->due[i];
	size_t up;

	for (; i > 0; i = up) {
		up = (i - 1) / 2;
		if (due_at(st->due[up]) <= due_at(e))
			break;
		due_set(st, i, st->due[up]);
	}
	due_set(st, i, e);
}

static void
due_down(struct store *st, size_t i)
{
	struct entry *e = st->due[i];
	size_t c;

	for (; (c = 2 * i + 1) < st->ndue; i = c) {
		if (c + 1 < st->ndue &&
		    due_at(st->due[c + 1]) < due_at(st->due[c]))
			c++;
		if (due_at(e) <= due_at(st->due[c]))
			break;
		due_set(st, i, st->due[c]);
	}
	due_set(st, i, e);
}

/* Add e if it expires; -1 when memory is short. */
int
due_add(struct store *st, struct entry *e)
{
	struct entry **v;
	size_t cap;

	if (e->ttl == HOLD_FOREVER)
		return 0;
	if (st->ndue == st->capdue) {
		cap = st->capdue ? st->capdue * 2 : 16;
		if ((v = reallocarray(st->due, cap, sizeof(*v))) == NULL)
			return -1;
		st->due = v;
		st->capdue = cap;
	}
	due_set(st, st->ndue++, e);
	due_up(st, e->duei);
	return 0;
}

void
due_remove(struct store *st, struct entry *e)
{
	struct entry *last;
	size_t i = e->duei;

	if (e->ttl == HOLD_FOREVER)
		return;
	last = st->due[--st->ndue];
	if (i == st->ndue)
		return;
	/* The last takes e's place, then goes up or down to its own. */
	due_set(st, i, last);
	due_down(st, i);
	due_up(st, last->duei);
}

/* The entry that expires first, or NULL. */
struct entry *
due_next(const struct store *st)
{
	return st->ndue > 0 ? st->due[0] : NULL;
}
