/* ISC license: see LICENSE. */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "outq.h"
#include "scm.h"
#include "wire.h"

/*
 * An output queue: frames for a non-blocking socket, sent as it takes
 * them, so that a peer that does not read holds up nobody but itself.
 * The fds of one frame at a time wait in the queue for the first byte of
 * their frame, and are the caller's until it is out: the caller keeps
 * them open, or withdraws the frame before it closes them (outq_withdraw).
 * No copies: a copy is an fd that no budget of the caller counts.
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
outq_frame(struct outq *q, const struct frout *fo, struct perr *pe)
{
	size_t len = fo->len;
	int nfds = fo->nfds;

	if (nfds > 0 && q->nfds > 0) {
		errno = EBUSY;
		perr_sys(pe, "queue fds");
		return -1;
	}
	if (outq_room(q, PROTO_HDRLEN + len, pe) == -1)
		return -1;
	if (nfds > 0) {
		memcpy(q->fds, fo->fds, nfds * sizeof(int));
		q->nfds = nfds;
		q->fdat = q->len;
	}
	hdr_put(q->p + q->len, fo->type, fo->flags, len, nfds);
	if (len > 0)
		memcpy(q->p + q->len + PROTO_HDRLEN, fo->data, len);
	q->len += PROTO_HDRLEN + len;
	return 0;
}

int
outq_ack(struct outq *q, uint32_t count, struct perr *pe)
{
	unsigned char b[ACK_LEN];

	ack_put(b, count);
	return outq_frame(q, &(struct frout){ .type = F_ACK, .data = b,
	    .len = sizeof(b) }, pe);
}

int
outq_error(struct outq *q, const struct perr *pe)
{
	unsigned char buf[2 + sizeof(pe->msg)];
	struct perr ignored;
	size_t n = error_put(buf, pe->code, pe->msg);

	return outq_frame(q, &(struct frout){ .type = F_ERROR, .data = buf,
	    .len = n }, &ignored);
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
	r = outq_frame(q, &(struct frout){ F_OFFER,
	    i + k < set->n ? FF_MORE : 0, buf, len, set->fds + i, (int)k }, pe);
	free(buf);
	return r == -1 ? -1 : (int)k;
}

/*
 * The caller is about to close the fds waiting: take their frame out of
 * the queue, with nothing of it sent (their first byte carries them).
 */
void
outq_withdraw(struct outq *q)
{
	struct hdr h;
	size_t n;

	if (q->nfds == 0)
		return;
	hdr_get(q->p + q->fdat, &h);
	n = PROTO_HDRLEN + h.len;
	memmove(q->p + q->fdat, q->p + q->fdat + n, q->len - q->fdat - n);
	q->len -= n;
	q->nfds = 0;
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
		if ((n = scm_send(s, &msg, NULL)) == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			perr_sys(pe, "send");
			return -1;
		}
		if (n > 0 && q->nfds > 0 && q->off == q->fdat)
			q->nfds = 0;
		q->off += n;
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
	free(q->p);
	memset(q, 0, sizeof(*q));
}
