/* ISC license: see LICENSE. */
/* The connection handed to a successor, and taken from a holder. */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exits.h"
#include "hold.h"
#include "relay.h"
#include "util.h"

/*
 * Hand everything to the successor in one F_HANDOFF frame: the connection,
 * the control socket, the pipe and what it holds, the bytes in memory.
 */
void
relay_handoff(struct relay *rl)
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
	if (b.oom || frame_send(c->succ, &(struct frout){ .type = F_HANDOFF,
	    .data = b.p, .len = b.len, .fds = fds, .nfds = nfds }, &c->until,
	    &pe) == -1)
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

int
relay_take(void *arg, int s)
{
	return takeover(arg, s);
}
