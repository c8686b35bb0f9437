/* ISC license: see LICENSE. */
/*
 * fdrecv's delivery of a set received: exec prog on it, its fds placed,
 * or copy its one fd to standard output.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "copy.h"
#include "deliver.h"
#include "exits.h"
#include "fdmap.h"
#include "proto.h"

/* Where prog_check() found the program, for run(): "" when not searched. */
static char prog_path[PATH_MAX];

/*
 * Would execvp(3) run prog?  Asked before we confirm, not after: 0, or -1
 * with pe saying why (errnum ENOENT: not found; EACCES: not executable).
 * The file found is the one run() executes: PATH is walked once.
 */
int
prog_check(const char *prog, struct perr *pe)
{
	char *path = prog_path, *dirs, *p, *dir;
	struct stat st;
	int e = ENOENT;

	if (strchr(prog, '/') != NULL) {
		if (access(prog, X_OK) == 0)
			return 0;
		e = errno;
	} else {
		if ((p = getenv("PATH")) == NULL)
			p = "/usr/bin:/bin";
		if ((dirs = p = strdup(p)) == NULL)
			return 0;
		while ((dir = strsep(&p, ":")) != NULL) {
			if (snprintf(path, sizeof(prog_path), "%s/%s",
			    *dir ? dir : ".", prog) >= (int)sizeof(prog_path) ||
			    stat(path, &st) == -1 || S_ISDIR(st.st_mode))
				continue;
			if (access(path, X_OK) == 0) {
				free(dirs);
				return 0;
			}
			e = EACCES;
		}
		free(dirs);
		prog_path[0] = '\0';
	}
	perr_set(pe, PE_EXEC, "%s: %s", prog, e == ENOENT ?
	    "command not found" : strerror(e));
	pe->errnum = e;
	return -1;
}

/*
 * Does the set fit what we do with it?  One fd to copy, as many as -m
 * names, any number for socket activation.
 */
int
set_fits(const struct fdset *set, const struct job *j, struct perr *pe)
{
	int hasprog = j->argv[0] != NULL;
	size_t want = hasprog ? j->nmap : 1;

	if ((!hasprog || j->nmap > 0) && set->n != want) {
		perr_set(pe, PE_COUNT, "expected %zu fd%s, got %zu", want,
		    want == 1 ? "" : "s", set->n);
		return 0;
	}
	return 1;
}

/*
 * Placing the fds or executing prog failed after we confirmed: tell the
 * peer that waits on conn for the exec (-1: none), then exit as err(3)
 * would.
 */
static void __dead2
run_fail(int conn, const struct deadline *dl, int code, int status,
    const char *what)
{
	struct perr pe;
	int e = errno;

	perr_set(&pe, code, "%s: %s", what, strerror(e));
	pe.errnum = e;
	if (conn != -1)
		frame_error(conn, &pe, dl);
	errno = e;
	err(status, "%s", what);
}

/*
 * A target that the limit on open files does not reach is said as such
 * (dup2 would say EBADF), to the peer that waits on conn too.
 */
static void
targets_fit(int conn, const struct deadline *dl, int highest)
{
	struct rlimit rl;
	struct perr pe;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 ||
	    rl.rlim_cur == RLIM_INFINITY || (rlim_t)highest < rl.rlim_cur)
		return;
	perr_set(&pe, PE_SYS, "place fds: fd %d is not below the limit of "
	    "%llu open files (RLIMIT_NOFILE)", highest,
	    (unsigned long long)rl.rlim_cur);
	if (conn != -1)
		frame_error(conn, &pe, dl);
	errx(EXIT_SYS, "%s", pe.msg);
}

/*
 * Place the set and exec prog.  conn, the peer's connection, stays open
 * until the exec closes it (it is close-on-exec): its end of file tells
 * the peer that prog runs.  Placing moves it off the targets.
 */
static void __dead2
run(const struct job *j, struct fdset *set, int conn,
    const struct deadline *dl)
{
	char what[PATH_MAX + 8];
	int *dst, r, highest = 2 + (j->nmap > 0 ? 0 : (int)set->n);
	size_t i;

	for (i = 0; i < j->nmap; i++)
		if (j->map[i] > highest)
			highest = j->map[i];
	targets_fit(conn, dl, highest);
	if (j->nmap > 0) {
		dst = j->map;
		listen_env_clear();
	} else {
		if ((dst = calloc(set->n ? set->n : 1, sizeof(int))) == NULL)
			run_fail(conn, dl, PE_SYS, EXIT_SYS, "calloc");
		for (i = 0; i < set->n; i++)
			dst[i] = 3 + (int)i;
		if (listen_env(set) == -1) {
			free(dst);
			run_fail(conn, dl, PE_SYS, EXIT_SYS, "setenv");
		}
	}
	/* Received where prog takes them (fd_lift): nothing to move. */
	r = j->received && j->nmap == 0 && fdset_in_place(set) ? 0 :
	    fd_place(set->fds, dst, set->n, &conn);
	if (dst != j->map)
		free(dst);
	if (r == -1)
		run_fail(conn, dl, PE_SYS, EXIT_SYS, "place fds");
	nofile_restore(&j->nofile, highest);
	/* As execvp(3) would, without a second walk of PATH; a script
	 * without #! (ENOEXEC) is left to execvp, which runs it by sh. */
	if (prog_path[0] == '\0' || (execv(prog_path, j->argv) == -1 &&
	    errno == ENOEXEC))
		execvp(j->argv[0], j->argv);
	snprintf(what, sizeof(what), "exec %s", j->argv[0]);
	run_fail(conn, dl, PE_EXEC, errno == ENOENT ? EXIT_NOTFOUND :
	    EXIT_NOEXEC, what);
}

/*
 * Run prog on the set, or copy its one fd to stdout.  conn, if not -1, is
 * the peer that waits for the exec: closed at once when there is nothing
 * to exec.
 */
int
deliver(struct job *j, struct fdset *set, int conn,
    const struct deadline *dl)
{
	int side;

	if (j->argv[0] != NULL)
		run(j, set, conn, dl);
	if (conn != -1)
		close(conn);
	if (fd_copy(set->fds[0], STDOUT_FILENO, &side) == -1)
		err(EXIT_SYS, "%s", side == 0 ? "read received fd" :
		    side == 1 ? "write standard output" : "copy");
	fdset_close(set);
	free(j->map);
	return EXIT_OK;
}
