/* ISC license: see LICENSE. */
#include "deadline.h"
#include "peeropts.h"
#include "usage.h"

/*
 * One of the shared options, ch with its argument arg: taken, 1; not one
 * of them, 0.  -h, a bad -t, -u or -g exit.
 */
int
epeer_opt(struct peeropts *p, int ch, const char *arg)
{
	switch (ch) {
	case 'g':
	case 'u':
		etrust_add(&p->trust, arg, ch == 'g');
		return 1;
	case 'h':
		usage_exit(1);
	case 'r':
		p->rflag = 1;
		return 1;
	case 't':
		p->tms = etimeout_parse(arg);
		return 1;
	}
	return 0;
}
