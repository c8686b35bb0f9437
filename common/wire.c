/* ISC license: see LICENSE. */
#include <stdlib.h>
#include <string.h>

#include "fd.h"
#include "offer.h"
#include "wire.h"

/* The only places a big endian number is written and read. */
static void
put16(unsigned char *p, unsigned v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void
put32(unsigned char *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

static unsigned
get16(const unsigned char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static void
wb_grow(struct wbuf *b, size_t n)
{
	unsigned char *p;
	size_t cap;

	if (b->oom || b->cap - b->len >= n)
		return;
	for (cap = b->cap ? b->cap : 256; cap - b->len < n; cap *= 2)
		;
	if ((p = realloc(b->p, cap)) == NULL) {
		b->oom = 1;
		return;
	}
	b->p = p;
	b->cap = cap;
}

void
wb_bytes(struct wbuf *b, const void *data, size_t n)
{
	wb_grow(b, n);
	if (b->oom || n == 0)
		return;
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

void
wb_u8(struct wbuf *b, unsigned v)
{
	unsigned char c = v;

	wb_bytes(b, &c, 1);
}

void
wb_u16(struct wbuf *b, unsigned v)
{
	unsigned char c[2];

	put16(c, v);
	wb_bytes(b, c, 2);
}

void
wb_u32(struct wbuf *b, uint32_t v)
{
	unsigned char c[4];

	put32(c, v);
	wb_bytes(b, c, 4);
}

void
wb_u64(struct wbuf *b, uint64_t v)
{
	wb_u32(b, v >> 32);
	wb_u32(b, v & 0xffffffff);
}

/* A name: its length in one byte, then its bytes. */
void
wb_name(struct wbuf *b, const char *name)
{
	size_t n = strlen(name);

	wb_u8(b, n);
	wb_bytes(b, name, n);
}

void
wb_free(struct wbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

void
rb_init(struct rbuf *r, const void *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->off = 0;
	r->bad = 0;
}

const void *
rb_bytes(struct rbuf *r, size_t n)
{
	const void *p;

	if (r->bad || r->len - r->off < n) {
		r->bad = 1;
		return NULL;
	}
	p = r->p + r->off;
	r->off += n;
	return p;
}

unsigned
rb_u8(struct rbuf *r)
{
	const unsigned char *p = rb_bytes(r, 1);

	return p ? p[0] : 0;
}

unsigned
rb_u16(struct rbuf *r)
{
	const unsigned char *p = rb_bytes(r, 2);

	return p ? get16(p) : 0;
}

uint32_t
rb_u32(struct rbuf *r)
{
	const unsigned char *p = rb_bytes(r, 4);

	return p ? get32(p) : 0;
}

uint64_t
rb_u64(struct rbuf *r)
{
	uint64_t hi = rb_u32(r);

	return hi << 32 | rb_u32(r);
}

/* A name as wb_name wrote it; 0 and bad set if it is not a valid one. */
int
rb_name(struct rbuf *r, char name[PROTO_NAMEMAX + 1])
{
	size_t n = rb_u8(r);
	const char *p = rb_bytes(r, n);

	if (p == NULL || !name_valid(p, n)) {
		r->bad = 1;
		name[0] = '\0';
		return 0;
	}
	memcpy(name, p, n);
	name[n] = '\0';
	return 1;
}

/* Was all of it read, and well?  0 if so, else -1. */
int
rb_end(const struct rbuf *r)
{
	return r->bad || r->off != r->len ? -1 : 0;
}

void
hdr_put(unsigned char h[PROTO_HDRLEN], int type, int flags, size_t len,
    int nfds)
{
	h[0] = 'F';
	h[1] = 'D';
	h[2] = PROTO_VERSION;
	h[3] = type;
	put16(h + 4, nfds);
	put16(h + 6, flags);
	put32(h + 8, len);
}

void
hdr_get(const unsigned char h[PROTO_HDRLEN], struct hdr *hd)
{
	struct rbuf r;

	rb_init(&r, h, PROTO_HDRLEN);
	hd->magic = rb_u8(&r) == 'F';
	hd->magic &= rb_u8(&r) == 'D';
	hd->version = rb_u8(&r);
	hd->type = rb_u8(&r);
	hd->nfds = rb_u16(&r);
	hd->flags = rb_u16(&r);
	hd->len = rb_u32(&r);
}

void
ack_put(unsigned char b[ACK_LEN], uint32_t count)
{
	put32(b, count);
}

/* The count of an F_ACK; -1 if f is not one. */
int
ack_get(const struct frame *f, uint32_t *count)
{
	if (f->type != F_ACK || f->len != ACK_LEN)
		return -1;
	*count = get32(f->data);
	return 0;
}

/* F_ERROR's payload in buf, of 2 + strlen(msg) bytes: returns its length. */
size_t
error_put(unsigned char *buf, int code, const char *msg)
{
	size_t n = strlen(msg);

	put16(buf, code);
	memcpy(buf + 2, msg, n);
	return 2 + n;
}

int
error_get(const struct frame *f, int *code, const char **msg, int *msglen)
{
	if (f->type != F_ERROR || f->len < 2)
		return -1;
	*code = get16(f->data);
	*msg = (const char *)f->data + 2;
	*msglen = (int)f->len - 2;
	return 0;
}

void
take_put(struct wbuf *b, int kind)
{
	wb_u8(b, kind);
}

int
take_get(struct rbuf *r, int *kind)
{
	*kind = rb_u8(r);
	return rb_end(r);
}

void
store_put(struct wbuf *b, const char *name, uint32_t ttl)
{
	wb_name(b, name);
	wb_u32(b, ttl);
}

int
store_get(struct rbuf *r, char name[PROTO_NAMEMAX + 1], uint32_t *ttl)
{
	rb_name(r, name);
	*ttl = rb_u32(r);
	return rb_end(r);
}

void
fetch_put(struct wbuf *b, int flags, const char *name)
{
	wb_u8(b, flags);
	wb_name(b, name);
}

int
fetch_get(struct rbuf *r, int *flags, char name[PROTO_NAMEMAX + 1])
{
	*flags = rb_u8(r);
	rb_name(r, name);
	return rb_end(r);
}

int
list_get(struct rbuf *r)
{
	return r->len != 0 ? -1 : 0;
}

void
delete_put(struct wbuf *b, const char *name)
{
	wb_name(b, name);
}

int
delete_get(struct rbuf *r, char name[PROTO_NAMEMAX + 1])
{
	rb_name(r, name);
	return rb_end(r);
}

void
entry_put(struct wbuf *b, const struct wentry *e, const int *fds)
{
	unsigned j;

	wb_name(b, e->name);
	wb_u32(b, e->uid);
	wb_u32(b, e->age);
	wb_u32(b, e->ttl);
	wb_u16(b, e->nfds);
	for (j = 0; j < e->nfds; j++)
		wb_u8(b, fd_kind(fds[j]));
	if (e->reserved != -1)
		wb_u8(b, e->reserved ? ENTRY_RESERVED : 0);
}

/* The next entry of an F_ENTRIES payload; -1 if it is malformed. */
int
entry_get(struct rbuf *r, int state, struct wentry *e)
{
	rb_name(r, e->name);
	e->uid = rb_u32(r);
	e->age = rb_u32(r);
	e->ttl = rb_u32(r);
	e->nfds = rb_u16(r);
	e->kinds = rb_bytes(r, e->nfds);
	e->reserved = state ? (rb_u8(r) & ENTRY_RESERVED) != 0 : -1;
	return r->bad || e->nfds == 0 ? -1 : 0;
}

void
handoff_put(struct wbuf *b, const struct handoff *h)
{
	wb_u8(b, h->kind);
	wb_u8(b, h->flags);
	wb_u16(b, 0);
	wb_u64(b, h->dev);
	wb_u64(b, h->ino);
	if (h->kind == HOLD_CONN) {
		wb_u32(b, h->olen);
		wb_u32(b, h->ilen);
		wb_bytes(b, h->ob, h->olen);
		wb_bytes(b, h->ib, h->ilen);
	} else
		wb_u16(b, h->nrecs);
}

/* What handoff_put wrote; -1 if it was short.  The rest is the caller's. */
int
handoff_get(struct rbuf *r, struct handoff *h)
{
	memset(h, 0, sizeof(*h));
	h->kind = rb_u8(r);
	h->flags = rb_u8(r);
	rb_u16(r);
	h->dev = rb_u64(r);
	h->ino = rb_u64(r);
	if (h->kind == HOLD_CONN) {
		h->olen = rb_u32(r);
		h->ilen = rb_u32(r);
		h->ob = rb_bytes(r, h->olen);
		h->ib = rb_bytes(r, h->ilen);
	} else
		h->nrecs = rb_u16(r);
	return r->bad ? -1 : 0;
}

/*
 * A record, with since (FF_SINCE) or, for a successor that did not ask
 * for it, as whole seconds of age (down) and time left (up) at now.
 */
void
hrec_put(struct wbuf *b, const struct hrec *rec, int since, int64_t now)
{
	int64_t left = rec->since + (int64_t)rec->ttl * 1000 - now;

	wb_name(b, rec->name);
	wb_u32(b, rec->uid);
	wb_u32(b, rec->gid);
	if (since) {
		wb_u64(b, (uint64_t)rec->since);
		wb_u32(b, rec->ttl);
	} else {
		wb_u32(b, (uint32_t)((now - rec->since) / 1000));
		wb_u32(b, rec->ttl == HOLD_FOREVER ? HOLD_FOREVER :
		    left > 0 ? (uint32_t)((left + 999) / 1000) : 1);
	}
	wb_u32(b, rec->nfds);
}

/* A record as hrec_put wrote it; the seconds of one without since end
 * where they said, counted from now. */
int
hrec_get(struct rbuf *r, struct hrec *rec, int since, int64_t now)
{
	uint64_t life;
	uint32_t age;

	rb_name(r, rec->name);
	rec->uid = rb_u32(r);
	rec->gid = rb_u32(r);
	if (since) {
		rec->since = (int64_t)rb_u64(r);
		rec->ttl = rb_u32(r);
	} else {
		age = rb_u32(r);
		rec->since = now - (int64_t)age * 1000;
		rec->ttl = rb_u32(r);
		life = (uint64_t)rec->ttl + age;
		if (rec->ttl != HOLD_FOREVER && rec->ttl != 0)
			rec->ttl = life >= HOLD_FOREVER ? HOLD_FOREVER - 1 :
			    (uint32_t)life;
	}
	rec->nfds = rb_u32(r);
	return r->bad ? -1 : 0;
}
