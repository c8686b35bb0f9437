/* ISC license: see LICENSE. */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exits.h"
#include "fd.h"
#include "sock.h"
#include "util.h"

/*
 * socket(2) and accept(2), close-on-exec and non-blocking from the start
 * where the system can (SOCK_CLOEXEC, accept4), with fcntl where it cannot
 * (macOS); a UNIX or TCP socket raises no SIGPIPE where SO_NOSIGPIPE
 * exists.  The tools' sockets are made here.
 */
static int
sock_setup(int fd)
{
#ifndef SOCK_CLOEXEC
	if (fd != -1 && (fd_cloexec(fd, 1) == -1 || fd_nonblock(fd, 1) == -1)) {
		close(fd);
		fd = -1;
	}
#endif
#ifdef SO_NOSIGPIPE
	if (fd != -1)
		setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &(int){1},
		    sizeof(int));
#endif
	return fd;
}

int
sock_open(int domain, int type, int protocol)
{
#ifdef SOCK_CLOEXEC
	return sock_setup(socket(domain, type | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    protocol));
#else
	return sock_setup(socket(domain, type, protocol));
#endif
}

static void
on_tick(int sig)
{
	(void)sig;
}

/*
 * accept(2) once.  A listener inherited as fd:N shares its description with
 * whoever passed it (a service manager, a parent), so its O_NONBLOCK is not
 * ours to set, and accept has no per-call flag as recvmsg has MSG_DONTWAIT.
 * A blocking one is accepted from only once poll saw a peer; should another
 * process take that peer first, accept would wait for the next one past
 * any bound: a repeating timer (ITIMER_REAL, SIGALRM caught without
 * SA_RESTART) ends it with EINTR, told as EAGAIN.  It repeats so that a
 * tick that comes before accept begins cannot be lost.
 */
static int
accept_once(int lfd, int blocking)
{
	static const struct itimerval tick = { { 0, 10000 }, { 0, 10000 } };
	static const struct itimerval off;
	static int caught;
	struct sigaction sa;
	int fd, e;

	if (blocking) {
		if (!caught) {
			memset(&sa, 0, sizeof(sa));
			sa.sa_handler = on_tick;
			sigemptyset(&sa.sa_mask);
			if (sigaction(SIGALRM, &sa, NULL) == -1)
				return -1;
			caught = 1;
		}
		if (setitimer(ITIMER_REAL, &tick, NULL) == -1)
			return -1;
	}
#ifdef SOCK_CLOEXEC
	fd = sock_setup(accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK));
#else
	fd = sock_setup(accept(lfd, NULL, NULL));
#endif
	e = errno;
	if (blocking) {
		setitimer(ITIMER_REAL, &off, NULL);
		if (fd == -1 && e == EINTR)
			e = EAGAIN;
	}
	errno = e;
	return fd;
}

/*
 * The next peer on the listening socket lfd, waiting for one up to dl
 * (NULL: not at all): -1 with ETIMEDOUT when none came.  A peer that gave
 * up before we accepted it, or a signal, is retried.  A non-blocking
 * listener (our own) is polled only once accept found nobody, as the
 * store takes its clients; a blocking one (inherited) before each accept.
 */
int
sock_accept(int lfd, const struct deadline *dl)
{
	struct deadline now;
	int fd, fl, blocking, wait;

	if (dl == NULL) {
		deadline_in(&now, 0);
		dl = &now;
	}
	if ((fl = fcntl(lfd, F_GETFL)) == -1)
		return -1;
	blocking = !(fl & O_NONBLOCK);
	for (wait = blocking;; wait = 1) {
		if (wait && deadline_poll(lfd, POLLIN, dl) == -1)
			return -1;
		if ((fd = accept_once(lfd, blocking)) != -1)
			return fd;
		if (errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR && errno != ECONNABORTED)
			return -1;
	}
}

/*
 * connect(2) on a non-blocking socket of sock_open, waiting up to dl for
 * a connection in progress.  Returns 0, or -1 with errno set.
 */
int
sock_connect(int fd, const struct sockaddr *sa, socklen_t len,
    const struct deadline *dl)
{
	socklen_t elen = sizeof(int);
	int e = 0;

	if (connect(fd, sa, len) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return -1;
	if (deadline_poll(fd, POLLOUT, dl) == -1)
		return -1;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) == -1)
		return -1;
	if (e != 0) {
		errno = e;
		return -1;
	}
	return 0;
}

static int
unix_socket(void)
{
	return sock_open(AF_UNIX, SOCK_STREAM, 0);
}

/*
 * Is something alive behind the socket at path?  A stale socket refuses
 * connections; a full backlog still means a live listener.
 */
static int
path_live(const struct addr *a)
{
	int fd, r, e;

	if ((fd = unix_socket()) == -1)
		return -1;
	r = connect(fd, (const struct sockaddr *)&a->sun, a->len);
	e = errno;
	close(fd);
	if (r == 0 || e == EAGAIN || e == EINPROGRESS)
		return 1;
	if (e == ECONNREFUSED || e == ENOENT)
		return 0;
	errno = e;
	return -1;
}

static char ep_why[PATH_MAX + 128];

/*
 * What the last ep_listen that failed found, naming the object: "x.sock:
 * a live socket is listening there", "x.sock.lock: Permission denied".
 */
const char *
ep_error(void)
{
	return ep_why;
}

static int
why(int e, const char *obj, const char *suffix, const char *what)
{
	snprintf(ep_why, sizeof(ep_why), "%s%s: %s", obj, suffix,
	    what != NULL ? what : strerror(e));
	errno = e;
	return -1;
}

/*
 * Claimants of one path take turns: each holds a write lock (fcntl(2),
 * POSIX) on PATH.lock from its first look at the path until its own socket
 * listens there.  So nobody sees a socket that is bound but not yet
 * listening (connect says ECONNREFUSED then, as for a dead one) and
 * replaces it: a socket is judged stale, and replaced, only under the
 * lock.  skalibs' socket binders lock the same file the same way.  The
 * holder removes the lock file before it lets go (claim_unlock), so none
 * is left behind; a claimant that then gets the lock of a file no longer
 * at the path opens the path anew, so that two never hold two files.
 */
static int
claim_lock(const struct addr *a, const struct deadline *dl)
{
	struct stat fst, pst;
	struct flock fl;
	char path[PATH_MAX];
	long us = 50;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s.lock", a->sun.sun_path) >=
	    sizeof(path))
		return why(ENAMETOOLONG, a->sun.sun_path, ".lock", NULL);
again:
	if ((fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600)) == -1) {
		/* No directory for it: say so of the path asked for. */
		if (errno == ENOENT || errno == ENOTDIR)
			return why(errno, a->str, "", NULL);
		return why(errno, path, "", NULL);
	}
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	while (fcntl(fd, F_SETLK, &fl) == -1) {
		if (errno != EACCES && errno != EAGAIN && errno != EINTR) {
			why(errno, path, "", NULL);
			close(fd);
			return -1;
		}
		if (deadline_ms(dl) == 0) {
			close(fd);
			return why(ETIMEDOUT, path, "", "still locked by "
			    "another claimant of the socket (stopped?)");
		}
		deadline_usleep(us, dl);
		us = us * 2 > 5000 ? 5000 : us * 2;
	}
	if (fstat(fd, &fst) == -1 || stat(path, &pst) == -1 ||
	    fst.st_dev != pst.st_dev || fst.st_ino != pst.st_ino) {
		close(fd);
		goto again;
	}
	return fd;
}

/* Let go of the claim: the lock file first, while it is still ours. */
static void
claim_unlock(const struct addr *a, int fd)
{
	char path[PATH_MAX];

	if (fd == -1)
		return;
	snprintf(path, sizeof(path), "%s.lock", a->sun.sun_path);
	unlink(path);
	close(fd);
}

/* Bind a's path, under the claim lock: replace a stale socket only. */
static int
bind_path(int fd, struct endpoint *ep, const struct addr *a, int shared)
{
	const char *p = a->sun.sun_path;
	struct stat st;
	mode_t old;
	int r, tries;

	for (tries = 0; tries < 3; tries++) {
		old = umask(shared ? 0111 : 0177);
		r = bind(fd, (const struct sockaddr *)&a->sun, a->len);
		umask(old);
		if (r == 0)
			break;
		if (errno != EADDRINUSE || a->kind != ADDR_PATH)
			return why(errno, a->str, "", NULL);
		if (lstat(p, &st) == -1) {
			if (errno == ENOENT)
				continue;
			return why(errno, a->str, "", NULL);
		}
		if (!S_ISSOCK(st.st_mode))
			return why(ENOTSOCK, a->str, "", S_ISDIR(st.st_mode) ?
			    "a directory, not a socket" :
			    "exists and is not a socket");
		switch (path_live(a)) {
		case 1:
			return why(EADDRINUSE, a->str, "", "a live socket is "
			    "listening there");
		case 0:
			if (unlink(p) == -1 && errno != ENOENT)
				return why(errno, a->str, "", NULL);
			continue;
		default:
			return why(errno, a->str, "", NULL);
		}
	}
	if (r == -1)
		return why(errno, a->str, "", NULL);
	if (a->kind == ADDR_PATH && stat(p, &st) == 0) {
		ep->created = 1;
		ep->dev = st.st_dev;
		ep->ino = st.st_ino;
	}
	return 0;
}

/*
 * Listen on a: bind PATH (mode 0600, or 0666 when the trust is shared with
 * others), replacing a stale socket but never a live one or a file that is
 * not a socket; bind @NAME; or take fd:N as it is, listening or connected.
 * A path is claimed atomically against every other claimant (claim_lock),
 * waiting for the lock up to dl.  On failure ep_error() says what was found.
 * Call ep_unlink_on_signal before, not after: SIGINT, SIGTERM and SIGHUP
 * wait until the path is bound and known to be ours.
 */
int
ep_listen(struct endpoint *ep, const struct addr *a, int shared,
    const struct deadline *dl)
{
	sigset_t mask, omask;
	int fd = -1, lock = -1, e;

	memset(ep, 0, sizeof(*ep));
	ep->addr = *a;
	ep->lfd = ep->cfd = -1;
	/*
	 * fd:N is shared with whoever passed it: its flags stay as they
	 * are (MSG_DONTWAIT in scm.c, sock_accept).
	 */
	if (a->kind == ADDR_FD) {
		if (fd_kind(a->fd) == FK_LISTEN)
			ep->lfd = a->fd;
		else
			ep->cfd = a->fd;
		return 0;
	}
	/*
	 * From bind to ep->created, a signal that removes our path on the
	 * way out (ep_unlink_on_signal, set up before) would miss it.
	 */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, &omask);
	if (a->kind == ADDR_PATH && (lock = claim_lock(a, dl)) == -1) {
		sigprocmask(SIG_SETMASK, &omask, NULL);
		return -1;
	}
	if ((fd = unix_socket()) == -1) {
		why(errno, "socket", "", NULL);
		goto fail;
	}
	if (bind_path(fd, ep, a, shared) == -1)
		goto fail;
	if (listen(fd, SOMAXCONN) == -1) {
		why(errno, a->str, "", NULL);
		goto fail;
	}
	claim_unlock(a, lock);
	ep->lfd = fd;
	sigprocmask(SIG_SETMASK, &omask, NULL);
	return 0;
fail:
	e = errno;
	ep_close(ep);
	if (fd != -1)
		close(fd);
	claim_unlock(a, lock);
	sigprocmask(SIG_SETMASK, &omask, NULL);
	errno = e;
	return -1;
}

static int
connect_once(const struct addr *a, const struct deadline *dl)
{
	int fd, e;

	if ((fd = unix_socket()) == -1)
		return -1;
	if (sock_connect(fd, (const struct sockaddr *)&a->sun, a->len,
	    dl) == 0)
		return fd;
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

/* Does the directory that would hold path exist?  If not, waiting is futile. */
static int
parent_exists(const char *path)
{
	char buf[PATH_MAX];
	struct stat st;

	if (strlcpy(buf, path, sizeof(buf)) >= sizeof(buf))
		return 0;
	return stat(dirname(buf), &st) == 0 && S_ISDIR(st.st_mode);
}

/*
 * Connect to a within the deadline, waiting out a full backlog, and with
 * appear also a socket that is not there yet (ENOENT, ECONNREFUSED).
 */
static int
connect_until(struct endpoint *ep, const struct addr *a,
    const struct deadline *dl, int appear)
{
	struct stat st;
	long us = 100;
	int fd;

	if (a->kind == ADDR_FD)
		return ep_listen(ep, a, 0, dl);
	memset(ep, 0, sizeof(*ep));
	ep->addr = *a;
	ep->lfd = ep->cfd = -1;
	while ((fd = connect_once(a, dl)) == -1) {
		if (errno == ECONNREFUSED && a->kind == ADDR_PATH &&
		    lstat(a->sun.sun_path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
			errno = ENOTSOCK;
			return -1;
		}
		if (errno != EAGAIN && (!appear ||
		    (errno != ENOENT && errno != ECONNREFUSED)))
			return -1;
		if (errno == ENOENT && a->kind == ADDR_PATH &&
		    !parent_exists(a->sun.sun_path))
			return -1;
		if (deadline_ms(dl) == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		/* Soon at first: the receiver may be binding right now. */
		deadline_usleep(us, dl);
		us = us * 2 > 50000 ? 50000 : us * 2;
	}
	ep->cfd = fd;
	return 0;
}

/*
 * Connect to a, waiting (until the deadline) for a listener to appear when
 * there is none yet: so either side of a transfer may start first.  fd:N is
 * used as it is.
 */
int
ep_connect(struct endpoint *ep, const struct addr *a,
    const struct deadline *dl)
{
	return connect_until(ep, a, dl, 1);
}

/*
 * Connect as a daemon's client: at once, not waiting for the socket to
 * appear as ep_connect does; only a full backlog is waited out, up to dl.
 */
int
ep_connect_now(struct endpoint *ep, const struct addr *a,
    const struct deadline *dl)
{
	return connect_until(ep, a, dl, 0);
}

/*
 * The next peer: accepted on the listening socket, or the connection itself
 * (once).  -1 with errno ETIMEDOUT when the deadline passed, ENOTCONN when
 * a connection was already handed out and there is no listener.
 */
int
ep_next(struct endpoint *ep, const struct deadline *dl)
{
	int fd;

	if (ep->cfd != -1) {
		fd = ep->cfd;
		ep->cfd = -1;
		return fd;
	}
	if (ep->lfd == -1) {
		errno = ENOTCONN;
		return -1;
	}
	return sock_accept(ep->lfd, dl);
}

/* Remove the path we bound, if it is still ours. */
static void
ep_unlink(const struct endpoint *ep)
{
	struct stat st;

	if (ep->created && lstat(ep->addr.sun.sun_path, &st) == 0 &&
	    st.st_dev == ep->dev && st.st_ino == ep->ino)
		unlink(ep->addr.sun.sun_path);
}

/*
 * Stop listening: close what we opened, remove the path we bound.  errno
 * is kept, for the error message that usually follows.
 */
void
ep_close(struct endpoint *ep)
{
	int e = errno;

	ep_unlink(ep);
	ep->created = 0;
	if (ep->lfd != -1 && ep->addr.kind != ADDR_FD)
		close(ep->lfd);
	ep->lfd = -1;
	errno = e;
}

static struct endpoint *sig_ep;

static void
on_signal(int sig)
{
	if (sig_ep != NULL)
		ep_unlink(sig_ep);
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * A listener killed by SIGINT, SIGTERM or SIGHUP still removes its path;
 * one of them that was ignored when we started stays ignored (sig_catch).
 */
void
ep_unlink_on_signal(struct endpoint *ep)
{
	sig_ep = ep;
	sig_catch(SIGINT, on_signal);
	sig_catch(SIGTERM, on_signal);
	sig_catch(SIGHUP, on_signal);
}
