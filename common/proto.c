/* ISC license: see LICENSE. */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "esc.h"
#include "proto.h"
#include "sock.h"
#include "util.h"
#include "wire.h"

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL	0	/* SO_NOSIGPIPE is set on the socket instead */
#endif
#ifdef MSG_CMSG_CLOEXEC
#define RECV_FLAGS	MSG_CMSG_CLOEXEC
#else
#define RECV_FLAGS	0
#endif


void
perr_set(struct perr *pe, int code, const char *fmt, ...)
{
	va_list ap;

	pe->code = code;
	pe->errnum = 0;
	pe->remote = 0;
	va_start(ap, fmt);
	vsnprintf(pe->msg, sizeof(pe->msg), fmt, ap);
	va_end(ap);
}

void
perr_sys(struct perr *pe, const char *what)
{
	int e = errno;

	perr_set(pe, PE_SYS, "%s: %s", what, strerror(e));
	pe->errnum = e;
}

static void
close_fds(const int *fds, int n)
{
	while (n-- > 0)
		close(fds[n]);
}

/* One SCM_RIGHTS control message of nfds fds in ctl, for msg; none for 0. */
void
rights_put(struct msghdr *msg, union ctlbuf *ctl, const int *fds, int nfds)
{
	struct cmsghdr *c;

	if (nfds <= 0 || fds == NULL)
		return;		/* no control message at all */

	memset(ctl, 0, sizeof(*ctl));
	msg->msg_control = ctl->buf;
	msg->msg_controllen = CMSG_SPACE(nfds * sizeof(int));
	c = CMSG_FIRSTHDR(msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
	memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
}

/* Send all of buf, the fds riding on its first byte. */
int
frame_send(int s, int type, int flags, const void *data, size_t len,
    const int *fds, int nfds, const struct deadline *dl, struct perr *pe)
{
	unsigned char hdr[PROTO_HDRLEN];
	union ctlbuf ctl;
	struct iovec iov[2];
	struct msghdr msg;
	size_t done = 0, total = PROTO_HDRLEN + len;
	ssize_t n;

	hdr_put(hdr, type, flags, len, nfds);
	while (done < total) {
		memset(&msg, 0, sizeof(msg));
		if (done < PROTO_HDRLEN) {
			iov[0].iov_base = hdr + done;
			iov[0].iov_len = PROTO_HDRLEN - done;
			iov[1].iov_base = (void *)data;
			iov[1].iov_len = len;
			msg.msg_iov = iov;
			msg.msg_iovlen = len > 0 ? 2 : 1;
		} else {
			iov[0].iov_base = (char *)data + done - PROTO_HDRLEN;
			iov[0].iov_len = total - done;
			msg.msg_iov = iov;
			msg.msg_iovlen = 1;
		}
		if (done == 0)
			rights_put(&msg, &ctl, fds, nfds);
		if ((n = sendmsg(s, &msg, MSG_NOSIGNAL)) >= 0) {
			done += n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if ((errno == EAGAIN || errno == EWOULDBLOCK) &&
		    deadline_poll(s, POLLOUT, dl) == 0)
			continue;
		perr_sys(pe, "send");
		return -1;
	}
	return 0;
}

/*
 * Take the fds of every control message.  A second SCM_RIGHTS message,
 * any other control message, or more fds than fit are protocol errors:
 * what arrived is closed.  Returns the count, or -1.
 */
int
take_fds(struct msghdr *msg, int *fds, int room, struct perr *pe)
{
	struct cmsghdr *c;
	char *end = (char *)msg->msg_control + msg->msg_controllen;
	int n = 0, k, i, fd, bad = 0, rights = 0;
	size_t len;

	if (msg->msg_controllen == 0)
		return 0;
	for (c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
		len = c->cmsg_len;
		if ((char *)c + len > end)
			len = end - (char *)c;
		if (len < CMSG_LEN(0))
			break;
		k = (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
		    ? (int)((len - CMSG_LEN(0)) / sizeof(int)) : 0;
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
		    rights++ > 0)
			bad = 1;
		for (i = 0; i < k; i++) {
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
#ifndef MSG_CMSG_CLOEXEC
			fd_cloexec(fd, 1);
#endif
			if (n < room)
				fds[n++] = fd;
			else {
				close(fd);
				bad = 1;
			}
		}
	}
	if (bad) {
		close_fds(fds, n);
		perr_set(pe, PE_PROTO, "unexpected control message");
		return -1;
	}
	return n;
}

/* Is the header of a frame one we read on?  0 if so, else -1 with pe. */
static int
hdr_check(const unsigned char hdr[PROTO_HDRLEN], const struct hdr *h,
    struct perr *pe)
{
	if (!h->magic)
		perr_set(pe, PE_PROTO, "not a frame (bad magic 0x%02x%02x)",
		    hdr[0], hdr[1]);
	else if (h->version != PROTO_VERSION)
		perr_set(pe, PE_VERSION, "protocol version %u not supported "
		    "(this is %u)", h->version, PROTO_VERSION);
	else if (h->nfds > PROTO_MAXFDS)
		perr_set(pe, PE_PROTO, "frame announces %d fds (at most %d)",
		    h->nfds, PROTO_MAXFDS);
	else if (h->len > PROTO_MAXLEN)
		perr_set(pe, PE_PROTO, "frame of %lu bytes (at most %d)",
		    (unsigned long)h->len, PROTO_MAXLEN);
	else
		return 0;
	return -1;
}

/*
 * The frame is whole: does it carry the fds its header announced?
 * 0 if so, else -1 with pe.
 */
static int
fds_check(const struct frdec *d, struct perr *pe)
{
	if (d->f.nfds == d->want && !d->ctrunc)
		return 0;
	if (d->ctrunc)
		perr_set(pe, PE_TRUNC, "fds lost in transit (MSG_CTRUNC): "
		    "%d announced, %d arrived; out of fds?", d->want,
		    d->f.nfds);
	else if (d->f.nfds > d->want)
		perr_set(pe, PE_PROTO, "frame announces %d fds, %d arrived",
		    d->want, d->f.nfds);
	else
		perr_set(pe, PE_PROTO, "frame announces %d fds, only %d "
		    "arrived", d->want, d->f.nfds);
	return -1;
}

/*
 * One read of the frame d is decoding, never past the end of its header
 * or of its payload, so that the fds of the next frame cannot come with
 * it.  Fds arriving on a read of header bytes are the frame's, on any of
 * them: bytes sent without fds just before bytes with fds come in one
 * read with the fds, or apart, as the kernel pleases, and the rule must
 * not depend on which (fdproto(7)).  Returns the bytes read, 0 at end of
 * file, -1 on error with pe set, FRAME_AGAIN.
 */
static ssize_t
frame_read(int s, struct frdec *d, int flags, struct perr *pe)
{
	union ctlbuf ctl;
	struct msghdr msg;
	struct iovec iov;
	ssize_t n;
	int k;

	memset(&msg, 0, sizeof(msg));
	if (d->got < PROTO_HDRLEN) {
		iov.iov_base = d->hdr + d->got;
		iov.iov_len = PROTO_HDRLEN - d->got;
	} else {
		iov.iov_base = d->f.data + (d->got - PROTO_HDRLEN);
		iov.iov_len = d->f.len - (d->got - PROTO_HDRLEN);
	}
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl.buf;
	msg.msg_controllen = sizeof(ctl.buf);
	while ((n = recvmsg(s, &msg, RECV_FLAGS | flags)) == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return FRAME_AGAIN;
		if (errno != EINTR) {
			perr_sys(pe, "receive");
			return -1;
		}
	}
	k = take_fds(&msg, d->f.fds + d->f.nfds, PROTO_MAXFDS - d->f.nfds,
	    pe);
	if (k < 0)
		return -1;
	if (msg.msg_flags & MSG_CTRUNC)
		d->ctrunc = 1;
	d->f.nfds += k;
	if (k > 0 && d->got >= PROTO_HDRLEN) {
		perr_set(pe, PE_PROTO, "fds on a byte past the header of a "
		    "frame");
		return -1;
	}
	if (k > 0 && d->f.nfds > k) {
		perr_set(pe, PE_PROTO, "fds in two control messages of one "
		    "frame");
		return -1;
	}
	return n;
}

/*
 * Go on decoding the frame of d from what s has: each read is one
 * recvmsg with flags (MSG_DONTWAIT on a socket shared with others), and
 * what it brings stays in d between calls.  A zeroed frdec is empty.
 * Returns 1 with the frame in f (then d is empty again), FRAME_AGAIN when
 * the rest has not come yet, 0 on end of file before a frame began, or
 * -1 on error with pe set and d emptied, no fd left open.
 */
int
frame_step(int s, struct frdec *d, struct frame *f, int flags,
    struct perr *pe)
{
	struct hdr h;
	ssize_t n;

	for (;;) {
		if (d->got == PROTO_HDRLEN && d->f.data == NULL) {
			hdr_get(d->hdr, &h);
			if (hdr_check(d->hdr, &h, pe) == -1)
				goto fail;
			d->f.version = h.version;
			d->f.type = h.type;
			d->f.flags = h.flags;
			d->f.len = h.len;
			d->want = h.nfds;
			if ((d->f.data = malloc(h.len + 1)) == NULL) {
				perr_sys(pe, "malloc");
				goto fail;
			}
			d->f.data[h.len] = '\0';
		}
		if (d->got == PROTO_HDRLEN + d->f.len && d->f.data != NULL)
			break;
		if ((n = frame_read(s, d, flags, pe)) == FRAME_AGAIN)
			return FRAME_AGAIN;
		if (n == -1)
			goto fail;
		if (n == 0 && d->got == 0 && d->f.nfds == 0)
			return 0;
		if (n == 0) {
			perr_set(pe, PE_PROTO, "peer closed mid-frame");
			goto fail;
		}
		d->got += n;
	}
	if (fds_check(d, pe) == -1)
		goto fail;
	*f = d->f;
	memset(d, 0, sizeof(*d));
	return 1;
fail:
	frdec_free(d);
	return -1;
}

/* Let go of a frame half decoded: close its fds, free its payload. */
void
frdec_free(struct frdec *d)
{
	frame_free(&d->f);
	memset(d, 0, sizeof(*d));
}

/*
 * Read one frame, waiting up to dl for each read.  Returns 1, 0 on end of
 * file before a frame began, -1 on error with pe set.  On error, no fd of
 * the frame stays open.
 */
int
frame_recv(int s, struct frame *f, const struct deadline *dl,
    struct perr *pe)
{
	struct frdec d;
	int r;

	memset(&d, 0, sizeof(d));
	while ((r = frame_step(s, &d, f, 0, pe)) == FRAME_AGAIN)
		if (deadline_poll(s, POLLIN, dl) == -1) {
			perr_sys(pe, "receive");
			frdec_free(&d);
			return -1;
		}
	return r;
}

/* Close the fds of a frame that nobody took, and free its payload. */
void
frame_free(struct frame *f)
{
	close_fds(f->fds, f->nfds);
	f->nfds = 0;
	free(f->data);
	f->data = NULL;
}

/* Tell the peer what went wrong; it may be gone already. */
void
frame_error(int s, const struct perr *pe, const struct deadline *dl)
{
	unsigned char buf[2 + sizeof(pe->msg)];
	struct perr ignored;
	size_t n = error_put(buf, pe->code, pe->msg);

	frame_send(s, F_ERROR, 0, buf, n, NULL, 0, dl, &ignored);
}

/* An F_ERROR frame from the peer, as a perr. */
int
perr_remote(struct perr *pe, const struct frame *f)
{
	char text[sizeof(pe->msg)];
	const char *msg;
	int code, n;

	if (error_get(f, &code, &msg, &n) == -1) {
		perr_set(pe, PE_PROTO, "unexpected frame type %u", f->type);
		return -1;
	}
	/* The peer's words, shown escaped: we print them. */
	perr_set(pe, code, "%s", esc_bytes(text, sizeof(text), msg, n));
	pe->remote = 1;
	return 0;
}

int
name_valid(const char *s, size_t n)
{
	size_t i;

	if (n > PROTO_NAMEMAX)
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e || s[i] == ':')
			return 0;
	return 1;
}

int
fdset_add(struct fdset *set, int fd, const char *name)
{
	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 16;
		int *fds = reallocarray(set->fds, cap, sizeof(int));
		char **names;

		if (fds == NULL)
			return -1;
		set->fds = fds;
		if ((names = reallocarray(set->names, cap, sizeof(char *))) ==
		    NULL)
			return -1;
		set->names = names;
		set->cap = cap;
	}
	if ((set->names[set->n] = strdup(name ? name : "")) == NULL)
		return -1;
	set->fds[set->n++] = fd;
	return 0;
}

void
fdset_close(struct fdset *set)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		if (set->fds[i] != -1)
			close(set->fds[i]);
	fdset_free(set);
}

void
fdset_free(struct fdset *set)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		free(set->names[i]);
	free(set->fds);
	free(set->names);
	memset(set, 0, sizeof(*set));
}

/*
 * The payload of an F_OFFER of the k fds of set from i on: their names,
 * each a length byte and its bytes, in buf of PROTO_MAXFDS *
 * (1 + PROTO_NAMEMAX) bytes.  Returns its length.
 */
static size_t
offer_payload(unsigned char *buf, const struct fdset *set, size_t i,
    size_t k)
{
	size_t j, len, nl;

	for (len = 0, j = i; j < i + k; j++) {
		nl = strlen(set->names[j]);
		buf[len++] = nl;
		memcpy(buf + len, set->names[j], nl);
		len += nl;
	}
	return len;
}

/* Offer the set in frames of at most PROTO_MAXFDS fds each. */
int
fdset_send(int s, const struct fdset *set, const struct deadline *dl,
    struct perr *pe)
{
	unsigned char *buf;
	size_t i = 0, k, len;
	int r = 0;

	if ((buf = malloc(PROTO_MAXFDS * (1 + PROTO_NAMEMAX))) == NULL) {
		perr_sys(pe, "malloc");
		return -1;
	}
	do {
		k = set->n - i < PROTO_MAXFDS ? set->n - i : PROTO_MAXFDS;
		len = offer_payload(buf, set, i, k);
		r = frame_send(s, F_OFFER, i + k < set->n ? FF_MORE : 0, buf,
		    len, set->fds + i, k, dl, pe);
		i += k;
	} while (r == 0 && i < set->n);
	free(buf);
	return r;
}

/*
 * Add the fds of an F_OFFER frame to set, with their names (one per fd: a
 * length byte, the name).  The fds are the set's once it returns 0.
 */
int
fdset_take(struct fdset *set, struct frame *f, struct perr *pe)
{
	size_t off = 0, nl;
	char name[PROTO_NAMEMAX + 1], text[sizeof(pe->msg)];
	int i;

	for (i = 0; i < f->nfds; i++) {
		if (off >= f->len || (nl = f->data[off]) > f->len - off - 1) {
			perr_set(pe, PE_PROTO, "offer names %d fds, carries %d",
			    i, f->nfds);
			return -1;
		}
		memcpy(name, f->data + off + 1, nl);
		name[nl] = '\0';
		if (!name_valid(name, nl)) {
			perr_set(pe, PE_PROTO, "invalid fd name: %s",
			    esc_bytes(text, sizeof(text), name, nl));
			return -1;
		}
		off += 1 + nl;
	}
	if (off != f->len) {
		perr_set(pe, PE_PROTO, "offer of %d fds carries %lu extra "
		    "bytes", f->nfds, (unsigned long)(f->len - off));
		return -1;
	}
	for (off = 0, i = 0; i < f->nfds; i++) {
		nl = f->data[off];
		memcpy(name, f->data + off + 1, nl);
		name[nl] = '\0';
		off += 1 + nl;
		if (fdset_add(set, f->fds[i], name) == -1) {
			perr_sys(pe, "malloc");
			return -1;
		}
		f->fds[i] = -1;
	}
	f->nfds = 0;
	return 0;
}

/*
 * Receive an offer: F_OFFER frames until one without FF_MORE.  An F_ERROR
 * from the peer is returned as pe.  On error nothing received stays open.
 * Returns 1, 0 if the peer closed before sending anything, or -1.
 */
int
fdset_recv(int s, struct fdset *set, const struct deadline *dl,
    struct perr *pe)
{
	struct frame f;
	int r, first = 1;

	for (;;) {
		if ((r = frame_recv(s, &f, dl, pe)) <= 0) {
			if (r == 0 && !first)
				perr_set(pe, PE_PROTO, "peer closed mid-offer");
			if (r == 0 && first)
				return 0;
			goto fail;
		}
		first = 0;
		if (f.type == F_ERROR) {
			perr_remote(pe, &f);
			frame_free(&f);
			goto fail;
		}
		if (f.type != F_OFFER) {
			perr_set(pe, PE_PROTO, "expected an offer, got frame "
			    "type %u", f.type);
			frame_free(&f);
			goto fail;
		}
		r = fdset_take(set, &f, pe);
		frame_free(&f);
		if (r == -1)
			goto fail;
		if (!(f.flags & FF_MORE))
			return 1;
	}
fail:
	fdset_close(set);
	return -1;
}

int
ack_send(int s, uint32_t count, const struct deadline *dl, struct perr *pe)
{
	unsigned char b[ACK_LEN];

	ack_put(b, count);
	return frame_send(s, F_ACK, 0, b, sizeof(b), NULL, 0, dl, pe);
}

/* Wait for the peer's F_ACK of count fds; its F_ERROR becomes pe. */
int
ack_recv(int s, uint32_t count, const struct deadline *dl, struct perr *pe)
{
	struct frame f;
	uint32_t v;
	int r;

	if ((r = frame_recv(s, &f, dl, pe)) <= 0) {
		if (r == 0) {
			perr_set(pe, PE_SYS, "peer closed without confirming");
			pe->errnum = ECONNRESET;
		}
		return -1;
	}
	r = -1;
	if (f.nfds > 0)
		perr_set(pe, PE_PROTO, "fds on a confirmation");
	else if (f.type == F_ERROR)
		perr_remote(pe, &f);
	else if (ack_get(&f, &v) == -1)
		perr_set(pe, PE_PROTO, "expected a confirmation, got frame "
		    "type %u", f.type);
	else if (v != count)
		perr_set(pe, PE_PROTO, "peer confirmed %lu fds of %lu",
		    (unsigned long)v, (unsigned long)count);
	else
		r = 0;
	frame_free(&f);
	return r;
}

/*
 * After the peer's F_ACK: wait for it to close the connection.  A receiver
 * that executes a program keeps it open until the exec closes it
 * (close-on-exec), and sends F_ERROR first if the exec or the placement
 * before it failed.  Returns 0 on end of file, -1 with pe set: the peer's
 * F_ERROR (remote), or what else went wrong.
 */
int
done_recv(int s, const struct deadline *dl, struct perr *pe)
{
	struct frame f;
	int r;

	if ((r = frame_recv(s, &f, dl, pe)) <= 0)
		return r;
	if (f.type == F_ERROR && f.nfds == 0)
		perr_remote(pe, &f);
	else
		perr_set(pe, PE_PROTO, "expected the end of the connection, "
		    "got frame type %u", f.type);
	frame_free(&f);
	return -1;
}

/*
 * Sending failed with EPIPE or ECONNRESET: a peer that refused us may have
 * hung up before our frame was out, its F_ERROR already queued for us.
 * If so, its reason replaces ours.
 */
void
perr_why(int s, struct perr *pe)
{
	struct deadline dl;
	struct frame f;
	struct perr why;

	if (pe->remote || (pe->errnum != EPIPE && pe->errnum != ECONNRESET))
		return;
	deadline_in(&dl, 100);
	if (frame_recv(s, &f, &dl, &why) != 1)
		return;
	if (f.type == F_ERROR && f.nfds == 0 && perr_remote(&why, &f) == 0)
		*pe = why;
	frame_free(&f);
}

/*
 * An output queue: frames for a non-blocking socket, sent as it takes
 * them, so that a peer that does not read holds up nobody but itself.
 * The fds of one frame at a time wait in the queue for the first byte of
 * their frame: until it is out they are the caller's (who keeps them
 * open), or the queue's own copies once outq_keep made them.
 */
static int
outq_room(struct outq *q, size_t n, struct perr *pe)
{
	unsigned char *p;
	size_t cap;

	if (q->off > 0) {
		memmove(q->p, q->p + q->off, q->len - q->off);
		q->len -= q->off;
		q->fdat -= q->nfds > 0 ? q->off : 0;
		q->off = 0;
	}
	if (q->cap - q->len >= n)
		return 0;
	for (cap = q->cap ? q->cap : 4096; cap - q->len < n; cap *= 2)
		;
	if ((p = realloc(q->p, cap)) == NULL) {
		perr_sys(pe, "malloc");
		return -1;
	}
	q->p = p;
	q->cap = cap;
	return 0;
}

/* Queue a frame; at most one frame with fds may wait at a time. */
int
outq_frame(struct outq *q, int type, int flags, const void *data,
    size_t len, const int *fds, int nfds, struct perr *pe)
{
	if (nfds > 0 && q->nfds > 0) {
		errno = EBUSY;
		perr_sys(pe, "queue fds");
		return -1;
	}
	if (outq_room(q, PROTO_HDRLEN + len, pe) == -1)
		return -1;
	if (nfds > 0) {
		memcpy(q->fds, fds, nfds * sizeof(int));
		q->nfds = nfds;
		q->owned = 0;
		q->fdat = q->len;
	}
	hdr_put(q->p + q->len, type, flags, len, nfds);
	if (len > 0)
		memcpy(q->p + q->len + PROTO_HDRLEN, data, len);
	q->len += PROTO_HDRLEN + len;
	return 0;
}

int
outq_ack(struct outq *q, uint32_t count, struct perr *pe)
{
	unsigned char b[ACK_LEN];

	ack_put(b, count);
	return outq_frame(q, F_ACK, 0, b, sizeof(b), NULL, 0, pe);
}

int
outq_error(struct outq *q, const struct perr *pe)
{
	unsigned char buf[2 + sizeof(pe->msg)];
	struct perr ignored;
	size_t n = error_put(buf, pe->code, pe->msg);

	return outq_frame(q, F_ERROR, 0, buf, n, NULL, 0, &ignored);
}

/*
 * Queue one F_OFFER of the fds of set from i on, at most PROTO_MAXFDS of
 * them, with FF_MORE unless it reaches the end.  Returns how many.
 */
int
outq_offer(struct outq *q, const struct fdset *set, size_t i,
    struct perr *pe)
{
	unsigned char *buf;
	size_t k, len;
	int r;

	k = set->n - i < PROTO_MAXFDS ? set->n - i : PROTO_MAXFDS;
	if ((buf = malloc(PROTO_MAXFDS * (1 + PROTO_NAMEMAX))) == NULL) {
		perr_sys(pe, "malloc");
		return -1;
	}
	len = offer_payload(buf, set, i, k);
	r = outq_frame(q, F_OFFER, i + k < set->n ? FF_MORE : 0, buf, len,
	    set->fds + i, k, pe);
	free(buf);
	return r == -1 ? -1 : (int)k;
}

/*
 * The fds still waiting become the queue's own copies, so that the
 * caller may close its own meanwhile.
 */
int
outq_keep(struct outq *q, struct perr *pe)
{
	int i, fd;

	if (q->owned)
		return 0;
	for (i = 0; i < q->nfds; i++) {
		if ((fd = fcntl(q->fds[i], F_DUPFD_CLOEXEC, 0)) == -1) {
			perr_sys(pe, "dup");
			close_fds(q->fds, i);
			q->nfds = 0;
			return -1;
		}
		q->fds[i] = fd;
	}
	q->owned = 1;
	return 0;
}

static void
outq_sent_fds(struct outq *q)
{
	if (q->owned)
		close_fds(q->fds, q->nfds);
	q->nfds = 0;
	q->owned = 0;
}

/*
 * Send what the socket takes now.  Returns 1 once all is sent, 0 when
 * the rest must wait for POLLOUT, -1 on error.
 */
int
outq_flush(int s, struct outq *q, struct perr *pe)
{
	union ctlbuf ctl;
	struct msghdr msg;
	struct iovec iov;
	size_t end;
	ssize_t n;

	while (q->off < q->len) {
		/* Fds ride on their byte: stop short of it, or send it. */
		end = q->nfds > 0 && q->off < q->fdat ? q->fdat : q->len;
		memset(&msg, 0, sizeof(msg));
		iov.iov_base = q->p + q->off;
		iov.iov_len = end - q->off;
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		if (q->nfds > 0 && q->off == q->fdat)
			rights_put(&msg, &ctl, q->fds, q->nfds);
		if ((n = sendmsg(s, &msg, MSG_NOSIGNAL)) >= 0) {
			if (n > 0 && q->nfds > 0 && q->off == q->fdat)
				outq_sent_fds(q);
			q->off += n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		perr_sys(pe, "send");
		return -1;
	}
	q->off = q->len = 0;
	return 1;
}

int
outq_empty(const struct outq *q)
{
	return q->off == q->len;
}

void
outq_free(struct outq *q)
{
	outq_sent_fds(q);
	free(q->p);
	memset(q, 0, sizeof(*q));
}

/* Raw mode: each message one byte, and at most PROTO_MAXFDS fds on it. */
int
raw_send(int s, const struct fdset *set, const struct deadline *dl,
    struct perr *pe)
{
	union ctlbuf ctl;
	struct msghdr msg;
	struct iovec iov;
	size_t i = 0, k;
	char byte = 0;

	while (i < set->n) {
		k = set->n - i < PROTO_MAXFDS ? set->n - i : PROTO_MAXFDS;
		memset(&msg, 0, sizeof(msg));
		iov.iov_base = &byte;
		iov.iov_len = 1;
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		rights_put(&msg, &ctl, set->fds + i, k);
		if (sendmsg(s, &msg, MSG_NOSIGNAL) == 1) {
			i += k;
			continue;
		}
		if (errno == EINTR)
			continue;
		if ((errno == EAGAIN || errno == EWOULDBLOCK) &&
		    deadline_poll(s, POLLOUT, dl) == 0)
			continue;
		perr_sys(pe, "send");
		return -1;
	}
	return 0;
}

/*
 * Raw mode: every fd the peer sends, on whatever bytes, until it closes.
 * The bytes are discarded.  Returns 1, 0 if the peer closed without sending
 * an fd, or -1 with nothing left open.
 */
int
raw_recv(int s, struct fdset *set, const struct deadline *dl,
    struct perr *pe)
{
	union ctlbuf ctl;
	struct msghdr msg;
	struct iovec iov;
	char buf[4096];
	int fds[CTL_FDS], k, i;
	ssize_t n;

	for (;;) {
		memset(&msg, 0, sizeof(msg));
		iov.iov_base = buf;
		iov.iov_len = sizeof(buf);
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof(ctl.buf);
		if ((n = recvmsg(s, &msg, RECV_FLAGS)) == -1) {
			if (errno == EINTR)
				continue;
			if ((errno == EAGAIN || errno == EWOULDBLOCK) &&
			    deadline_poll(s, POLLIN, dl) == 0)
				continue;
			perr_sys(pe, "receive");
			goto fail;
		}
		if ((k = take_fds(&msg, fds, CTL_FDS, pe)) < 0)
			goto fail;
		for (i = 0; i < k; i++)
			if (fdset_add(set, fds[i], "") == -1) {
				close_fds(fds + i, k - i);
				perr_sys(pe, "malloc");
				goto fail;
			}
		if (msg.msg_flags & MSG_CTRUNC) {
			perr_set(pe, PE_TRUNC, "fds lost in transit "
			    "(MSG_CTRUNC); out of fds?");
			goto fail;
		}
		if (n == 0)
			return set->n > 0 ? 1 : 0;
	}
fail:
	fdset_close(set);
	return -1;
}
