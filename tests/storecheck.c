/* ISC license: see LICENSE. */
/*
 * storecheck N ROUNDS: the store's entries (cmd/fdholder/store_entry.c)
 * without a daemon.  N entries, a quarter held for ever, a quarter
 * expired already, the rest expiring in an hour or more; every third is
 * deleted by name.  The first expiry closes exactly the expired ones and
 * says when the next is due; then ROUNDS more rounds of the loop's
 * expiry, with nothing due, in idle_rounds() (for valgrind's
 * --toggle-collect: what a round costs with N entries held).  Prints
 * "ok" and exits 0, or says what is wrong and exits 1.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>

#include "hold.h"
#include "store.h"

static struct store st;

static uint32_t
ttl_of(int i, int n)
{
	switch (i % 4) {
	case 0:
		return HOLD_FOREVER;
	case 2:
		return 5;		/* and stored 10 s ago: expired */
	default:
		return 3600 + (uint32_t)((i * 7919L) % n);
	}
}

/* Rounds of the loop with nothing to expire: what walking would cost. */
static int __attribute__((noinline))
idle_rounds(int rounds)
{
	int i, left = 0;

	for (i = 0; i < rounds; i++)
		left = entry_expire(&st);
	return left;
}

int
main(int argc, char *argv[])
{
	struct fdset set = { 0 };
	struct peer p = { 0 };
	struct entry *e;
	char name[32];
	int64_t now = now_ms(), soonest = -1;
	size_t want = 0;
	int i, n, rounds, left;

	if (argc != 3)
		return 100;
	n = atoi(argv[1]);
	rounds = atoi(argv[2]);
	st.maxentries = st.maxfds = n;
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "e%d", i);
		if (entry_add(&st, name, &p, i % 4 == 2 ? now - 10000 : now,
		    ttl_of(i, n), &set) == NULL)
			return 111;
	}
	for (i = 0; i < n; i += 3) {
		snprintf(name, sizeof(name), "e%d", i);
		if ((e = entry_find(&st, name)) == NULL) {
			printf("e%d not found\n", i);
			return 1;
		}
		entry_remove(&st, e);
	}
	for (i = 0; i < n; i++) {
		if (i % 3 == 0 || i % 4 == 2)
			continue;
		want++;
		if (i % 4 != 0 && (soonest == -1 ||
		    ttl_of(i, n) * 1000LL < soonest))
			soonest = ttl_of(i, n) * 1000LL;
	}
	left = entry_expire(&st);
	if (st.nentries != want) {
		printf("%zu entries left, want %zu\n", st.nentries, want);
		return 1;
	}
	/* Due in soonest ms from now, less what ran since. */
	if (left > soonest || left < soonest - 5000) {
		printf("next expiry in %d ms, want %lld\n", left,
		    (long long)soonest);
		return 1;
	}
	idle_rounds(rounds);
	if (st.nentries != want) {
		printf("idle rounds closed entries\n");
		return 1;
	}
	store_clear(&st);
	printf("ok\n");
	return 0;
}
