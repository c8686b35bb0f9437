/* ISC license: see LICENSE. */
/*
 * effif on macOS: the answer, decided from the facts that the system
 * gives (delegate.h).  The delegate first, as ifconfig -v shows it; when
 * there is none, or it names no interface any more, or it is down or
 * without link, the route, and a word on standard error saying why.  A
 * full tunnel's route leads into the tunnel itself: then the routes that
 * a socket bound to each other interface would have (scoped lookups).
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "delegate.h"
#include "exits.h"

enum { R_FAIL = -1, R_NONE, R_FOUND, R_SEVERAL };

/* The tunnel asked about. */
struct tunnel {
	const char	*name;
	unsigned int	 index;
};

/* The route found under the tunnel, and how it was found. */
struct under {
	unsigned int	 via;		/* the interface it leaves */
	struct ipaddr	 gw;
	char		 how[160];
};

static void
push(const struct macsys *m, struct answer *a, unsigned int index)
{
	struct hop *h = &a->chain[a->nchain++];

	h->index = index;
	if (!m->name(m->ctx, index, h->name))
		snprintf(h->name, sizeof(h->name), "%u", index);
}

/* The delegate if it can carry packets, else 0 and why not. */
static unsigned int
usable_delegate(const struct macsys *m, const char *name, char *why,
    size_t len)
{
	char dname[IF_NAMESIZE];
	unsigned int del;
	int st;

	if (m->delegate(m->ctx, name, &del) == -1) {
		snprintf(why, len, "its delegate cannot be read (%s)",
		    strerror(errno));
		return 0;
	}
	if (del == 0) {
		snprintf(why, len, "it has no delegate");
		return 0;
	}
	if (!m->name(m->ctx, del, dname)) {
		snprintf(why, len, "its delegate, index %u, names no "
		    "interface (detached)", del);
		return 0;
	}
	st = m->state(m->ctx, dname);
	if (st == -1 || (st & IFS_GONE))
		snprintf(why, len, "its delegate %s is gone", dname);
	else if (!(st & IFS_UP))
		snprintf(why, len, "its delegate %s is down", dname);
	else if (st & IFS_NOLINK)
		snprintf(why, len, "its delegate %s has no link", dname);
	else
		return del;
	return 0;
}

/* An interface that may carry a tunnel: up, with link, of its own. */
static int
physical(const struct macsys *m, unsigned int index, char *name)
{
	int st;

	if (!m->name(m->ctx, index, name))
		return 0;
	st = m->state(m->ctx, name);
	return st != -1 && (st & IFS_UP) &&
	    !(st & (IFS_GONE | IFS_NOLINK | IFS_TUNNEL | IFS_LOOPBACK));
}

/*
 * The route leads into the tunnel itself: ask for dst as a socket bound
 * to each other interface would (RTF_IFSCOPE), as the kernel keeps a
 * scoped default route for every interface with a router of its own.
 */
static int
route_scoped(const struct macsys *m, const struct tunnel *t,
    const struct ipaddr *dst, struct under *u)
{
	unsigned int idx[MAC_IFS_MAX];
	char name[IF_NAMESIZE], names[128] = "";
	struct rtanswer r;
	int i, n, found = 0;

	if ((n = m->list(m->ctx, idx, MAC_IFS_MAX)) == -1)
		return R_FAIL;
	for (i = 0; i < n; i++) {
		if (idx[i] == t->index || !physical(m, idx[i], name))
			continue;
		switch (m->route(m->ctx, dst, idx[i], &r)) {
		case -1:
			return R_FAIL;
		case 1:
			if (r.index != idx[i])
				break;
			if (found++ == 0) {
				u->via = idx[i];
				u->gw = r.gw;
			}
			if (names[0] != '\0')
				strlcat(names, ", ", sizeof(names));
			strlcat(names, name, sizeof(names));
		}
	}
	if (found == 0) {
		snprintf(u->how, sizeof(u->how), "the route leads into %s "
		    "itself, and no other interface has a route of its own",
		    t->name);
		return R_NONE;
	}
	snprintf(u->how, sizeof(u->how), found == 1 ?
	    "the route leads into %s itself: %s's own route answered" :
	    "the route leads into %s itself, and %s have routes of their own",
	    t->name, names);
	return found == 1 ? R_FOUND : R_SEVERAL;
}

/* The route to dst that does not lead into the tunnel itself. */
static int
route_of(const struct macsys *m, const struct tunnel *t,
    const struct ipaddr *dst, struct under *u)
{
	struct rtanswer r;

	switch (m->route(m->ctx, dst, 0, &r)) {
	case -1:
		return R_FAIL;
	case 0:
		return R_NONE;
	}
	if (r.index == 0)
		return R_NONE;
	if (r.index != t->index) {
		u->via = r.index;
		u->gw = r.gw;
		return R_FOUND;
	}
	return route_scoped(m, t, dst, u);
}

/*
 * The route method: the peer's route, or the default, of a family; its
 * gateway and family go in a.
 */
static int
by_route(const struct macsys *m, const struct query *q, unsigned int self,
    struct under *u, struct answer *a)
{
	struct tunnel t = { q->name, self };
	struct ipaddr dst;
	int fams[2], i, n = 0, r = R_NONE;

	if (q->peer.family != 0)
		fams[n++] = q->peer.family;
	else if (q->family != AF_UNSPEC)
		fams[n++] = q->family;
	else {
		fams[n++] = AF_INET;
		fams[n++] = AF_INET6;
	}
	for (i = 0; i < n && r == R_NONE; i++) {
		if (q->peer.family != 0)
			dst = q->peer;
		else {
			memset(&dst, 0, sizeof(dst));
			dst.family = fams[i];
		}
		r = route_of(m, &t, &dst, u);
		a->family = fams[i];
	}
	a->gateway = u->gw;
	return r;
}

static void
failed(struct answer *a, const char *name, const char *what)
{
	a->status = errno == ETIMEDOUT ? EXIT_TIMEOUT : EXIT_SYS;
	snprintf(a->error, sizeof(a->error), "%s: %s: %s", name, what,
	    strerror(errno));
}

void
mac_resolve(const struct macsys *m, const struct query *q, struct answer *a)
{
	char why[96] = "", name[IF_NAMESIZE];
	struct under u = { 0 };
	unsigned int self, del = 0;
	int r, st;

	memset(a, 0, sizeof(*a));
	a->family = q->family;
	a->table = -1;
	if ((self = m->index(m->ctx, q->name)) == 0) {
		a->status = EXIT_NOIF;
		snprintf(a->error, sizeof(a->error), "%s: no such interface",
		    q->name);
		return;
	}
	push(m, a, self);
	if (q->method != M_ROUTE)
		del = usable_delegate(m, q->name, why, sizeof(why));
	if (del != 0) {
		a->chain[0].method = M_DELEGATE;
		push(m, a, del);
		if (q->method == M_NONE &&
		    by_route(m, q, self, &u, a) == R_FOUND &&
		    u.via != del && m->name(m->ctx, u.via, name))
			snprintf(a->note, sizeof(a->note), "the route says %s",
			    name);
		a->family = q->family;
		a->gateway.family = 0;
		return;
	}
	if (q->method == M_DELEGATE) {
		a->status = EXIT_NOROUTE;
		snprintf(a->error, sizeof(a->error), "%s: %s", q->name, why);
		return;
	}
	if ((st = m->state(m->ctx, q->name)) == -1) {
		failed(a, q->name, "flags");
		return;
	}
	if (!(st & IFS_TUNNEL)) {
		a->status = EXIT_REFUSED;
		return;
	}
	r = by_route(m, q, self, &u, a);
	if (r == R_FAIL) {
		failed(a, q->name, "route socket");
		return;
	}
	if (r != R_FOUND) {
		a->status = r == R_SEVERAL ? EXIT_AMBIGUOUS : EXIT_NOROUTE;
		snprintf(a->error, sizeof(a->error), "%s: %s%s%s%s%s", q->name,
		    r == R_SEVERAL ? "ambiguous" : "no underlay route",
		    why[0] != '\0' ? "; " : "", why,
		    u.how[0] != '\0' ? "; " : "", u.how);
		return;
	}
	a->chain[0].method = M_ROUTE;
	push(m, a, u.via);
	if (why[0] != '\0' || u.how[0] != '\0')
		snprintf(a->warn, sizeof(a->warn), "%s: %s%s%s: answered by "
		    "the route", q->name, why, why[0] != '\0' &&
		    u.how[0] != '\0' ? "; " : "", u.how);
	strlcpy(a->note, a->warn[0] != '\0' ? a->warn + strlen(q->name) + 2 :
	    "", sizeof(a->note));
}
