/* ISC license: see LICENSE. */
/*
 * The store's operations by name, as -u and -g name them (op:user) and as
 * a refusal names them.
 */
#include <string.h>

#include "fdholder.h"

static const char *op_names[OP_N] = {
	"take", "store", "retrieve", "list", "delete"
};

const char *
op_name(int op)
{
	return op >= 0 && op < OP_N ? op_names[op] : "?";
}

int
op_parse(const char *s)
{
	int op;

	for (op = 0; op < OP_N; op++)
		if (strcmp(s, op_names[op]) == 0)
			return op;
	return -1;
}
