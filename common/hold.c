/* ISC license: see LICENSE. */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fd.h"
#include "hold.h"
#include "json.h"
#include "sock.h"
#include "trust.h"

/*
 * Connect at once to the holder on a, as its client, and check that its
 * credentials are trusted.  Returns the socket, or -1 with pe set.
 */
/* Does connect's errno say that nothing listens at the address? */
int
no_store(int e)
{
	return e == ENOENT || e == ECONNREFUSED || e == ENOTSOCK;
}

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
		} else if (no_store(errno)) {
			perr_set(pe, PE_SYS, "%s: %s: no fdholder store is "
			    "there", what, strerror(errno));
			pe->errnum = errno;
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
	} else if ((r = frame_send(s, &(struct frout){ .type = type,
	    .data = b->p, .len = b->len }, dl, pe)) == -1)
		perr_why(s, pe);	/* refused as it accepted us? */
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
	uint32_t count;
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
	else if (f.nfds > 0 || ack_get(&f, &count) == -1)
		perr_set(pe, PE_PROTO, "expected a confirmation, got frame "
		    "type %u", f.type);
	else
		n = count;
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

	store_put(&b, name, ttl);
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
 * and then the connection ends without an F_ERROR, fdproto(7).  *s moves
 * out of the way of the fds (fdset_recv).
 */
int
hold_fetch(int *s, const char *name, int flags, struct fdset *set,
    const struct deadline *dl, struct perr *pe)
{
	struct wbuf b = { 0 };
	int r;

	fetch_put(&b, flags, name);
	if (request_send(*s, F_FETCH, &b, dl, pe) == -1)
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

/* name, uid, age, time left, kinds; a sixth field while reserved. */
static void
listed_text(FILE *fp, const struct wentry *e)
{
	unsigned i;

	fprintf(fp, "%s\t%lu\t%lus\t", e->name, (unsigned long)e->uid,
	    (unsigned long)e->age);
	if (e->ttl == HOLD_FOREVER)
		fprintf(fp, "never\t");
	else
		fprintf(fp, "%lus\t", (unsigned long)e->ttl);
	for (i = 0; i < e->nfds; i++)
		fprintf(fp, "%s%s", i ? "," : "", fd_kind_str(e->kinds[i]));
	fputs(e->reserved == 1 ? "\treserved\n" : "\n", fp);
}

/* The same as one JSON object on a line, fdholder(1)'s keys. */
static void
listed_json(FILE *fp, const struct wentry *e)
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
	fprintf(fp, ",\"fds\":%u,\"kinds\":[", e->nfds);
	for (i = 0; i < e->nfds; i++) {
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
	struct wentry e;
	struct frame f;
	struct rbuf r;
	int rc, more;

	if (frame_send(s, &(struct frout){ .type = F_LIST, .flags = FF_STATE },
	    dl, pe) == -1) {
		perr_why(s, pe);
		return -1;
	}
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
				if ((rc = entry_get(&r, f.flags & FF_STATE,
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

	delete_put(&b, name);
	if (request_send(s, F_DELETE, &b, dl, pe) == -1)
		return -1;
	return verdict_recv(s, dl, pe) < 0 ? -1 : 0;
}
