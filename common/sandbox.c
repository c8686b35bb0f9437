/* ISC license: see LICENSE. */
/*
 * sandbox(): see sandbox.h.  On Linux the filters are those that
 * common/gen/sbgen.c built with libseccomp when the tools were built
 * (sbfilters.h); elsewhere sandbox() is no_new_privs() (nnp.c) alone.
 */
#include <sys/types.h>

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __linux__
#include <sys/prctl.h>

#include <linux/filter.h>
#include <linux/seccomp.h>
#endif

#include "sandbox.h"

#ifndef __has_feature
#define __has_feature(x) 0
#endif
/*
 * LeakSanitizer stops the world at exit with clone, ptrace and /proc,
 * which no filter of ours should allow: an ASan build (a test build) has
 * no_new_privs() only.  The plain build is the one that ships.
 */
#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
#define SB_ASAN 1
#endif

#if defined(__linux__) && !defined(SB_ASAN)
/* One of the filters sbgen made. */
struct sb_filter {
	unsigned			 what;
	unsigned short			 len;
	const struct sock_filter	*insns;
};

#include "sbfilters.h"

/* The filter that sandbox_prepare() chose, for sandbox_enter(). */
static struct sock_fprog prog;
#endif

/*
 * Choose the filter for what (one of SB_FILTERS), without installing it,
 * so that a tool learns before it touches anything whether it can confine
 * itself.  Returns 0, or -1 with errno set: EINVAL for a set of calls no
 * filter was built for.
 */
int
sandbox_prepare(unsigned what)
{
#if defined(__linux__) && !defined(SB_ASAN)
	size_t i;

	for (i = 0; i < sizeof(sb_filters) / sizeof(sb_filters[0]); i++)
		if (sb_filters[i].what == what) {
			prog.len = sb_filters[i].len;
			/* The kernel copies it: it is never written. */
			prog.filter = (struct sock_filter *)(uintptr_t)
			    sb_filters[i].insns;
			return 0;
		}
	errno = EINVAL;
	return -1;
#else
	(void)what;
	return 0;
#endif
}

/*
 * From now on, only the system calls of the filter sandbox_prepare()
 * chose: one prctl(2).  Returns 0, or -1 with errno set; a process that
 * cannot sandbox itself should say so and stop, rather than run
 * unconfined believing it is not.
 */
int
sandbox_enter(void)
{
	if (no_new_privs() == -1)
		return -1;
#if defined(__linux__) && !defined(SB_ASAN)
	if (prog.filter == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == -1)
		return -1;
	prog.filter = NULL;
#endif
	return 0;
}

/* sandbox_prepare(what), then sandbox_enter(). */
int
sandbox(unsigned what)
{
	if (sandbox_prepare(what) == -1)
		return -1;
	return sandbox_enter();
}
