/* ISC license: see LICENSE. */
/*
 * Fuzz what the tools parse from their command lines: socket addresses
 * (PATH, @abstract, fd:N), fd[=name] operands and -m lists.  The first
 * byte picks the parser; the rest, cut at its first NUL, is the argument.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "fdmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct addr a;
	const char *name;
	char *s;
	int *fds, fd;
	size_t n;

	if (size < 1 || size > 4096)
		return 0;
	if ((s = malloc(size)) == NULL)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	switch (data[0] % 3) {
	case 0:
		(void)addr_parse(&a, s);
		break;
	case 1:
		if (fdspec_parse(s, &fd, &name) == 0 && name != NULL &&
		    strlen(name) > 255)
			abort();	/* a name the protocol cannot carry */
		break;
	case 2:
		fds = NULL;
		if (fdlist_parse(s, &fds, &n) == 0)
			free(fds);
		break;
	}
	free(s);
	return 0;
}
