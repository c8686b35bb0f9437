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
#include <sys/ioctl.h>
#ifdef __linux__
#include <sys/mman.h>
#endif
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exits.h"
#include "fdholder.h"
#include "fdmap.h"
#include "hold.h"
#include "notify.h"
#include "sandbox.h"
#include "util.h"

#define BUFSZ		65536
#define PIPESZ		(1 << 20)
#define RETRY_MS	1000		/* a failed output is tried again */

/*
 * The record of the last append to an O_APPEND output, in a memfd that
 * goes with the connection (F_HANDOFF; the fd store under -S).  Before the
 * append: AR_WRITING, and the file's size then; after it: AR_WRITTEN and
 * the length appended; then those bytes move from the pipe into the memfd
 * past AR_DATA, in one splice(2), so that the memfd's size says how many
 * of them have left the pipe.  A holder started after a kill knows from it
 * what of the pipe's head is written already.
 */
struct apprec {
	uint64_t	 phase;
	uint64_t	 size0;
	uint64_t	 len;
};
#define AR_WRITING	1
#define AR_WRITTEN	2
#define AR_DATA		64
#define AR_SEARCH	(16 << 20)	/* others' appends searched after a kill */

struct buf {
	char		*p;
	size_t		 off;
	size_t		 len;
	size_t		 cap;
};

struct relay {
	struct ctl	*ctl;
	const char	*host;
	const char	*port;
	struct addrinfo	*res;		/* host port resolved, or NULL */
	int		 gai;		/* getaddrinfo's error, or 0 */
	int		 conn;
	int		 out;
	int		 in;		/* -1 without -i, or once done */
	int		 infd;		/* standard input, our own description */
	int		 pr, pw;	/* the pipe, or -1 */
	size_t		 inpipe;
	size_t		 pipecap;
	int		 pipefull;	/* wait for room, not for the socket */
	int		 splice_out;
	int		 appending;	/* O_APPEND file: peek, append, consume */
	int		 app;		/* the record of the last append, or -1 */
	int		 spr, spw;	/* the pipe a peek goes through, or -1 */
	char		*abuf;		/* one append, as large as the pipe */
	int		 stalled;	/* the output failed: try again at retry */
	struct deadline	 retry;
	struct buf	 ob;		/* for standard output, before the pipe */
	struct buf	 ib;		/* from standard input, for conn */
	int		 eof;		/* conn's peer closed it */
	int		 broke;		/* conn broke, here or before */
	int		 broke_before;	/* before the handoff to us */
	int		 shut;		/* conn's writing side is shut down */
	int		 cut;		/* our holder sent HF_CUT */
	int		 iflag;
	int		 Nflag;
	int		 Sflag;
	int		 sd;		/* -S: $NOTIFY_SOCKET, or -1 */
	int		 status;
	int		 outfl, infl;	/* flags to restore, or -1 */
	int		 outsock;	/* out is a socket: send, never splice */
	int		 insock;	/* in is a socket: recv */
	int		 pi_conn, pi_out, pi_in, pi_pw;
	int		 nhanded;	/* fds the handoff brought */
};

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

static void
buf_init(struct buf *b, size_t cap)
{
	if ((b->p = malloc(cap)) == NULL)
		err(EXIT_SYS, "malloc");
	b->off = b->len = 0;
	b->cap = cap;
}

static void
buf_set(struct buf *b, const void *p, size_t n)
{
	if (n > b->cap) {
		free(b->p);
		buf_init(b, n);
	}
	memcpy(b->p, p, n);
	b->off = 0;
	b->len = n;
}

static void
buf_done(struct buf *b, size_t n)
{
	b->off += n;
	b->len -= n;
	if (b->len == 0)
		b->off = 0;
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

static void
pipe_open(struct relay *rl)
{
#ifdef __linux__
	int p[2], sz;

	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) == -1)
		err(EXIT_SYS, "pipe");
	rl->pr = p[0];
	rl->pw = p[1];
	if ((sz = fcntl(rl->pw, F_SETPIPE_SZ, PIPESZ)) == -1)
		sz = fcntl(rl->pw, F_GETPIPE_SZ);
	rl->pipecap = sz > 0 ? (size_t)sz : 65536;
	rl->inpipe = 0;
#else
	rl->pr = rl->pw = -1;
#endif
}

static void
pipe_close(struct relay *rl)
{
	if (rl->pr != -1) {
		close(rl->pr);
		close(rl->pw);
	}
	rl->pr = rl->pw = -1;
	rl->inpipe = 0;
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

static const struct addrinfo *
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

/* The connection broke: write out what we have, then end non-zero. */
static void
conn_fail(struct relay *rl, const char *what)
{
	warn("%s %s port %s", what, rl->host, rl->port);
	rl->broke = 1;
	rl->status = EXIT_SYS;
	rl->eof = 1;
	rl->in = -1;
	rl->ib.len = 0;
}

static void
conn_read(struct relay *rl)
{
	ssize_t n;

#ifdef __linux__
	if (rl->pr != -1) {
		int avail;

		n = splice(rl->conn, NULL, rl->pw, NULL,
		    rl->pipecap - rl->inpipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n > 0)
			rl->inpipe += n;
		else if (n == 0)
			rl->eof = 1;
		else if (errno == EAGAIN) {
			/* The socket has bytes: the pipe has no room. */
			if (ioctl(rl->conn, FIONREAD, &avail) == 0 && avail > 0)
				rl->pipefull = 1;
		} else if (errno == EINVAL && rl->inpipe == 0)
			pipe_close(rl);
		else if (errno != EINTR)
			conn_fail(rl, "read");
		return;
	}
#endif
	if (rl->ob.len > 0)
		return;
	if ((n = read(rl->conn, rl->ob.p, rl->ob.cap)) > 0) {
		rl->ob.off = 0;
		rl->ob.len = n;
	} else if (n == 0)
		rl->eof = 1;
	else if (errno != EAGAIN && errno != EINTR)
		conn_fail(rl, "read");
}

static void
conn_write(struct relay *rl)
{
	ssize_t n;

	n = send(rl->conn, rl->ib.p + rl->ib.off, rl->ib.len,
	    MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n > 0)
		buf_done(&rl->ib, n);
	else if (n == -1 && errno != EAGAIN && errno != EINTR)
		conn_fail(rl, "send");
	if (rl->ib.len == 0 && rl->in == -1 && rl->Nflag && !rl->shut &&
	    !rl->eof) {
		shutdown(rl->conn, SHUT_WR);
		rl->shut = 1;
	}
}

static void
in_read(struct relay *rl)
{
	ssize_t n;

	n = rl->insock ? recv(rl->in, rl->ib.p, rl->ib.cap, MSG_DONTWAIT) :
	    read(rl->in, rl->ib.p, rl->ib.cap);
	if (n > 0) {
		rl->ib.off = 0;
		rl->ib.len = n;
		conn_write(rl);
		return;
	}
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n == -1)
		err(EXIT_SYS, "read standard input");
	rl->in = -1;
	if (rl->Nflag)
		conn_write(rl);
}

/*
 * What leaves the pipe must be written in the same system call: read into
 * memory first, it is lost if we are killed before we write it, and the
 * pipe is what a successor (or the service manager's fd store, -S) keeps.
 * splice(2) does that into a pipe, a socket, a terminal or a regular file,
 * but refuses a file opened with O_APPEND, as `>>` and systemd's
 * StandardOutput=append: open it.  Such a file is written with write(2),
 * which appends atomically beside other writers, from a copy of the pipe's
 * head (tee(2)); only then are the bytes written taken out of the pipe,
 * and the record (struct apprec) says which instant a kill interrupted.
 */
#ifdef __linux__
static void
app_set(struct relay *rl, uint64_t phase, uint64_t size0, uint64_t len)
{
	struct apprec ar = { phase, size0, len };

	if (pwrite(rl->app, &ar, sizeof(ar), 0) != (ssize_t)sizeof(ar))
		err(EXIT_SYS, "record of the last append");
}

/* Move n bytes appended from the pipe into the record, at off. */
static void
app_consume(struct relay *rl, loff_t off, size_t n)
{
	ssize_t r;

	while (n > 0) {
		r = splice(rl->pr, NULL, rl->app, &off, n, SPLICE_F_NONBLOCK);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			err(EXIT_SYS, "pipe: take out %zu bytes appended", n);
		if (r == 0)
			errx(EXIT_SYS, "pipe: take out %zu bytes appended: "
			    "unexpected end of file", n);
		n -= r;
		rl->inpipe -= r;
	}
}

/* Copy up to n bytes of the pipe's head to abuf, leaving them there. */
static ssize_t
app_peek(struct relay *rl, size_t n)
{
	ssize_t t, r;
	size_t got;

	if (n > rl->pipecap)
		n = rl->pipecap;
	if ((t = tee(rl->pr, rl->spw, n, SPLICE_F_NONBLOCK)) <= 0) {
		if (t == 0)
			errno = EAGAIN;
		return -1;
	}
	for (got = 0; got < (size_t)t; got += r)
		if ((r = read(rl->spr, rl->abuf + got, t - got)) == -1 &&
		    errno == EINTR)
			r = 0;
		else if (r <= 0)
			errx(EXIT_SYS, "read pipe: %s", r == 0 ?
			    "unexpected end of file" : strerror(errno));
	return t;
}

/* Peek, append, consume: the bytes appended, or -1 with errno set. */
static ssize_t
app_step(struct relay *rl)
{
	struct stat st;
	ssize_t n, w;
	int e;

	if ((n = app_peek(rl, rl->inpipe)) == -1)
		return -1;
	if (fstat(rl->out, &st) == -1)
		err(EXIT_SYS, "standard output");
	app_set(rl, AR_WRITING, st.st_size, n);
	if (ftruncate(rl->app, AR_DATA) == -1)
		err(EXIT_SYS, "record of the last append");
	if ((w = write(rl->out, rl->abuf, n)) <= 0) {
		e = w == 0 ? EIO : errno;
		app_set(rl, AR_WRITTEN, st.st_size, 0);
		errno = e;
		return -1;
	}
	app_set(rl, AR_WRITTEN, st.st_size, w);
	app_consume(rl, AR_DATA, w);
	return w;
}

/*
 * Killed in AR_WRITING: did the append of the n bytes now in abuf land?
 * It did if they are at size0 (all, or the first ones of a write cut
 * short by the kill), or further on behind other writers' appends.
 */
static size_t
app_landed(struct relay *rl, uint64_t size0, size_t n)
{
	char path[32], *p;
	struct stat st;
	size_t span, k = 0;
	ssize_t r;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", rl->out);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		warn("standard output: open to read; the last append of the "
		    "holder killed before may be written twice (%zu bytes)", n);
		if (fd != -1)
			close(fd);
		return 0;
	}
	if ((uint64_t)st.st_size > size0) {
		span = st.st_size - size0;
		if (span > AR_SEARCH + n)
			span = AR_SEARCH + n;
		if ((p = malloc(span)) == NULL)
			err(EXIT_SYS, "malloc");
		if ((r = pread(fd, p, span, size0)) > 0) {
			if (memcmp(p, rl->abuf, (size_t)r < n ? (size_t)r :
			    n) == 0)
				k = (size_t)r < n ? (size_t)r : n;
			else if (memmem(p, r, rl->abuf, n) != NULL)
				k = n;
		}
		free(p);
	}
	close(fd);
	return k;
}

/* After a kill: take out of the pipe what the last append wrote. */
static void
app_recover(struct relay *rl)
{
	struct apprec ar;
	struct stat st;
	ssize_t n;
	size_t k;

	if (pread(rl->app, &ar, sizeof(ar), 0) != (ssize_t)sizeof(ar) ||
	    fstat(rl->app, &st) == -1)
		err(EXIT_SYS, "record of the last append");
	if (ar.phase == AR_WRITTEN && st.st_size >= AR_DATA &&
	    (uint64_t)st.st_size - AR_DATA < ar.len)
		app_consume(rl, st.st_size, ar.len -
		    ((uint64_t)st.st_size - AR_DATA));
	else if (ar.phase == AR_WRITING) {
		if ((n = app_peek(rl, ar.len)) == -1)
			n = 0;
		k = app_landed(rl, ar.size0, n);
		if (ftruncate(rl->app, AR_DATA) == -1)
			err(EXIT_SYS, "record of the last append");
		app_set(rl, AR_WRITTEN, ar.size0, k);
		app_consume(rl, AR_DATA, k);
	}
}
#endif

static void
out_prepare(struct relay *rl)
{
#ifdef __linux__
	struct stat st;
	int fl, p[2];

	if (rl->pr == -1)
		return;
	rl->appending = fstat(rl->out, &st) == 0 && S_ISREG(st.st_mode) &&
	    (fl = fcntl(rl->out, F_GETFL)) != -1 && (fl & O_APPEND);
	if (!rl->appending && rl->app == -1)
		return;
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) == -1)
		err(EXIT_SYS, "pipe");
	rl->spr = p[0];
	rl->spw = p[1];
	/* Room for all the pipe holds (else tee copies less). */
	fcntl(rl->spw, F_SETPIPE_SZ, (int)rl->pipecap);
	if ((rl->abuf = malloc(rl->pipecap)) == NULL)
		err(EXIT_SYS, "malloc");
	if (rl->app != -1)
		app_recover(rl);
	else if ((rl->app = memfd_create("fdholder-append", MFD_CLOEXEC)) ==
	    -1 || ftruncate(rl->app, AR_DATA) == -1)
		err(EXIT_SYS, "record of the last append");
#else
	(void)rl;
#endif
}

/*
 * Standard output failed (a full file system, a reader gone): keep the
 * bytes and the connection for a later try, once a second, or for a
 * successor.  Once the pipe is full the socket is no longer read, so TCP
 * holds the sender back rather than anything being cut off.
 */
static void
out_stall(struct relay *rl)
{
	if (!rl->stalled)
		warnx("write standard output: %s; holding %zu bytes and the "
		    "connection, trying again every second (or start a "
		    "successor with another output)", strerror(errno),
		    rl->ob.len + rl->inpipe);
	rl->stalled = 1;
	deadline_in(&rl->retry, RETRY_MS);
}

/* One step of writing out: 1 on progress, 0 when blocked or done. */
static int
out_step(struct relay *rl)
{
	ssize_t n;

	if (rl->ob.len > 0) {
		n = rl->outsock ? send(rl->out, rl->ob.p + rl->ob.off,
		    rl->ob.len, MSG_DONTWAIT | MSG_NOSIGNAL) :
		    write(rl->out, rl->ob.p + rl->ob.off, rl->ob.len);
		if (n > 0) {
			buf_done(&rl->ob, n);
			return 1;
		}
	} else if (rl->inpipe == 0)
		return 0;
#ifdef __linux__
	else if (rl->appending) {
		if ((n = app_step(rl)) > 0)
			return 1;
	} else if (rl->splice_out) {
		n = splice(rl->pr, NULL, rl->out, NULL, rl->inpipe,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n > 0) {
			rl->inpipe -= n;
			return 1;
		}
		if (n == -1 && errno == EINVAL) {
			rl->splice_out = 0;
			return 1;
		}
	}
#endif
	else {
		n = read(rl->pr, rl->ob.p, rl->inpipe < rl->ob.cap ?
		    rl->inpipe : rl->ob.cap);
		if (n > 0) {
			rl->inpipe -= n;
			rl->ob.off = 0;
			rl->ob.len = n;
			return 1;
		}
		if (n == 0)
			errx(EXIT_SYS, "read pipe: unexpected end of file");
		err(EXIT_SYS, "read pipe");
	}
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n == 0)
		errno = EPIPE;
	out_stall(rl);
	return 0;
}

static void
out_write(struct relay *rl)
{
	int i;

	for (i = 0; i < 16 && out_step(rl); i++)
		if (rl->stalled) {
			rl->stalled = 0;
			warnx("write standard output: writing again");
		}
}

static int
pending(const struct relay *rl)
{
	return rl->ob.len > 0 || rl->inpipe > 0;
}

static int
add(struct pollfd *pfd, int *n, int fd, short events)
{
	pfd[*n].fd = fd;
	pfd[*n].events = events;
	pfd[*n].revents = 0;
	return (*n)++;
}

static int
data_pollfds(struct relay *rl, struct pollfd *pfd)
{
	short ev = 0;
	int n = 0;

	rl->pi_conn = rl->pi_out = rl->pi_in = rl->pi_pw = -1;
	if (!rl->eof && rl->pr != -1 && rl->pipefull)
		rl->pi_pw = add(pfd, &n, rl->pw, POLLOUT);
	else if (!rl->eof && (rl->pr != -1 ? rl->inpipe < rl->pipecap :
	    rl->ob.len == 0))
		ev |= POLLIN;
	if (rl->ib.len > 0 && !rl->eof)
		ev |= POLLOUT;
	if (ev != 0)
		rl->pi_conn = add(pfd, &n, rl->conn, ev);
	if (pending(rl) && !rl->stalled)
		rl->pi_out = add(pfd, &n, rl->out, POLLOUT);
	if (rl->in != -1 && rl->ib.len == 0)
		rl->pi_in = add(pfd, &n, rl->in, POLLIN);
	return n;
}

static void
data_events(struct relay *rl, const struct pollfd *pfd)
{
	short ev;

	if (rl->pi_pw != -1 && pfd[rl->pi_pw].revents != 0)
		rl->pipefull = 0;
	if (rl->pi_conn != -1 && (ev = pfd[rl->pi_conn].revents) != 0) {
		if (pfd[rl->pi_conn].events & POLLIN)
			conn_read(rl);
		if (rl->ib.len > 0 && !rl->eof && (ev & ~POLLIN))
			conn_write(rl);
	}
	if (pending(rl) && (rl->stalled ? deadline_ms(&rl->retry) == 0 :
	    rl->pi_out == -1 || pfd[rl->pi_out].revents))
		out_write(rl);
	if (rl->pi_in != -1 && pfd[rl->pi_in].revents != 0)
		in_read(rl);
}

/*
 * Hand everything to the successor in one F_HANDOFF frame: the connection,
 * the control socket, the pipe and what it holds, the bytes in memory.
 */
static void
handoff_send(struct relay *rl)
{
	struct ctl *c = rl->ctl;
	struct wbuf b = { 0 };
	struct handoff h = { .kind = HOLD_CONN };
	struct perr pe;
	int fds[5], nfds = 0;

	if (rl->eof)
		h.flags |= HF_EOF;
	if (rl->shut)
		h.flags |= HF_SHUT;
	if (rl->broke)
		h.flags |= HF_BROKE;
	if (rl->pr != -1)
		h.flags |= HF_PIPE;
	if (ctl_can_cut())
		h.flags |= HF_CUT;
	if (rl->app != -1)
		h.flags |= HF_APPEND;
	ctl_path_id(c, &h.dev, &h.ino);
	h.ob = rl->ob.p + rl->ob.off;
	h.olen = rl->ob.len;
	h.ib = rl->ib.p + rl->ib.off;
	h.ilen = rl->ib.len;
	handoff_put(&b, &h);
	fds[nfds++] = rl->conn;
	fds[nfds++] = c->ep.lfd;
	if (rl->pr != -1) {
		fds[nfds++] = rl->pr;
		fds[nfds++] = rl->pw;
	}
	if (rl->app != -1)
		fds[nfds++] = rl->app;
	if (b.oom)
		perr_set(&pe, PE_SYS, "out of memory");
	if (b.oom || frame_send(c->succ, F_HANDOFF, 0, b.p, b.len, fds, nfds,
	    &c->until, &pe) == -1)
		ctl_drop(c, b.oom ? &pe : NULL);
	else
		ctl_sent(c, nfds);
	wb_free(&b);
}

/* Take the state of an F_HANDOFF frame; its fds are ours once it returns. */
static int
handoff_take(struct relay *rl, struct frame *f, uint64_t *dev, uint64_t *ino,
    struct perr *pe)
{
	struct handoff h;
	struct rbuf r;
	int avail, want, pipe;

	rb_init(&r, f->data, f->len);
	handoff_get(&r, &h);
	pipe = h.flags & HF_PIPE ? 2 : 0;
	want = 2 + pipe + (h.flags & HF_APPEND ? 1 : 0);
	if (rb_end(&r) == -1 || h.kind != HOLD_CONN || f->nfds != want ||
	    fd_kind(f->fds[0]) != FK_STREAM || fd_kind(f->fds[1]) != FK_LISTEN ||
	    (pipe && (fd_kind(f->fds[2]) != FK_FIFO ||
	    fd_kind(f->fds[3]) != FK_FIFO)) ||
	    (want > 2 + pipe && fd_kind(f->fds[2 + pipe]) != FK_FILE)) {
		perr_set(pe, PE_PROTO, "malformed handoff");
		return -1;
	}
	rl->conn = f->fds[0];
	rl->ctl->ep.lfd = f->fds[1];
	if (want > 2 + pipe)
		rl->app = f->fds[2 + pipe];
	rl->nhanded = want;
	if (pipe) {
		rl->pr = f->fds[2];
		rl->pw = f->fds[3];
		rl->inpipe = ioctl(rl->pr, FIONREAD, &avail) == 0 ? avail : 0;
#ifdef __linux__
		avail = fcntl(rl->pw, F_GETPIPE_SZ);
		rl->pipecap = avail > 0 ? (size_t)avail : 65536;
#endif
	}
	f->nfds = 0;
	*dev = h.dev;
	*ino = h.ino;
	buf_set(&rl->ob, h.ob, h.olen);
	buf_set(&rl->ib, h.ib, h.ilen);
	rl->eof = (h.flags & HF_EOF) != 0;
	rl->shut = (h.flags & HF_SHUT) != 0;
	rl->cut = (h.flags & HF_CUT) != 0;
	if (h.flags & HF_BROKE) {
		rl->broke = rl->broke_before = 1;
		rl->status = EXIT_SYS;
	}
	return 0;
}

/* An address and port as "192.0.2.1:7000" or "[2001:db8::1]:7000". */
static void
sa_str(const struct sockaddr *sa, socklen_t len, char *buf, size_t n)
{
	char host[NI_MAXHOST], serv[NI_MAXSERV];

	if (getnameinfo(sa, len, host, sizeof(host), serv, sizeof(serv),
	    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		strlcpy(host, "?", sizeof(host));
	snprintf(buf, n, strchr(host, ':') != NULL ? "[%s]:%s" : "%s:%s",
	    host, serv);
}

static void
takeover_abort(struct relay *rl)
{
	close(rl->conn);
	close(rl->ctl->ep.lfd);
	rl->ctl->ep.lfd = -1;
	pipe_close(rl);
	if (rl->app != -1)
		close(rl->app);
	exit(EXIT_REFUSED);
}

/*
 * Does the connection handed to us go to host port?  A successor started
 * with another host or port refuses it rather than keep the old one
 * unawares: it never confirms, so the holder goes on as before.  A
 * connection the server has reset has no peer left to compare.
 */
static void
takeover_check(struct relay *rl, int s)
{
	const struct addrinfo *ai;
	struct sockaddr_storage ss;
	struct deadline dl;
	struct perr pe;
	socklen_t len = sizeof(ss);
	char peer[NI_MAXHOST + NI_MAXSERV + 4], a[sizeof(peer)];

	if (getpeername(rl->conn, (struct sockaddr *)&ss, &len) == -1)
		return;
	sa_str((struct sockaddr *)&ss, len, peer, sizeof(peer));
	for (ai = eresolved(rl); ai != NULL; ai = ai->ai_next) {
		sa_str(ai->ai_addr, ai->ai_addrlen, a, sizeof(a));
		if (strcmp(a, peer) == 0)
			return;
	}
	perr_set(&pe, PE_REFUSED, "holds a connection to %s, not %s%s%s:%s",
	    peer, strchr(rl->host, ':') != NULL ? "[" : "", rl->host,
	    strchr(rl->host, ':') != NULL ? "]" : "", rl->port);
	deadline_in(&dl, 1000);
	frame_error(s, &pe, &dl);
	close(s);
	warnx("%s: %s", rl->ctl->ep.addr.str, pe.msg);
	takeover_abort(rl);
}

/*
 * Receive the holder's state on s.  Returns 1 once it is ours, 0 when the
 * holder went away before handing it over.
 */
static int
takeover(struct relay *rl, int s)
{
	struct ctl *c = rl->ctl;
	struct deadline dl;
	struct frame f;
	struct perr pe;
	uint64_t dev, ino;
	int r;

	deadline_in(&dl, c->tms);
	if ((r = frame_recv(s, &f, &dl, &pe)) == 0 ||
	    (r == -1 && pe.errnum == ECONNRESET)) {
		close(s);
		return 0;
	}
	if (r == -1)
		ctl_foreign(c, &pe);
	if (f.type == F_ERROR) {
		perr_remote(&pe, &f);
		errx(exit_for(&pe), "%s: %s", c->ep.addr.str, pe.msg);
	}
	if (f.type != F_HANDOFF)
		perr_set(&pe, PE_PROTO, "expected a handoff, got frame type "
		    "%u", f.type);
	if (f.type != F_HANDOFF || handoff_take(rl, &f, &dev, &ino, &pe) ==
	    -1) {
		frame_free(&f);
		errx(EXIT_SYS, "%s: %s", c->ep.addr.str, pe.msg);
	}
	frame_free(&f);
	takeover_check(rl, s);
	fd_nonblock(rl->conn, 1);
	if (ctl_confirm(c, s, rl->nhanded, rl->cut) == -1)
		takeover_abort(rl);
	ctl_adopt(c, c->ep.lfd, dev, ino);
	return 1;
}

/*
 * -S: the connection (and the pipe with the bytes spliced from it) that the
 * service manager kept for us (LISTEN_FDS, by name), after the whole
 * service restarted.  Returns 1 when there was one.
 */
static int
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
static void
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
static void
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

static int
take(void *arg, int s)
{
	return takeover(arg, s);
}

/* Take over from the holder on the control socket, or become the holder. */
static void
start(struct relay *rl, int *fresh)
{
	struct ctl *c = rl->ctl;
	struct deadline dl;

	resolve(rl);
	stdio_check(rl->iflag);
	if (ctl_start(c, take, rl)) {
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

void
relay_run(struct ctl *c, const char *host, const char *port, int iflag,
    int Nflag, int Sflag)
{
	struct relay rl;
	struct pollfd pfd[8];
	int n, fresh;

	memset(&rl, 0, sizeof(rl));
	rl.ctl = c;
	rl.host = host;
	rl.port = port;
	rl.conn = rl.in = rl.pr = rl.pw = -1;
	rl.out = STDOUT_FILENO;
	rl.splice_out = 1;
	rl.app = rl.spr = rl.spw = -1;
	rl.iflag = iflag;
	rl.Nflag = Nflag;
	rl.Sflag = Sflag;
	rl.sd = -1;
	rl.outfl = rl.infl = -1;
	buf_init(&rl.ob, BUFSZ);
	buf_init(&rl.ib, BUFSZ);
	signal(SIGPIPE, SIG_IGN);
	/* Chosen now, installed after the handoff in one call (the filter
	 * was built with the tools). */
	if (sandbox_prepare(SB_RELAY) == -1)
		err(EXIT_SYS, "sandbox");

	/* Our own descriptions of standard output and input, before we ask
	 * for anything: the reopening is also a check. */
	exit_rl = &rl;
	atexit(relay_atexit);
	rl.out = own_open(STDOUT_FILENO, 1, &rl.outsock, &rl.outfl,
	    "standard output");
	if (rl.outsock)
		rl.splice_out = 0;
	if (iflag)
		rl.infd = own_open(STDIN_FILENO, 0, &rl.insock, &rl.infl,
		    "standard input");
	start(&rl, &fresh);
	if (rl.res != NULL)
		freeaddrinfo(rl.res);
	if (rl.pr == -1 && !rl.eof)
		pipe_open(&rl);
	/* Before -S stores the record of the last append. */
	out_prepare(&rl);
	if (Sflag)
		sd_store(&rl);
	notify_ready("holding a connection to %s port %s%s", host, port,
	    Sflag ? ", its fds sent to the fd store" : "");
	if (iflag && !rl.shut && !rl.eof)
		rl.in = rl.infd;
	/*
	 * The bytes that queued up during the handoff go first: one round of
	 * moving what is ready now, which reads nothing it interprets and
	 * touches no other fd, spares them the filter's installation (the
	 * kernel checks it for every system call: 56 us here).  From then
	 * on: the fds we have, and our control socket's path.
	 */
	if ((n = data_pollfds(&rl, pfd)) > 0 && poll(pfd, n, 0) > 0)
		data_events(&rl, pfd);
	if (sandbox_enter() == -1)
		err(EXIT_SYS, "sandbox");

	for (;;) {
		if (rl.eof && !pending(&rl))
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
			handoff_send(&rl);
			continue;
		case CTL_COMMIT:
			commit(&rl);
		case CTL_RESUME:
			continue;
		}
		if (c->state != CS_SENT)
			data_events(&rl, pfd);
	}
	if (rl.broke_before)
		warnx("%s port %s: the connection broke before the handoff; "
		    "what was read of it is written", host, port);
	if (rl.status == EXIT_OK)
		sd_forget(&rl);
	exit(rl.status);
}
