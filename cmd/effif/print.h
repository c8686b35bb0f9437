/* ISC license: see LICENSE. */
#ifndef PRINT_H
#define PRINT_H

#include "effif.h"

/* The command line, as main reads it and the output follows it. */
struct opts {
	int		 aflag;
	int		 fflag4;	/* -4 */
	int		 fflag6;	/* -6 */
	int		 jflag;
	int		 Iflag;
	int		 vflag;
	int		 wflag;
	const char	*peer;		/* -P, as typed */
	int		 several;	/* iface<TAB>effective */
	int		 npass;
	int		 pass[2];	/* the families asked, one output each */
};

const char	*family_name(int);
char		*render(const struct answer *, const char *name, int pass,
		    const struct opts *);

#endif
