/* ISC license: see LICENSE. */
/*
 * The data pump: the connection into the pipe and out to standard output,
 * standard input to the connection (-i), and the O_APPEND writer.
 */
#include <sys/types.h>
#include <sys/ioctl.h>
#ifdef __linux__
#include <sys/mman.h>
#endif
#include <sys/socket.h>
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exits.h"
#include "relay.h"
#include "util.h"

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

void
buf_init(struct buf *b, size_t cap)
{
	if ((b->p = malloc(cap)) == NULL)
		err(EXIT_SYS, "malloc");
	b->off = b->len = 0;
	b->cap = cap;
}

void
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

void
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

void
pipe_close(struct relay *rl)
{
	if (rl->pr != -1) {
		close(rl->pr);
		close(rl->pw);
	}
	rl->pr = rl->pw = -1;
	rl->inpipe = 0;
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

void
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

int
data_pending(const struct relay *rl)
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

int
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
	if (data_pending(rl) && !rl->stalled)
		rl->pi_out = add(pfd, &n, rl->out, POLLOUT);
	if (rl->in != -1 && rl->ib.len == 0)
		rl->pi_in = add(pfd, &n, rl->in, POLLIN);
	return n;
}

void
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
	if (data_pending(rl) && (rl->stalled ? deadline_ms(&rl->retry) == 0 :
	    rl->pi_out == -1 || pfd[rl->pi_out].revents))
		out_write(rl);
	if (rl->pi_in != -1 && pfd[rl->pi_in].revents != 0)
		in_read(rl);
}
