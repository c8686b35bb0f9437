/* ISC license: see LICENSE. */
#ifndef UTIL_H
#define UTIL_H

#include <stddef.h>

#include "deadline.h"

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

/*
 * macOS's libSystem exports reallocarray only as reallocarray$DARWIN_EXTSN,
 * declared in no public header: there, ours, with the same overflow check.
 * It is compiled everywhere, so that every build checks it.
 */
void	*array_realloc(void *, size_t nmemb, size_t size);
#ifdef __APPLE__
#define reallocarray	array_realloc
#endif

/*
 * A log line that any peer can cause goes out at most once a second
 * (lwarnx); the next one says how many were held back meanwhile.
 */
struct loglimit {
	struct deadline	 next;		/* zero: a line may go now */
	unsigned	 held;
};

/* The package's version, as debian/changelog has it (tests/messages.t). */
#define FDTOOLS_VERSION	"0.1"

void	lwarnx(struct loglimit *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	stdio_fix(void);
int	sig_catch(int, void (*)(int));
void	cpu_defer(int);

#endif
