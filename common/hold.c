/* ISC license: see LICENSE. */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hold.h"
#include "json.h"
#include "sock.h"
#include "trust.h"

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
	unsigned char c[2] = { v >> 8, v };

	wb_bytes(b, c, 2);
}

void
wb_u32(struct wbuf *b, uint32_t v)
{
	wb_u16(b, v >> 16);
	wb_u16(b, v & 0xffff);
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

	return p ? (unsigned)p[0] << 8 | p[1] : 0;
}

uint32_t
rb_u32(struct rbuf *r)
{
	uint32_t hi = rb_u16(r);

	return hi << 16 | rb_u16(r);
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

/* What kind of fd this is, for a listing. */
int
fd_kind(int fd)
{
	struct stat st;
	socklen_t len;
	int type, on;

	if (fstat(fd, &st) == -1)
		return FK_OTHER;
	if (S_ISFIFO(st.st_mode))
		return FK_FIFO;
	if (S_ISREG(st.st_mode))
		return FK_FILE;
	if (S_ISCHR(st.st_mode))
		return FK_CHAR;
	if (S_ISDIR(st.st_mode))
		return FK_DIR;
	if (S_ISBLK(st.st_mode))
		return FK_BLOCK;
	if (!S_ISSOCK(st.st_mode))
		return FK_OTHER;
	len = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1)
		return FK_OTHER;
	if (type == SOCK_DGRAM)
		return FK_DGRAM;
	if (type == SOCK_SEQPACKET)
		return FK_SEQPACKET;
	len = sizeof(on);
	if (type == SOCK_STREAM &&
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 && on)
		return FK_LISTEN;
	return type == SOCK_STREAM ? FK_STREAM : FK_OTHER;
}

const char *
fd_kind_str(int kind)
{
	static const char *names[] = {
		"other", "stream", "listen", "dgram", "seqpacket", "fifo",
		"file", "char", "dir", "block"
	};

	if (kind < 0 || kind >= (int)(sizeof(names) / sizeof(names[0])))
		return "other";
	return names[kind];
}

/*
 * Connect at once to the holder on a, as its client, and check that its
 * credentials are trusted.  Returns the socket, or -1 with pe set.
 */
int
hold_connect(const struct addr *a, const struct trust *trust,
    const struct deadline *dl, struct perr *pe)
{
	struct endpoint ep;
	struct peer p;
	char what[sizeof(pe->msg)];
	int s;

	snprintf(what, sizeof(what), "connect %s", a->str);
	if (ep_connect_now(&ep, a, dl) == -1 || (s = ep_next(&ep, dl)) == -1) {
		if (errno == ETIMEDOUT) {
			perr_set(pe, PE_SYS, "%s: timed out", what);
			pe->errnum = ETIMEDOUT;
		} else
			perr_sys(pe, what);
		return -1;
	}
	if (peer_get(s, &p) == -1) {
		snprintf(what, sizeof(what), "%s: peer credentials", a->str);
		perr_sys(pe, what);
		close(s);
		return -1;
	}
	if (!peer_trusted(&p, trust)) {
		perr_set(pe, PE_REFUSED, "%s: refused holder %s", a->str,
		    peer_str(&p));
		close(s);
		return -1;
	}
	return s;
}

static int
request_send(int s, int type, struct wbuf *b, const struct deadline *dl,
    struct perr *pe)
{
	int r;

	if (b->oom) {
		errno = ENOMEM;
		perr_sys(pe, "malloc");
		r = -1;
	} else
		r = frame_send(s, type, 0, b->p, b->len, NULL, 0, dl, pe);
	wb_free(b);
	return r;
}

/*
 * The store's verdict: F_ACK and its count, or its F_ERROR as pe.  Returns
 * the count, or -1.
 */
static long long
verdict_recv(int s, const struct deadline *dl, struct perr *pe)
{
	struct frame f;
	long long n = -1;
	int r;

	if ((r = frame_recv(s, &f, dl, pe)) <= 0) {
		if (r == 0) {
			perr_set(pe, PE_SYS, "holder closed without answering");
			pe->errnum = ECONNRESET;
		}
		return -1;
	}
	if (f.type == F_ERROR)
		perr_remote(pe, &f);
	else if (f.type != F_ACK || f.len != 4 || f.nfds > 0)
		perr_set(pe, PE_PROTO, "expected a confirmation, got frame "
		    "type %u", f.type);
	else
		n = (long long)f.data[0] << 24 | f.data[1] << 16 |
		    f.data[2] << 8 | f.data[3];
	frame_free(&f);
	return n;
}

/* Store the set under name, for ttl seconds (HOLD_FOREVER: no expiry). */
int
hold_store(int s, const char *name, uint32_t ttl, const struct fdset *set,
    const struct deadline *dl, struct perr *pe)
{
	struct wbuf b = { 0 };
	long long n;

	wb_name(&b, name);
	wb_u32(&b, ttl);
	if (request_send(s, F_STORE, &b, dl, pe) == -1)
		return -1;
	if (fdset_send(s, set, dl, pe) == -1) {
		/* The store may have said why before it closed. */
		if (verdict_recv(s, dl, pe) >= 0)
			perr_set(pe, PE_PROTO, "holder confirmed a store it "
			    "did not receive");
		return -1;
	}
	if ((n = verdict_recv(s, dl, pe)) < 0)
		return -1;
	if ((size_t)n != set->n) {
		perr_set(pe, PE_PROTO, "holder confirmed %lld fds of %zu", n,
		    set->n);
		return -1;
	}
	return 0;
}

/*
 * Ask for the entry name; its fds and their names land in set.  The store
 * removes it (FETCH_REMOVE) only once hold_confirm told it we have them
 * and then the connection ends without an F_ERROR, fdproto(7).
 */
int
hold_fetch(int s, const char *name, int flags, struct fdset *set,
    const struct deadline *dl, struct perr *pe)
{
	struct wbuf b = { 0 };
	int r;

	wb_u8(&b, flags);
	wb_name(&b, name);
	if (request_send(s, F_FETCH, &b, dl, pe) == -1)
		return -1;
	if ((r = fdset_recv(s, set, dl, pe)) == 0) {
		perr_set(pe, PE_SYS, "holder closed without answering");
		pe->errnum = ECONNRESET;
	}
	return r == 1 ? 0 : -1;
}

int
hold_confirm(int s, size_t n, const struct deadline *dl, struct perr *pe)
{
	return ack_send(s, n, dl, pe);
}

/* An entry of F_ENTRIES, read. */
struct listed {
	char			 name[PROTO_NAMEMAX + 1];
	uint32_t		 uid;
	uint32_t		 age;
	uint32_t		 ttl;
	unsigned		 n;
	const unsigned char	*kinds;		/* n of them */
	int			 reserved;	/* -1: the store did not say */
};

static int
listed_read(struct rbuf *r, int state, struct listed *e)
{
	rb_name(r, e->name);
	e->uid = rb_u32(r);
	e->age = rb_u32(r);
	e->ttl = rb_u32(r);
	e->n = rb_u16(r);
	e->kinds = rb_bytes(r, e->n);
	e->reserved = state ? (rb_u8(r) & ENTRY_RESERVED) != 0 : -1;
	return r->bad || e->n == 0 ? -1 : 0;
}

/* name, uid, age, time left, kinds; a sixth field while reserved. */
static void
listed_text(FILE *fp, const struct listed *e)
{
	unsigned i;

	fprintf(fp, "%s\t%lu\t%lus\t", e->name, (unsigned long)e->uid,
	    (unsigned long)e->age);
	if (e->ttl == HOLD_FOREVER)
		fprintf(fp, "never\t");
	else
		fprintf(fp, "%lus\t", (unsigned long)e->ttl);
	for (i = 0; i < e->n; i++)
		fprintf(fp, "%s%s", i ? "," : "", fd_kind_str(e->kinds[i]));
	fputs(e->reserved == 1 ? "\treserved\n" : "\n", fp);
}

/* The same as one JSON object on a line, fdholder(1)'s keys. */
static void
listed_json(FILE *fp, const struct listed *e)
{
	unsigned i;

	fputs("{\"name\":", fp);
	json_str(fp, e->name);
	fprintf(fp, ",\"uid\":%lu,\"age\":%lu,\"ttl\":", (unsigned long)e->uid,
	    (unsigned long)e->age);
	if (e->ttl == HOLD_FOREVER)
		fputs("null", fp);
	else
		fprintf(fp, "%lu", (unsigned long)e->ttl);
	fprintf(fp, ",\"fds\":%u,\"kinds\":[", e->n);
	for (i = 0; i < e->n; i++) {
		fputs(i ? "," : "", fp);
		json_str(fp, fd_kind_str(e->kinds[i]));
	}
	fprintf(fp, "],\"reserved\":%s}\n", e->reserved == -1 ? "null" :
	    e->reserved ? "true" : "false");
}

/*
 * Print what the store holds, one entry a line, as text or JSON.  We ask
 * for the entries' state (FF_STATE); a store that ignores the flag sends
 * none.
 */
int
hold_list(int s, FILE *fp, int json, const struct deadline *dl,
    struct perr *pe)
{
	struct listed e;
	struct frame f;
	struct rbuf r;
	int rc, more;

	if (frame_send(s, F_LIST, FF_STATE, NULL, 0, NULL, 0, dl, pe) == -1)
		return -1;
	do {
		if ((rc = frame_recv(s, &f, dl, pe)) <= 0) {
			if (rc == 0) {
				perr_set(pe, PE_SYS, "holder closed without "
				    "answering");
				pe->errnum = ECONNRESET;
			}
			return -1;
		}
		more = f.flags & FF_MORE;
		rc = -1;
		if (f.type == F_ERROR)
			perr_remote(pe, &f);
		else if (f.type != F_ENTRIES || f.nfds > 0)
			perr_set(pe, PE_PROTO, "expected a list, got frame "
			    "type %u", f.type);
		else {
			rc = 0;
			rb_init(&r, f.data, f.len);
			while (rc == 0 && r.off < r.len) {
				if ((rc = listed_read(&r, f.flags & FF_STATE,
				    &e)) == -1)
					perr_set(pe, PE_PROTO, "malformed list");
				else if (json)
					listed_json(fp, &e);
				else
					listed_text(fp, &e);
			}
		}
		frame_free(&f);
		if (rc == -1)
			return -1;
	} while (more);
	return 0;
}

/* Close the entry name in the store.  Returns 0, or -1. */
int
hold_delete(int s, const char *name, const struct deadline *dl,
    struct perr *pe)
{
	struct wbuf b = { 0 };

	wb_name(&b, name);
	if (request_send(s, F_DELETE, &b, dl, pe) == -1)
		return -1;
	return verdict_recv(s, dl, pe) < 0 ? -1 : 0;
}
