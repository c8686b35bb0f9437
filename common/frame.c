/* ISC license: see LICENSE. */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "fd.h"
#include "frame.h"
#include "scm.h"
#include "wire.h"

/* Send all of fo, its fds riding on its first byte. */
int
frame_send(int s, const struct frout *fo, const struct deadline *dl,
    struct perr *pe)
{
	const void *data = fo->data;
	size_t len = fo->len;
	unsigned char hdr[PROTO_HDRLEN];
	union ctlbuf ctl;
	struct iovec iov[2];
	struct msghdr msg;
	size_t done = 0, total = PROTO_HDRLEN + len;
	ssize_t n;

	hdr_put(hdr, fo->type, fo->flags, len, fo->nfds);
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
			rights_put(&msg, &ctl, fo->fds, fo->nfds);
		if ((n = scm_send(s, &msg, dl)) == -1) {
			perr_sys(pe, "send");
			return -1;
		}
		done += n;
	}
	return 0;
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
frame_read(int s, struct frdec *d, struct perr *pe)
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
	if ((n = scm_recv(s, &msg, 0, NULL)) == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return FRAME_AGAIN;
		perr_sys(pe, "receive");
		return -1;
	}
	k = rights_take(&msg, d->f.fds + d->f.nfds, PROTO_MAXFDS - d->f.nfds,
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
 * recvmsg that does not wait (scm_recv), and what it brings stays in d
 * between calls.  A zeroed frdec is empty.
 * Returns 1 with the frame in f (then d is empty again), FRAME_AGAIN when
 * the rest has not come yet, 0 on end of file before a frame began, or
 * -1 on error with pe set and d emptied, no fd left open.
 */
int
frame_step(int s, struct frdec *d, struct frame *f, struct perr *pe)
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
		if ((n = frame_read(s, d, pe)) == FRAME_AGAIN)
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
	while ((r = frame_step(s, &d, f, pe)) == FRAME_AGAIN)
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
	fds_close(f->fds, f->nfds);
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

	frame_send(s, &(struct frout){ .type = F_ERROR, .data = buf,
	    .len = n }, dl, &ignored);
}
