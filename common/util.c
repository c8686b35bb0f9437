/* ISC license: see LICENSE. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exits.h"
#include "proto.h"
#include "util.h"

/*
 * Catch sig with fn, unless it was ignored when we started: a shell starts
 * the background jobs of a script with SIGINT and SIGQUIT ignored, and
 * what was ignored stays ignored, as sh(1) expects of its commands (and
 * as a program we exec inherits it).  Returns 0, or -1 with errno set.
 */
int
sig_catch(int sig, void (*fn)(int))
{
	struct sigaction sa, old;

	if (sigaction(sig, NULL, &old) == -1)
		return -1;
	if (old.sa_handler == SIG_IGN)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sigemptyset(&sa.sa_mask);
	return sigaction(sig, &sa, NULL);
}

/* realloc for nmemb elements of size bytes, or ENOMEM if that overflows. */
void *
array_realloc(void *p, size_t nmemb, size_t size)
{
	if (size != 0 && nmemb > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, nmemb * size);
}
