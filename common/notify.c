/* ISC license: see LICENSE. */
/*
 * systemd's side of fd passing, spoken directly (sd_notify(3)'s documented
 * datagram protocol), so that the tools need no libsystemd: storing fds in
 * a service's fd store over $NOTIFY_SOCKET, and taking back by name what
 * systemd hands a service as LISTEN_FDS and LISTEN_FDNAMES.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "esc.h"
#include "fd.h"
#include "notify.h"
#include "scm.h"

static struct addr notify_addr;

/* A datagram socket for $NOTIFY_SOCKET (a path or @abstract). */
int
notify_open(struct perr *pe)
{
	const char *env = getenv("NOTIFY_SOCKET");
	int s;

	if (env == NULL || *env == '\0') {
		perr_set(pe, PE_NOENT, "NOTIFY_SOCKET is not set: not run by "
		    "systemd as a service that may notify");
		return -1;
	}
	if (addr_parse(&notify_addr, env) == -1 ||
	    notify_addr.kind == ADDR_FD) {
		perr_set(pe, PE_NOENT, "NOTIFY_SOCKET=%s: not a UNIX socket "
		    "address", env);
		return -1;
	}
	if ((s = socket(AF_UNIX, SOCK_DGRAM, 0)) == -1 ||
	    fd_cloexec(s, 1) == -1 || fd_nonblock(s, 1) == -1) {
		perr_sys(pe, "socket");
		if (s != -1)
			close(s);
		return -1;
	}
	return s;
}

/*
 * Tell the service manager we run under, if any (NOTIFY_SOCKET), that we
 * are ready, and what we do: READY=1 and STATUS=, so that a unit of
 * Type=notify starts, and systemctl status says what we hold.  Being
 * unable to tell it is said, not fatal.
 */
void
notify_ready(const char *fmt, ...)
{
	struct deadline dl;
	struct perr pe;
	va_list ap;
	char state[512];
	int s, n;

	if (getenv("NOTIFY_SOCKET") == NULL)
		return;
	n = snprintf(state, sizeof(state), "READY=1\nSTATUS=");
	va_start(ap, fmt);
	vsnprintf(state + n, sizeof(state) - n, fmt, ap);
	va_end(ap);
	deadline_in(&dl, 1000);
	if ((s = notify_open(&pe)) == -1 ||
	    notify_send(s, state, NULL, 0, &dl, &pe) == -1)
		warnx("READY=1: %s", pe.msg);
	if (s != -1)
		close(s);
}

/* One notification: state lines, and at most PROTO_MAXFDS fds. */
int
notify_send(int s, const char *state, const int *fds, size_t n,
    const struct deadline *dl, struct perr *pe)
{
	union ctlbuf ctl;
	struct msghdr msg;
	struct iovec iov;

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = (void *)state;
	iov.iov_len = strlen(state);
	msg.msg_name = &notify_addr.sun;
	msg.msg_namelen = notify_addr.len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	rights_put(&msg, &ctl, fds, (int)n);
	if (scm_send(s, &msg, dl) == -1) {
		perr_sys(pe, "send to NOTIFY_SOCKET");
		return -1;
	}
	return 0;
}

/*
 * BARRIER=1, as sd_notify_barrier(3): the manager closes the pipe end we
 * send once it has processed every earlier notification of ours.
 */
int
notify_barrier(int s, const struct deadline *dl, struct perr *pe)
{
	int p[2];

	if (pipe(p) == -1) {
		perr_sys(pe, "pipe");
		return -1;
	}
	fd_cloexec(p[0], 1);
	fd_cloexec(p[1], 1);
	if (notify_send(s, "BARRIER=1", &p[1], 1, dl, pe) == -1) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	close(p[1]);
	if (deadline_poll(p[0], POLLIN, dl) == -1) {
		perr_sys(pe, "wait for the service manager");
		close(p[0]);
		return -1;
	}
	close(p[0]);
	return 0;
}

/*
 * The fds that the service manager passed us (LISTEN_FDS, from 3 up, if
 * LISTEN_PID is ours) named as in the comma-separated list names, in its
 * order; a name given twice takes the next fd of that name.  The others are
 * made close-on-exec.  -1 with pe set when a name is
 * missing or the variables are not ours.
 */
int
listen_take(const char *names, struct fdset *set, struct perr *pe)
{
	const char *errstr, *v;
	char *all = NULL, **have = NULL, *copy, *p, *tok;
	long long n, pid, i;
	int r = -1;

	v = getenv("LISTEN_PID");
	pid = v ? strtonum(v, 1, INT_MAX, &errstr) : 0;
	v = getenv("LISTEN_FDS");
	n = v ? strtonum(v, 0, INT_MAX - 3, &errstr) : 0;
	if (v == NULL || pid != (long long)getpid() || errstr != NULL) {
		perr_set(pe, PE_NOENT, "no fds passed by the service manager "
		    "(LISTEN_FDS, LISTEN_PID)");
		return -1;
	}
	/* Unset, or short of names: "unknown", as sd_listen_fds(3) says. */
	if ((have = calloc(n + 1, sizeof(char *))) == NULL ||
	    ((v = getenv("LISTEN_FDNAMES")) != NULL &&
	    (all = strdup(v)) == NULL))
		goto sys;
	for (p = all, i = 0; i < n; i++) {
		have[i] = p ? strsep(&p, ":") : "unknown";
		fd_cloexec(3 + i, 1);
	}
	if ((copy = p = strdup(names)) == NULL)
		goto sys;
	while ((tok = strsep(&p, ",")) != NULL) {
		for (i = 0; i < n && (have[i] == NULL ||
		    strcmp(have[i], tok) != 0); i++)
			;
		if (i == n) {
			perr_set(pe, PE_NOENT, "no fd named %s in "
			    "LISTEN_FDNAMES", esc(tok));
			free(copy);
			goto out;
		}
		if (fdset_add(set, 3 + i, tok) == -1) {
			free(copy);
			goto sys;
		}
		have[i] = NULL;
	}
	free(copy);
	r = 0;
	goto out;
sys:
	perr_sys(pe, "malloc");
out:
	free(have);
	free(all);
	return r;
}
