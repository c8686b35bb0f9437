/* ISC license: see LICENSE. */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exits.h"
#include "usage.h"
#include "util.h"

/*
 * The tool's forms and options, set once at the start of main as its name
 * is: any check of the command line may then end in the usage.
 */
static const char *const *forms;
static const char *options;

/* forms: the SYNOPSIS lines without the name, NULL-terminated. */
void
usage_init(const char *const f[], const char *o)
{
	forms = f;
	options = o;
}

/* -h: the usage and the options on standard output, exit 0; bad usage:
 * the usage on standard error. */
void
usage_exit(int help)
{
	FILE *fp = help ? stdout : stderr;
	size_t i;

	for (i = 0; forms != NULL && forms[i] != NULL; i++)
		fprintf(fp, "%s %s %s\n", i == 0 ? "usage:" : "      ",
		    getprogname(), forms[i]);
	if (help)
		fputs(options, stdout);
	exit(help ? EXIT_OK : EXIT_USAGE);
}

/* Bad usage that is only something left out: named, then the usage. */
void
missing_exit(const char *what)
{
	warnx("missing %s", what);
	usage_exit(0);
}

/*
 * Options that each pick a form of the command (as -n and -S do) exclude
 * each other: option ch picks it, unless another did (*form, 0: none
 * yet), which is named, as nc does, and we exit.
 */
void
eform_pick(int *form, int ch)
{
	if (*form != 0 && *form != ch)
		errx(EXIT_USAGE, "cannot use -%c with -%c", ch, *form);
	*form = ch;
}

/*
 * --version, as the first argument: the tool's name and the package's
 * version on standard output, and success.  Only there, so that an
 * operand or a program's argument spelled so is never taken.
 */
void
version_exit(int argc, char *argv[])
{
	if (argc < 2 || strcmp(argv[1], "--version") != 0)
		return;
	printf("%s (fdtools) %s\n", getprogname(), FDTOOLS_VERSION);
	exit(fflush(stdout) == 0 && !ferror(stdout) ? EXIT_OK : EXIT_SYS);
}
