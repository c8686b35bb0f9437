/* ISC license: see LICENSE. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "esc.h"
#include "fd.h"
#include "fdmap.h"
#include "offer.h"
#include "util.h"
#include "wire.h"

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

/*
 * Give back the room the set will not fill (it grows by doubling): a
 * store holds many.  Each array keeps at least n places, so a failed
 * shrink costs nothing but the room.
 */
void
fdset_trim(struct fdset *set)
{
	int *fds;
	char **names;

	if (set->n == 0 || set->n == set->cap)
		return;
	if ((fds = reallocarray(set->fds, set->n, sizeof(int))) != NULL)
		set->fds = fds;
	if ((names = reallocarray(set->names, set->n, sizeof(char *))) != NULL)
		set->names = names;
	set->cap = set->n;
}

void
fdset_close(struct fdset *set)
{
	fds_close(set->fds, set->n);
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
size_t
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
		r = frame_send(s, &(struct frout){ F_OFFER,
		    i + k < set->n ? FF_MORE : 0, buf, len, set->fds + i,
		    (int)k }, dl, pe);
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
 * Returns 1, 0 if the peer closed before sending anything, or -1.  Before
 * each frame *s moves out of the way of its fds (fd_lift), so that a set
 * lands from fd 3 up where the numbers are free.
 */
int
fdset_recv(int *s, struct fdset *set, const struct deadline *dl,
    struct perr *pe)
{
	struct frame f;
	int r, first = 1;

	for (;;) {
		if (fd_lift(s, 3 + (int)set->n + PROTO_MAXFDS) == -1) {
			perr_sys(pe, "move the connection");
			goto fail;
		}
		if ((r = frame_recv(*s, &f, dl, pe)) <= 0) {
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
	return frame_send(s, &(struct frout){ .type = F_ACK, .data = b,
	    .len = sizeof(b) }, dl, pe);
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
