/* ISC license: see LICENSE. */
/*
 * effif: the system layer's last failure, as err(3) would have said it.
 * The layer returns; main decides whether it ends the program (once) or
 * the round (in watch mode).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "effif.h"

static char errbuf[320];

int
sys_fail(int e, const char *fmt, ...)
{
	va_list ap;
	size_t len;

	va_start(ap, fmt);
	vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
	va_end(ap);
	len = strlen(errbuf);
	if (e != 0)
		snprintf(errbuf + len, sizeof(errbuf) - len, "%s%s",
		    len > 0 ? ": " : "", strerror(e));
	return -1;
}

const char *
sys_error(void)
{
	return errbuf;
}
