/* ISC license: see LICENSE. */
/*
 * The exit statuses of every tool, in one table.  The man pages' EXIT STATUS
 * sections list the same numbers.  100 and 111 follow skarnet's tools; 126
 * and 127 follow the shell for a program that could not be executed.
 *
 * common/ reports failure by returning -1 (errno, or a struct perr); the
 * few functions that exit instead, for the tools' argument parsing, say so
 * by an e prefix as sbase's do: eaddr_parse, etrust_add, etimeout_parse,
 * epeer_opt, eform_pick; and the command line's own answers by an _exit
 * suffix: usage_exit, missing_exit, version_exit (usage.c).
 */
#ifndef EXITS_H
#define EXITS_H

#define EXIT_OK		0	/* success */
#define EXIT_REFUSED	1	/* the peer refused, or the answer is no */
#define EXIT_NOROUTE	2	/* effif: no route carries the tunnel */
#define EXIT_AMBIGUOUS	3	/* effif: several candidates, none chosen */
#define EXIT_NOIF	4	/* effif: no such interface */
#define EXIT_TIMEOUT	99	/* a -t bound expired */
#define EXIT_USAGE	100	/* bad usage */
#define EXIT_SYS	111	/* a system call failed, or the peer broke */
#define EXIT_NOEXEC	126	/* the program was found but not executed */
#define EXIT_NOTFOUND	127	/* the program was not found */

struct perr;
int	exit_for(const struct perr *);

#endif
