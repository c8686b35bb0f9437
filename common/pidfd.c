/* ISC license: see LICENSE. */
/*
 * Duplicate an fd of another process (pidfd_getfd(2), Linux 5.6), with the
 * rights of ptrace(2) over it.  Elsewhere every call fails with ENOSYS.
 */
#include <sys/types.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pidfd.h"

/* Can this system take another process's fd at all (Linux only)? */
int
pidfd_can(void)
{
#if defined(SYS_pidfd_open) && defined(SYS_pidfd_getfd)
	return 1;
#else
	return 0;
#endif
}

/*
 * The fd of process pid, as a new close-on-exec fd of ours.  *pidfd is the
 * process, opened at the first call (start with -1) and kept for the next.
 * -1 with errno: ESRCH no such process, EBADF no such fd in it, EPERM no
 * ptrace rights, ENOSYS no such call here.
 */
int
pidfd_take(pid_t pid, int fd, int *pidfd)
{
#if defined(SYS_pidfd_open) && defined(SYS_pidfd_getfd)
	if (*pidfd == -1 &&
	    (*pidfd = (int)syscall(SYS_pidfd_open, pid, 0)) == -1)
		return -1;
	return (int)syscall(SYS_pidfd_getfd, *pidfd, fd, 0);
#else
	(void)pid;
	(void)fd;
	(void)pidfd;
	errno = ENOSYS;
	return -1;
#endif
}

/* Why ptrace rights may be missing, for the EPERM message. */
const char *
ptrace_hint(void)
{
	static char buf[160];
	FILE *f;
	int scope = -1;

	if ((f = fopen("/proc/sys/kernel/yama/ptrace_scope", "re")) != NULL) {
		if (fscanf(f, "%d", &scope) != 1)
			scope = -1;
		fclose(f);
	}
	if (scope > 0)
		snprintf(buf, sizeof(buf), "needs ptrace rights over it; "
		    "kernel.yama.ptrace_scope is %d", scope);
	else
		snprintf(buf, sizeof(buf), "needs ptrace rights over it: "
		    "the same user, or CAP_SYS_PTRACE");
	return buf;
}
