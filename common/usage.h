/* ISC license: see LICENSE. */
#ifndef USAGE_H
#define USAGE_H

#include <sys/cdefs.h>

/*
 * What a tool says of itself on its command line: the usage (its man
 * page's SYNOPSIS), -h, --version.  Each of these exits, as its name says.
 */
void	usage_init(const char *const forms[], const char *options);
void	usage_exit(int help) __dead2;
void	missing_exit(const char *what) __dead2;
void	version_exit(int, char *[]);
void	eform_pick(int *form, int ch);

#endif
