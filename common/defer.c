/* ISC license: see LICENSE. */
/*
 * cpu_defer(): a process that has handed everything over gives way to
 * the one that took it.
 */
#include <sys/types.h>

#ifdef __linux__
#include <sched.h>
#endif

#include "util.h"

/*
 * While on, this process gives way: when woken, it does not preempt the
 * task running on its CPU, and runs when that one sleeps or another CPU
 * is free (Linux's SCHED_BATCH, sched(7); any process may switch between
 * it and the normal policy).  Off puts the normal policy back.  A process
 * of another policy (real-time, idle, batch already) is left as it is.
 * Elsewhere, nothing.
 */
void
cpu_defer(int on)
{
#ifdef __linux__
	static int policy = -1;
	struct sched_param sp = { .sched_priority = 0 };

	if (policy == -1)
		policy = sched_getscheduler(0);
	if (policy != SCHED_OTHER)
		return;
	(void)sched_setscheduler(0, on ? SCHED_BATCH : SCHED_OTHER, &sp);
#else
	(void)on;
#endif
}
