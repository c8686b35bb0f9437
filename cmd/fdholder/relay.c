/* ISC license: see LICENSE. */
/*
 * fdholder host port: hold a TCP connection and copy it to standard output
 * (and, with -i, standard input to it), handing it over to a successor.
 *
 * On Linux the bytes move from the socket into a pipe and from the pipe to
 * standard output with splice(2); what sits in the pipe at a handoff moves
 * as the pipe itself.  Bytes in user memory (read from the pipe where
 * standard output takes no splice, or read from the socket where there is
 * no splice at all) go in the F_HANDOFF payload, and are written before
 * those in the pipe.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exits.h"
#include "migrate.h"
#include "notify.h"
#include "relay.h"
#include "sandbox.h"
#include "util.h"

#define BUFSZ		65536

static struct relay *exit_rl;

/* The last holder puts back the flags of the files it shares. */
static void
relay_atexit(void)
{
	if (exit_rl == NULL)
		return;
	if (exit_rl->outfl != -1)
		fcntl(exit_rl->out, F_SETFL, exit_rl->outfl);
	if (exit_rl->infl != -1)
		fcntl(exit_rl->infd, F_SETFL, exit_rl->infl);
}


/*
 * Standard input and output must never block us (a full pipe would keep us
 * from answering a successor), but their open file descriptions are shared
 * with the shell and every other process started from it: O_NONBLOCK set
 * on a terminal there makes the next program's writes fail with EAGAIN.
 * So we get a description of our own: on Linux, opening /proc/self/fd/N
 * opens the terminal, pipe or FIFO anew.  A regular file needs no
 * O_NONBLOCK; a socket is read and written with MSG_DONTWAIT.  Where
 * neither works (macOS has no such reopening), O_NONBLOCK is set and put
 * back when we exit (relay_atexit), as before.  Returns the fd to use;
 * *fl is the flags to restore, or -1.
 */
static int
own_open(int fd, int wr, int *sock, int *fl, const char *what)
{
	struct stat st;
	int f;

	*fl = -1;
	*sock = 0;
	if (fstat(fd, &st) == -1 || (f = fcntl(fd, F_GETFL)) == -1)
		err(EXIT_SYS, "%s", what);
	if (S_ISREG(st.st_mode) || (f & O_NONBLOCK))
		return fd;
	if (S_ISSOCK(st.st_mode)) {
		*sock = 1;
		return fd;
	}
#ifdef __linux__
	{
		char path[32];
		int nfd;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if ((nfd = open(path, (wr ? O_WRONLY : O_RDONLY) | O_NONBLOCK |
		    O_NOCTTY | O_CLOEXEC)) != -1)
			return nfd;
		if (errno == ENXIO && wr)
			errx(EXIT_SYS, "%s: a pipe with no reader", what);
	}
#else
	(void)wr;
#endif
	if (fcntl(fd, F_SETFL, f | O_NONBLOCK) == -1)
		err(EXIT_SYS, "%s", what);
	*fl = f;
	return fd;
}

/*
 * Before anything is asked of a holder (or of the server): can we write
 * where we will write, and read what we will read?  A successor that finds
 * out at its first write has already taken the connection from a holder
 * that could have gone on.  What is known now: the fd's mode, a pipe or
 * socket without a reader, a file system with no free block.  A disk that
 * fills later is fdproto(7)'s business.
 */
static void
stdio_check(int iflag)
{
	struct pollfd pfd;
	struct statvfs sv;
	struct stat st;
	int fl;

	if ((fl = fcntl(STDOUT_FILENO, F_GETFL)) == -1 ||
	    fstat(STDOUT_FILENO, &st) == -1)
		err(EXIT_SYS, "standard output");
	if ((fl & O_ACCMODE) == O_RDONLY)
		errx(EXIT_SYS, "standard output: open for reading only");
	pfd.fd = STDOUT_FILENO;
	pfd.events = POLLOUT;
	if ((S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) &&
	    poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLERR | POLLHUP)))
		errx(EXIT_SYS, "standard output: a %s with no reader",
		    S_ISFIFO(st.st_mode) ? "pipe" : "socket");
	if (S_ISREG(st.st_mode) && fstatvfs(STDOUT_FILENO, &sv) == 0 &&
	    (geteuid() == 0 ? sv.f_bfree : sv.f_bavail) == 0)
		errx(EXIT_SYS, "standard output: no space left on its file "
		    "system");
	if (!iflag)
		return;
	if ((fl = fcntl(STDIN_FILENO, F_GETFL)) == -1)
		err(EXIT_SYS, "standard input");
	if ((fl & O_ACCMODE) == O_WRONLY)
		errx(EXIT_SYS, "standard input: open for writing only");
}

/*
 * Resolve host port before asking a holder to stop: a successor checks the
 * connection it is handed against the addresses, a new holder connects to
 * them.  A name that does not resolve is an error only where it is needed
 * (-S may take its connection from the service manager without it).
 */
static void
resolve(struct relay *rl)
{
	struct addrinfo hints;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rl->gai = getaddrinfo(rl->host, rl->port, &hints, &rl->res);
}

const struct addrinfo *
eresolved(const struct relay *rl)
{
	if (rl->gai != 0)
		errx(EXIT_SYS, "%s port %s: %s", rl->host, rl->port,
		    gai_strerror(rl->gai));
	return rl->res;
}

/* Connect to host port, each address in turn, within the deadline. */
static int
tcp_connect(const struct relay *rl, const struct deadline *dl)
{
	const struct addrinfo *ai;
	const char *host = rl->host, *port = rl->port;
	int s = -1, e = 0;

	for (ai = eresolved(rl); ai != NULL; ai = ai->ai_next) {
		if ((s = sock_open(ai->ai_family, ai->ai_socktype,
		    ai->ai_protocol)) == -1) {
			e = errno;
			continue;
		}
		if (sock_connect(s, ai->ai_addr, ai->ai_addrlen, dl) == 0)
			break;
		e = errno;
		close(s);
		s = -1;
	}
	if (s == -1) {
		errno = e;
		if (e == ETIMEDOUT)
			errx(EXIT_TIMEOUT, "connect %s port %s: timed out", host,
			    port);
		err(EXIT_SYS, "connect %s port %s", host, port);
	}
	return s;
}

/*
 * -S, after a holder that died: systemd's StandardOutput=file: opens the
 * file anew at each start, at offset 0 and without O_APPEND.  Go on at
 * its end, where the dead holder stopped, rather than write over it.
 */
static void
out_resume(struct relay *rl)
{
	struct stat st;
	int fl;

	if (fstat(rl->out, &st) == 0 && S_ISREG(st.st_mode) &&
	    (fl = fcntl(rl->out, F_GETFL)) != -1 && !(fl & O_APPEND) &&
	    lseek(rl->out, 0, SEEK_END) == -1)
		err(EXIT_SYS, "standard output");
}

/* Take over from the holder on the control socket, or become the holder. */
static void
start(struct relay *rl, int *fresh)
{
	struct ctl *c = rl->ctl;
	struct deadline dl;

	stdio_check(rl->iflag);
	if (rl->import != NULL) {
		/* Our own control socket first: one holder per path. */
		ctl_claim(c);
		*fresh = 0;
		import_take(rl, rl->import);
		return;
	}
	resolve(rl);
	if (ctl_start(c, relay_take, rl)) {
		*fresh = 0;
		return;
	}
	*fresh = 1;
	if (rl->Sflag && sd_take(rl)) {
		out_resume(rl);
		return;
	}
	deadline_in(&dl, c->tms);
	rl->conn = tcp_connect(rl, &dl);
}

static void __dead2
commit(struct relay *rl)
{
	/* Moved to another host: the service manager keeps nothing. */
	if (rl->frozen)
		sd_forget(rl);
	close(rl->conn);
	pipe_close(rl);
	if (rl->app != -1)
		close(rl->app);
	if (rl->spr != -1) {
		close(rl->spr);
		close(rl->spw);
	}
	ctl_commit(rl->ctl);
	exit_rl = NULL;
	exit(EXIT_OK);
}

/* Nothing open yet: every fd -1, the buffers empty. */
static void
relay_init(struct relay *rl)
{
	rl->conn = rl->in = rl->pr = rl->pw = -1;
	rl->out = STDOUT_FILENO;
	rl->splice_out = 1;
	rl->app = rl->spr = rl->spw = -1;
	rl->sd = -1;
	rl->outfl = rl->infl = -1;
	buf_init(&rl->ob, BUFSZ);
	buf_init(&rl->ib, BUFSZ);
}

/* From nothing to holding the connection, in the sandbox. */
static void
relay_begin(struct relay *rl)
{
	struct pollfd pfd[8];
	int n, fresh;

	signal(SIGPIPE, SIG_IGN);
	/* Chosen now, installed after the handoff in one call (the filter
	 * was built with the tools). */
	if (sandbox_prepare(SB_RELAY) == -1)
		err(EXIT_SYS, "sandbox");

	/* Our own descriptions of standard output and input, before we ask
	 * for anything: the reopening is also a check. */
	exit_rl = rl;
	atexit(relay_atexit);
	rl->out = own_open(STDOUT_FILENO, 1, &rl->outsock, &rl->outfl,
	    "standard output");
	if (rl->outsock)
		rl->splice_out = 0;
	if (rl->iflag)
		rl->infd = own_open(STDIN_FILENO, 0, &rl->insock, &rl->infl,
		    "standard input");
	start(rl, &fresh);
	if (rl->res != NULL)
		freeaddrinfo(rl->res);
	if (rl->pr == -1 && !rl->eof)
		pipe_open(rl);
	/* Before -S stores the record of the last append. */
	out_prepare(rl);
	if (rl->Sflag)
		sd_store(rl);
	notify_ready("holding a connection to %s port %s%s", rl->host,
	    rl->port, rl->Sflag ? ", its fds sent to the fd store" : "");
	if (rl->iflag && !rl->shut && !rl->eof)
		rl->in = rl->infd;
	/*
	 * The bytes that queued up during the handoff go first: one round of
	 * moving what is ready now, which reads nothing it interprets and
	 * touches no other fd, spares them the filter's installation (the
	 * kernel checks it for every system call: 56 us here).  From then
	 * on: the fds we have, and our control socket's path.
	 */
	if ((n = data_pollfds(rl, pfd)) > 0 && poll(pfd, n, 0) > 0)
		data_events(rl, pfd);
	if (sandbox_enter() == -1)
		err(EXIT_SYS, "sandbox");
}

static void __dead2	relay_loop(struct relay *);

static void
relay_opts(struct relay *rl, struct ctl *c, int iflag, int Nflag)
{
	memset(rl, 0, sizeof(*rl));
	rl->ctl = c;
	rl->iflag = iflag;
	rl->Nflag = Nflag;
}

void
relay_run(struct ctl *c, const char *host, const char *port, int iflag,
    int Nflag, int Sflag)
{
	struct relay rl;

	relay_opts(&rl, c, iflag, Nflag);
	rl.host = host;
	rl.port = port;
	rl.Sflag = Sflag;
	relay_loop(&rl);
}

/* -X: the connection comes from the exporter that cmd runs. */
void
relay_import(struct ctl *c, char *const cmd[], int iflag, int Nflag)
{
	struct relay rl;

	relay_opts(&rl, c, iflag, Nflag);
	rl.import = cmd;
	relay_loop(&rl);
}

static void
relay_loop(struct relay *rlp)
{
	struct relay rl = *rlp;
	struct ctl *c = rl.ctl;
	struct pollfd pfd[8];
	int n;

	relay_init(&rl);
	relay_begin(&rl);
	for (;;) {
		if (rl.eof && !data_pending(&rl))
			break;
		n = 0;
		if (c->state != CS_SENT)
			n = data_pollfds(&rl, pfd);
		n = ctl_pollfds(c, pfd, n, 1);
		if (poll(pfd, n, poll_ms(ctl_timeout(c), rl.stalled &&
		    c->state != CS_SENT ? deadline_ms(&rl.retry) : -1)) == -1) {
			if (errno == EINTR)
				continue;
			err(EXIT_SYS, "poll");
		}
		switch (ctl_events(c, pfd)) {
		case CTL_TAKE:
			relay_handoff(&rl);
			continue;
		case CTL_EXPORT:
			relay_export(&rl);
			continue;
		case CTL_COMMIT:
			commit(&rl);
		case CTL_RESUME:
			relay_thaw(&rl);
			continue;
		}
		if (c->state != CS_SENT)
			data_events(&rl, pfd);
	}
	if (rl.broke_before)
		warnx("%s port %s: the connection broke before the handoff; "
		    "what was read of it is written", rl.host, rl.port);
	if (rl.status == EXIT_OK)
		sd_forget(&rl);
	exit(rl.status);
}
