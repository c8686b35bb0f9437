#include <err.h>
#include <stddef.h>

#include "exits.h"
#include "fdholder.h"

void
store_run(struct ctl *c, size_t maxentries, size_t maxfds)
{
	(void)c; (void)maxentries; (void)maxfds;
	errx(EXIT_USAGE, "not yet");
}
