#ifndef UTIL_H
#define UTIL_H

/*
 * getopt(3) that stops at the first operand, so that a program's own
 * options after it are never taken for ours.  BSD getopt does so already;
 * glibc's permutes unless the option string starts with '+'.
 */
#ifdef __GLIBC__
#define OPTS_STOP	"+"
#else
#define OPTS_STOP	""
#endif

#include "proto.h"

int	exit_for(const struct perr *);
int	sig_catch(int, void (*)(int));

#endif
