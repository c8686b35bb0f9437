/* ISC license: see LICENSE. */
#ifndef PIDFD_H
#define PIDFD_H

#include <sys/types.h>

int	pidfd_can(void);
int	pidfd_take(pid_t, int fd, int *pidfd);
const char *ptrace_hint(void);

#endif
