/* ISC license: see LICENSE. */
#include <errno.h>

#include "exits.h"
#include "perr.h"

/* The exit status that says what went wrong to a script. */
int
exit_for(const struct perr *pe)
{
	if (pe->code == PE_SYS)
		return pe->errnum == ETIMEDOUT ? EXIT_TIMEOUT : EXIT_SYS;
	if (pe->code == PE_PROTO || pe->code == PE_VERSION ||
	    pe->code == PE_TRUNC)
		return EXIT_SYS;
	return EXIT_REFUSED;
}
