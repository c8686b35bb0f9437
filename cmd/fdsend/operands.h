/* ISC license: see LICENSE. */
#ifndef OPERANDS_H
#define OPERANDS_H

#include <sys/types.h>

#include "offer.h"

/* Fds 0-2 that were closed when we started (stdio_fix put /dev/null). */
extern int closed_std;

void	operands_set(struct fdset *, char **argv, int argc, pid_t pid,
	    int rflag);

#endif
