/* ISC license: see LICENSE. */
/*
 * no_new_privs(), apart from sandbox.c so that a tool that wants only this
 * does not link libseccomp.
 */
#include <sys/types.h>

#ifdef __linux__
#include <sys/prctl.h>
#endif
#if defined(__FreeBSD__)
#include <sys/procctl.h>
#endif

#include "sandbox.h"

/* Later exec(2)s gain no privileges: set-user-ID bits and file
 * capabilities do nothing. */
int
no_new_privs(void)
{
#if defined(__linux__)
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
#elif defined(__FreeBSD__) && defined(PROC_NO_NEW_PRIVS_CTL)
	int on = PROC_NO_NEW_PRIVS_ENABLE;

	return procctl(P_PID, 0, PROC_NO_NEW_PRIVS_CTL, &on);
#else
	return 0;
#endif
}
