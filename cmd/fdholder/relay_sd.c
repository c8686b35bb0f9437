/* ISC license: see LICENSE. */
/* -S: the connection kept in, and taken back from, the service manager's fd store. */
#include <sys/types.h>
#include <sys/ioctl.h>

#include <err.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "exits.h"
#include "fdmap.h"
#include "hold.h"
#include "notify.h"
#include "relay.h"
#include "util.h"

/*
 * -S: the connection (and the pipe with the bytes spliced from it) that the
 * service manager kept for us (LISTEN_FDS, by name), after the whole
 * service restarted.  Returns 1 when there was one.
 */
int
sd_take(struct relay *rl)
{
	struct fdset set = { 0 };
	struct perr pe;
	int avail;

	if (getenv("LISTEN_FDS") == NULL ||
	    listen_take("connection", &set, &pe) == -1)
		return 0;
	if (fd_kind(set.fds[0]) != FK_STREAM)
		errx(EXIT_SYS, "LISTEN_FDS: connection is not a connected "
		    "stream socket");
	rl->conn = set.fds[0];
	fd_nonblock(rl->conn, 1);
	fdset_free(&set);
	if (listen_take("pipe-r,pipe-w", &set, &pe) == 0) {
		if (fd_kind(set.fds[0]) != FK_FIFO ||
		    fd_kind(set.fds[1]) != FK_FIFO)
			errx(EXIT_SYS, "LISTEN_FDS: pipe-r, pipe-w: not a "
			    "pipe");
		rl->pr = set.fds[0];
		rl->pw = set.fds[1];
		fd_nonblock(rl->pr, 1);
		fd_nonblock(rl->pw, 1);
		rl->inpipe = ioctl(rl->pr, FIONREAD, &avail) == 0 ? avail : 0;
#ifdef __linux__
		avail = fcntl(rl->pw, F_GETPIPE_SZ);
		rl->pipecap = avail > 0 ? (size_t)avail : 65536;
#endif
		fdset_free(&set);
	}
	if (listen_take("append", &set, &pe) == 0) {
		if (fd_kind(set.fds[0]) != FK_FILE)
			errx(EXIT_SYS, "LISTEN_FDS: append: not a regular "
			    "file");
		rl->app = set.fds[0];
		fdset_free(&set);
	}
	listen_env_clear();
	return 1;
}

/*
 * systemd takes fds only from the service's main process unless
 * NotifyAccess=all, and answers nothing: say so where it can be seen.
 */
static void
sd_check_main(void)
{
	const char *e, *errstr;
	long long pid;

	if ((e = getenv("SYSTEMD_EXEC_PID")) == NULL)
		return;
	pid = strtonum(e, 1, INT_MAX, &errstr);
	if (errstr == NULL && pid != getpid())
		warnx("-S: not the service's main process (pid %s): unless "
		    "NotifyAccess=all, the service manager keeps nothing", e);
}

/* -S: hand the service manager a copy of the connection and the pipe. */
void
sd_store(struct relay *rl)
{
	struct deadline dl;
	struct perr pe;

	deadline_in(&dl, rl->ctl->tms);
	if ((rl->sd = notify_open(&pe)) == -1)
		errx(EXIT_USAGE, "-S: %s", pe.msg);
	sd_check_main();
	if (notify_send(rl->sd, "FDSTORE=1\nFDNAME=connection", &rl->conn, 1,
	    &dl, &pe) == -1 || (rl->pr != -1 && (notify_send(rl->sd,
	    "FDSTORE=1\nFDNAME=pipe-r", &rl->pr, 1, &dl, &pe) == -1 ||
	    notify_send(rl->sd, "FDSTORE=1\nFDNAME=pipe-w", &rl->pw, 1, &dl,
	    &pe) == -1)) || (rl->app != -1 && notify_send(rl->sd,
	    "FDSTORE=1\nFDNAME=append", &rl->app, 1, &dl, &pe) == -1))
		errx(EXIT_SYS, "-S: %s", pe.msg);
}

/* -S: the connection is over; the service manager lets go of it too. */
void
sd_forget(struct relay *rl)
{
	static const char *names[] = { "connection", "pipe-r", "pipe-w",
	    "append" };
	struct deadline dl;
	struct perr pe;
	char state[64];
	size_t i;

	if (rl->sd == -1)
		return;
	deadline_in(&dl, 1000);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(state, sizeof(state), "FDSTOREREMOVE=1\nFDNAME=%s",
		    names[i]);
		if (notify_send(rl->sd, state, NULL, 0, &dl, &pe) == -1)
			warnx("-S: %s", pe.msg);
	}
}
