/* ISC license: see LICENSE. */
/*
 * fdholder -S for the store of named fds: every entry is kept in the
 * service manager's fd store too, so that a crash, SIGKILL, the OOM
 * killer or systemctl restart loses nothing (fdholder(1), fdproto(7)).
 *
 * An entry is one fd in systemd's store, named e.PREFIX.SEQ: the
 * receiving end of a socketpair whose queue holds the entry whole, its
 * record (name, owner, ages) as bytes and its fds riding on them
 * (SCM_RIGHTS), sent once and never read, only peeked at.  So an entry is
 * added to the fd store by one notification and removed by one: there is
 * never half an entry there, it costs one slot of FileDescriptorStoreMax=
 * whatever its number of fds, and systemd, which keeps one copy of an
 * open file however often it is passed, never merges two entries.
 *
 * We keep the sending end until a barrier says that systemd has dealt
 * with the notification: if the receiving end is gone then (POLLHUP),
 * systemd did not keep it (FileDescriptorStoreMax= reached, refused), and
 * the client is told so.  FDPOLL=0: the end we close is no reason for
 * systemd to drop what it keeps.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
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
#include "sdstore.h"
#include "sock.h"

/* The service manager's fd store is systemd's: Linux only. */
#ifdef __linux__
#define MAGIC		"FDSD"
#define VERSION		1
#define HDRLEN		9		/* magic, version, u32 record length */
#define SNDBUF		(4 << 20)	/* what an entry may take in its queue */

static int	 sd = -1;		/* NOTIFY_SOCKET */
static char	 prefix[17];		/* ours: names never meet another's */
static uint64_t	 seq;
static int	 tms;			/* -t */

int
sds_open(int t, struct perr *pe)
{
	uint64_t r;

	if ((sd = notify_open(pe)) == -1)
		return -1;
	arc4random_buf(&r, sizeof(r));
	snprintf(prefix, sizeof(prefix), "%016llx", (unsigned long long)r);
	tms = t;
	return 0;
}

int
sds_on(void)
{
	return sd != -1;
}

/* One part of an entry's queue: bytes, and fds riding on them. */
static int
part_send(int s, const void *p, size_t len, const int *fds, size_t n,
    struct perr *pe)
{
	union ctlbuf ctl;
	struct msghdr msg;
	struct iovec iov;
	ssize_t w;

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = (void *)p;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	rights_put(&msg, &ctl, fds, (int)n);
	while ((w = sendmsg(s, &msg, MSG_DONTWAIT | MSG_NOSIGNAL)) == -1 &&
	    errno == EINTR)
		;
	if (w == (ssize_t)len)
		return 0;
	if (w >= 0 || errno == EAGAIN)
		perr_set(pe, PE_LIMIT, "entry too large to keep in the fd "
		    "store");
	else
		perr_sys(pe, "sendmsg");
	return -1;
}

/*
 * The entry into the queue of s: one byte for each PROTO_MAXFDS of its
 * fds, riding on it ('+' when more follow, '.' for the last), then header
 * and record.  Fds first: a peek at bytes without fds may return those of
 * the part after them (seen on Linux 6.18), a peek at a part with fds
 * returns its own.
 */
static int
entry_write(int s, const struct sdmeta *m, const struct fdset *set,
    struct perr *pe)
{
	struct wbuf b = { 0 }, rec = { 0 };
	size_t i, n;
	int r = -1;

	for (i = 0; i < set->n; i += n) {
		n = set->n - i < PROTO_MAXFDS ? set->n - i : PROTO_MAXFDS;
		if (part_send(s, i + n < set->n ? "+" : ".", 1, set->fds + i,
		    n, pe) == -1)
			return -1;
	}
	wb_name(&rec, m->name);
	wb_u32(&rec, m->uid);
	wb_u32(&rec, m->gid);
	wb_u64(&rec, (uint64_t)m->since);
	wb_u64(&rec, (uint64_t)m->stored);
	wb_u32(&rec, m->ttl);
	wb_u32(&rec, set->n);
	for (i = 0; i < set->n; i++)
		wb_name(&rec, set->names[i]);
	wb_bytes(&b, MAGIC, 4);
	wb_u8(&b, VERSION);
	wb_u32(&b, rec.len);
	wb_bytes(&b, rec.p, rec.len);
	if (b.oom || rec.oom)
		perr_set(pe, PE_SYS, "out of memory");
	else
		r = part_send(s, b.p, b.len, NULL, 0, pe);
	wb_free(&b);
	wb_free(&rec);
	return r;
}

static int
say(const char *what, const char *name, const int *fds, size_t n,
    struct perr *pe)
{
	struct deadline dl;
	char state[128];

	deadline_in(&dl, tms);
	snprintf(state, sizeof(state), "%s\nFDNAME=%s", what, name);
	return notify_send(sd, state, fds, n, &dl, pe);
}

/*
 * Keep the entry in the fd store; m->sdname gets its name there.  0 once
 * systemd holds it, -1 when it does not (and it is not there).
 */
int
sds_add(struct sdmeta *m, const struct fdset *set, struct perr *pe)
{
	struct deadline dl;
	struct pollfd pfd;
	int p[2], sz = SNDBUF;

	snprintf(m->sdname, sizeof(m->sdname), "e.%s.%llu", prefix,
	    (unsigned long long)++seq);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) == -1) {
		perr_sys(pe, "socketpair");
		goto fail;
	}
	(void)setsockopt(p[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	if (entry_write(p[1], m, set, pe) == -1 ||
	    say("FDSTORE=1\nFDPOLL=0", m->sdname, &p[0], 1, pe) == -1) {
		close(p[0]);
		close(p[1]);
		goto fail;
	}
	close(p[0]);
	deadline_in(&dl, tms);
	if (notify_barrier(sd, &dl, pe) == -1) {
		close(p[1]);
		/* It may yet come: take it out again. */
		sds_remove(m->sdname);
		goto fail;
	}
	pfd.fd = p[1];
	pfd.events = 0;
	pfd.revents = 0;
	if (poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLHUP | POLLERR))) {
		close(p[1]);
		perr_set(pe, PE_LIMIT, "the service manager did not keep "
		    "the entry in its fd store (FileDescriptorStoreMax= "
		    "reached?)");
		goto fail;
	}
	close(p[1]);
	return 0;
fail:
	m->sdname[0] = '\0';
	return -1;
}

/* The entry leaves the fd store: one notification, at once. */
void
sds_remove(const char *sdname)
{
	struct perr pe;

	if (sd == -1 || sdname[0] == '\0')
		return;
	if (say("FDSTOREREMOVE=1", sdname, NULL, 0, &pe) == -1)
		warnx("-S: %s stays in the fd store: %s", sdname, pe.msg);
}

/* Read len bytes on from the peek offset, leaving them queued. */
static int
peek(int s, unsigned char *buf, size_t len, struct fdset *fds,
    struct perr *pe)
{
	union ctlbuf ctl;
	struct msghdr msg;
	struct iovec iov;
	int got_fds[CTL_FDS], k, j;
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		memset(&msg, 0, sizeof(msg));
		iov.iov_base = buf + got;
		iov.iov_len = len - got;
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof(ctl.buf);
		n = recvmsg(s, &msg, MSG_PEEK | MSG_DONTWAIT |
		    MSG_CMSG_CLOEXEC);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			perr_sys(pe, "recvmsg");
			return -1;
		}
		if ((k = rights_take(&msg, got_fds, CTL_FDS, pe)) < 0)
			return -1;
		for (j = 0; j < k; j++)
			if (fdset_add(fds, got_fds[j], "") == -1) {
				while (j < k)
					close(got_fds[j++]);
				perr_sys(pe, "malloc");
				return -1;
			}
		if (msg.msg_flags & MSG_CTRUNC) {
			perr_set(pe, PE_TRUNC, "fds lost");
			return -1;
		}
		if (n == 0) {
			perr_set(pe, PE_PROTO, "cut short");
			return -1;
		}
		got += n;
	}
	return 0;
}

/* The record of an entry, rec, into m and the names of set's fds. */
static int
entry_decode(const unsigned char *rec, uint32_t len, struct sdmeta *m,
    struct fdset *set, struct perr *pe)
{
	char fdname[PROTO_NAMEMAX + 1], *dup;
	struct rbuf r;
	uint32_t n, i;

	rb_init(&r, rec, len);
	rb_name(&r, m->name);
	m->uid = rb_u32(&r);
	m->gid = rb_u32(&r);
	m->since = (int64_t)rb_u64(&r);
	m->stored = (int64_t)rb_u64(&r);
	m->ttl = rb_u32(&r);
	n = rb_u32(&r);
	if (r.bad || n != set->n || m->name[0] == '\0' || m->ttl == 0)
		goto bad;
	for (i = 0; i < n; i++) {
		rb_name(&r, fdname);
		if (r.bad)
			goto bad;
		if ((dup = strdup(fdname)) == NULL) {
			perr_sys(pe, "malloc");
			return -1;
		}
		free(set->names[i]);
		set->names[i] = dup;
	}
	if (r.off == r.len)
		return 0;
bad:
	perr_set(pe, PE_PROTO, "not an entry of ours");
	return -1;
}

/* An entry out of the queue of s, which stays as it is. */
static int
entry_read(int s, struct sdmeta *m, struct fdset *set, struct perr *pe)
{
	unsigned char hdr[HDRLEN], *rec, part;
	struct rbuf r;
	uint32_t len;
	int zero = 0, rc;

	if (setsockopt(s, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero)) ==
	    -1) {
		perr_sys(pe, "SO_PEEK_OFF");
		return -1;
	}
	do {
		if (peek(s, &part, 1, set, pe) == -1)
			return -1;
	} while (part == '+');
	if (part != '.' || peek(s, hdr, HDRLEN, set, pe) == -1)
		goto bad;
	rb_init(&r, hdr, HDRLEN);
	if (memcmp(rb_bytes(&r, 4), MAGIC, 4) != 0 || rb_u8(&r) != VERSION ||
	    (len = rb_u32(&r)) > SNDBUF)
		goto bad;
	if ((rec = malloc(len + 1)) == NULL) {
		perr_sys(pe, "malloc");
		return -1;
	}
	rc = peek(s, rec, len, set, pe);
	if (rc == 0)
		rc = entry_decode(rec, len, m, set, pe);
	free(rec);
	return rc;
bad:
	perr_set(pe, PE_PROTO, "not an entry of ours");
	return -1;
}

struct passed {
	char		*fdname;
	int		 fd;
	int		 ok;
	struct sdmeta	 m;
	struct fdset	 set;
};

/*
 * What the service manager passed us (LISTEN_FDS): our entries, to take
 * back (add) or, after a takeover (add NULL), to let go of.  Of two
 * entries of one name, which a crash may leave, the later stored wins.
 * Whatever we take back stays in the fd store: it is ours again only
 * in that nothing else may have it.
 */
void
sds_restore(int (*add)(void *, const struct sdmeta *, struct fdset *),
    void *arg)
{
	const char *v, *errstr;
	struct passed *ps = NULL;
	struct perr pe;
	char *names = NULL, *p;
	long long n = 0, i, j, pid;

	if ((v = getenv("LISTEN_PID")) == NULL ||
	    (pid = strtonum(v, 1, INT_MAX, &errstr)) != (long long)getpid() ||
	    (v = getenv("LISTEN_FDS")) == NULL ||
	    (n = strtonum(v, 0, INT_MAX - 3, &errstr)) == 0 ||
	    (ps = calloc(n, sizeof(*ps))) == NULL)
		goto out;
	if ((v = getenv("LISTEN_FDNAMES")) != NULL &&
	    (names = strdup(v)) == NULL)
		err(EXIT_SYS, "malloc");
	for (p = names, i = 0; i < n; i++) {
		ps[i].fd = 3 + i;
		ps[i].fdname = p ? strsep(&p, ":") : "unknown";
		fd_cloexec(ps[i].fd, 1);
		if (strncmp(ps[i].fdname, "e.", 2) != 0) {
			warnx("-S: %s: not an entry; left in the fd store",
			    ps[i].fdname);
			continue;
		}
		if (add == NULL || entry_read(ps[i].fd, &ps[i].m, &ps[i].set,
		    &pe) == -1) {
			if (add != NULL)
				warnx("-S: %s: %s; removed from the fd store",
				    ps[i].fdname, pe.msg);
			fdset_close(&ps[i].set);
			sds_remove(ps[i].fdname);
			continue;
		}
		strlcpy(ps[i].m.sdname, ps[i].fdname, sizeof(ps[i].m.sdname));
		ps[i].ok = 1;
		for (j = 0; j < i; j++) {
			if (!ps[j].ok || strcmp(ps[j].m.name, ps[i].m.name))
				continue;
			/* The older of the two goes. */
			if (ps[j].m.stored > ps[i].m.stored) {
				fdset_close(&ps[i].set);
				sds_remove(ps[i].fdname);
				ps[i].ok = 0;
				break;
			}
			fdset_close(&ps[j].set);
			sds_remove(ps[j].fdname);
			ps[j].ok = 0;
		}
	}
	for (i = 0; i < n; i++) {
		if (ps[i].ok && add(arg, &ps[i].m, &ps[i].set) == -1)
			err(EXIT_SYS, "malloc");
		fdset_free(&ps[i].set);
		close(ps[i].fd);
	}
out:
	free(ps);
	free(names);
	listen_env_clear();
}
#else
int
sds_open(int t, struct perr *pe)
{
	(void)t;
	perr_set(pe, PE_SYS, "-S: the service manager's fd store is "
	    "systemd's, on Linux only");
	return -1;
}

int
sds_on(void)
{
	return 0;
}

int
sds_add(struct sdmeta *m, const struct fdset *set, struct perr *pe)
{
	(void)m;
	(void)set;
	perr_set(pe, PE_SYS, "no fd store here");
	return -1;
}

void
sds_remove(const char *sdname)
{
	(void)sdname;
}

void
sds_restore(int (*add)(void *, const struct sdmeta *, struct fdset *),
    void *arg)
{
	(void)add;
	(void)arg;
}
#endif
