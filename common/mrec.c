/* ISC license: see LICENSE. */
/*
 * The record of a moved connection (mrec.h), and frames over a byte
 * stream without fds (a pipe, or ssh's standard input and output): the
 * importer and the exporter talk over whatever transport the operator's
 * command gives them.  The record comes from another host: every length
 * is checked against what came, every field against what it may be.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mrec.h"

#define WSCALE_MAX	14	/* RFC 7323 */

void
mrec_put(struct wbuf *b, const struct mrec *m)
{
	const struct tcpconn *t = &m->tc;

	wb_u8(b, MREC_VERSION);
	wb_u8(b, t->family == AF_INET6 ? 6 : 4);
	wb_u8(b, t->opts);
	wb_u8(b, t->snd_wscale);
	wb_u8(b, t->rcv_wscale);
	wb_u8(b, 0);
	wb_u16(b, t->mss);
	wb_bytes(b, t->laddr, 16);
	wb_u16(b, t->lport);
	wb_bytes(b, t->raddr, 16);
	wb_u16(b, t->rport);
	wb_u32(b, t->snd_seq);
	wb_u32(b, t->rcv_seq);
	wb_u32(b, t->tsval);
	wb_u32(b, t->wl1);
	wb_u32(b, t->wnd);
	wb_u32(b, t->maxwnd);
	wb_u32(b, t->rwnd);
	wb_u32(b, t->rwup);
	wb_u64(b, m->frozen);
	wb_u32(b, t->sndlen);
	wb_u32(b, t->unsent);
	wb_u32(b, t->rcvlen);
	wb_u32(b, m->olen);
	wb_u32(b, m->ilen);
	wb_bytes(b, t->sndq, t->sndlen);
	wb_bytes(b, t->rcvq, t->rcvlen);
	wb_bytes(b, m->ob, m->olen);
	wb_bytes(b, m->ib, m->ilen);
}

/* What mrec_put wrote: 0, or -1 with pe.  The pointers are into r. */
int
mrec_get(struct rbuf *r, struct mrec *m, struct perr *pe)
{
	struct tcpconn *t = &m->tc;
	const void *p;
	unsigned fam, zero;

	memset(m, 0, sizeof(*m));
	if ((m->version = rb_u8(r)) != MREC_VERSION && !r->bad) {
		perr_set(pe, PE_VERSION, "record version %u not supported "
		    "(this is %u)", m->version, MREC_VERSION);
		return -1;
	}
	fam = rb_u8(r);
	t->family = fam == 6 ? AF_INET6 : AF_INET;
	t->opts = rb_u8(r);
	t->snd_wscale = rb_u8(r);
	t->rcv_wscale = rb_u8(r);
	zero = rb_u8(r);
	t->mss = rb_u16(r);
	if ((p = rb_bytes(r, 16)) != NULL)
		memcpy(t->laddr, p, 16);
	t->lport = rb_u16(r);
	if ((p = rb_bytes(r, 16)) != NULL)
		memcpy(t->raddr, p, 16);
	t->rport = rb_u16(r);
	t->snd_seq = rb_u32(r);
	t->rcv_seq = rb_u32(r);
	t->tsval = rb_u32(r);
	t->wl1 = rb_u32(r);
	t->wnd = rb_u32(r);
	t->maxwnd = rb_u32(r);
	t->rwnd = rb_u32(r);
	t->rwup = rb_u32(r);
	m->frozen = rb_u64(r);
	t->sndlen = rb_u32(r);
	t->unsent = rb_u32(r);
	t->rcvlen = rb_u32(r);
	m->olen = rb_u32(r);
	m->ilen = rb_u32(r);
	t->sndq = (unsigned char *)(uintptr_t)rb_bytes(r, t->sndlen);
	t->rcvq = (unsigned char *)(uintptr_t)rb_bytes(r, t->rcvlen);
	m->ob = rb_bytes(r, m->olen);
	m->ib = rb_bytes(r, m->ilen);
	if (rb_end(r) == -1 || (fam != 4 && fam != 6) || zero != 0 ||
	    (t->opts & ~(TCPR_OPT_TS | TCPR_OPT_SACK | TCPR_OPT_WSCALE)) ||
	    t->snd_wscale > WSCALE_MAX || t->rcv_wscale > WSCALE_MAX ||
	    t->mss == 0 || t->unsent > t->sndlen || t->lport == 0 ||
	    t->rport == 0) {
		perr_set(pe, PE_PROTO, "malformed record of a connection");
		return -1;
	}
	return 0;
}

/* All of len bytes to fd, waiting up to dl each time it is full. */
static int
write_all(int fd, const unsigned char *p, size_t len,
    const struct deadline *dl, struct perr *pe)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) > 0) {
			p += n;
			len -= n;
		} else if (n == -1 && errno == EAGAIN) {
			if (deadline_poll(fd, POLLOUT, dl) == -1)
				goto fail;
		} else if (n == -1 && errno != EINTR)
			goto fail;
	}
	return 0;
fail:
	perr_sys(pe, "write");
	return -1;
}

/* A frame without fds to a pipe (or any fd). */
int
pframe_write(int fd, int type, const void *data, size_t len,
    const struct deadline *dl, struct perr *pe)
{
	unsigned char hdr[PROTO_HDRLEN];

	hdr_put(hdr, type, 0, len, 0);
	if (write_all(fd, hdr, sizeof(hdr), dl, pe) == -1 ||
	    write_all(fd, data, len, dl, pe) == -1)
		return -1;
	return 0;
}

/* Exactly len bytes: 1, 0 at end of file before the first, -1 with pe. */
static int
read_all(int fd, unsigned char *p, size_t len, const struct deadline *dl,
    struct perr *pe)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		/* A blocking fd (ssh's pipe) is bounded by poll alone. */
		if (dl != NULL && deadline_poll(fd, POLLIN, dl) == -1) {
			perr_sys(pe, "read");
			return -1;
		}
		if ((n = read(fd, p + got, len - got)) > 0)
			got += n;
		else if (n == 0 && got == 0)
			return 0;
		else if (n == 0) {
			perr_set(pe, PE_PROTO, "peer closed mid-frame");
			return -1;
		} else if (errno == EAGAIN) {
			if (deadline_poll(fd, POLLIN, dl) == -1) {
				perr_sys(pe, "read");
				return -1;
			}
		} else if (errno != EINTR) {
			perr_sys(pe, "read");
			return -1;
		}
	}
	return 1;
}

/*
 * A frame without fds from a pipe, its payload up to PROTO_MAXLEN.
 * Returns 1, 0 at end of file before a frame began, -1 with pe.
 */
int
pframe_read(int fd, struct frame *f, const struct deadline *dl,
    struct perr *pe)
{
	unsigned char hdr[PROTO_HDRLEN];
	struct hdr h;
	int r;

	memset(f, 0, sizeof(*f));
	if ((r = read_all(fd, hdr, sizeof(hdr), dl, pe)) <= 0)
		return r;
	hdr_get(hdr, &h);
	if (!h.magic || h.nfds != 0 || h.len > PROTO_MAXLEN) {
		perr_set(pe, PE_PROTO, "not a frame of fdproto(7) (bytes "
		    "0x%02x%02x%02x%02x)", hdr[0], hdr[1], hdr[2], hdr[3]);
		return -1;
	}
	if (h.version != PROTO_VERSION) {
		perr_set(pe, PE_VERSION, "protocol version %u not supported "
		    "(this is %u)", h.version, PROTO_VERSION);
		return -1;
	}
	f->version = h.version;
	f->type = h.type;
	f->flags = h.flags;
	f->len = h.len;
	if ((f->data = malloc(h.len + 1)) == NULL) {
		perr_sys(pe, "malloc");
		return -1;
	}
	f->data[h.len] = '\0';
	if ((r = read_all(fd, f->data, h.len, dl, pe)) == 1 || h.len == 0)
		return 1;
	if (r == 0)
		perr_set(pe, PE_PROTO, "peer closed mid-frame");
	frame_free(f);
	return -1;
}
