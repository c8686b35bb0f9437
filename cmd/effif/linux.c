/* ISC license: see LICENSE. */
/*
 * effif on Linux: the driver.  Down the chain of devices from the one
 * asked, the methods in order for each (methods.c, sockets.c), over one
 * snapshot of the kernel's tables per round.
 */
#ifdef __linux__

#include <sys/types.h>
#include <sys/socket.h>
#include <net/if.h>
#include <netinet/in.h>

#include <linux/rtnetlink.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "effif.h"
#include "exits.h"
#include "fd.h"
#include "nl.h"

static int
allowed(const struct query *q, int depth, enum method m)
{
	return depth > 0 || q->method == M_NONE || q->method == m;
}

/* The methods in order, for one device of the chain. */
static int
step(struct ctx *c, const struct link *l, int depth, struct step *st)
{
	const struct query *q = c->q;
	int fams[2], i, n = 0, res, noroute = 0;

	memset(st, 0, sizeof(*st));
	st->table = -1;
	if (l->otherns) {
		snprintf(c->why, sizeof(c->why), ": the underlay of %s is in "
		    "another network namespace (nsid %d, ifindex %u)", l->name,
		    (int)l->nsid, l->nslower);
		return R_NOROUTE;
	}
	/* Stacked devices carry the same packets: -M and -P hold for them. */
	c->hasmark = c->stacked && q->hasmark;
	c->mark = c->hasmark ? q->mark : 0;
	res = by_link(c, l, st);
	if (allowed(q, depth, M_LINK) && res != R_NONE)
		return res;
	/* A stacked device is no leaf, though --method does not apply. */
	if (!link_tunnel(l) && res == R_NONE)
		return R_LEAF;
	c->why[0] = '\0';
	memset(st, 0, sizeof(*st));
	st->table = -1;
	if (!link_tunnel(l))
		return R_NONE;
	c->nawhy[0] = '\0';
	if (allowed(q, depth, M_SOCKET) &&
	    (res = by_socket(c, l, st)) != R_NONE)
		return res;
	if (allowed(q, depth, M_PEER) &&
	    (res = by_peer(c, l, depth, st)) != R_NONE)
		return res;
	if (q->family != AF_UNSPEC)
		fams[n++] = q->family;
	else if (c->stacked && q->peer.family != 0)
		fams[n++] = q->peer.family;
	else if (l->remote.family != 0)
		fams[n++] = l->remote.family;
	else {
		fams[n++] = AF_INET;
		fams[n++] = AF_INET6;
	}
	for (i = 0; i < n; i++) {
		res = R_NONE;
		if (allowed(q, depth, M_MARK))
			res = by_mark(c, fams[i], st);
		if (res == R_NONE && allowed(q, depth, M_SCAN))
			res = by_scan(c, fams[i], st);
		if (res == R_FOUND || res == R_AMBIG || res == R_ERR)
			return res;
		if (res == R_NOROUTE)
			noroute = 1;
	}
	return noroute ? R_NOROUTE : R_NONE;
}

static void
push(struct answer *a, const struct link *l)
{
	struct hop *h = &a->chain[a->nchain++];

	strlcpy(h->name, l->name, sizeof(h->name));
	h->index = l->index;
	h->method = M_NONE;
}

/* The message: the device asked, the one where it ended, the detail. */
static void
fail(struct ctx *c, int status, const struct link *l)
{
	struct answer *a = c->ans;
	char beyond[IF_NAMESIZE + 8] = "";

	a->status = status;
	if (a->nchain > 1)
		snprintf(beyond, sizeof(beyond), " beyond %s", l->name);
	if (status == EXIT_AMBIGUOUS)
		snprintf(a->error, sizeof(a->error), "%s: ambiguous%s: %s",
		    c->q->name, beyond, c->why);
	else
		snprintf(a->error, sizeof(a->error),
		    "%s: no underlay route%s%s", c->q->name, beyond, c->why);
}

static void
resolve(struct ctx *c, const struct link *l)
{
	struct answer *a = c->ans;
	struct step st;
	int depth, res;

	for (depth = 0;; depth++) {
		c->why[0] = '\0';
		res = step(c, l, depth, &st);
		if (res == R_LEAF) {
			a->status = depth == 0 ? EXIT_REFUSED : EXIT_OK;
			return;
		}
		if (res == R_AMBIG) {
			fail(c, EXIT_AMBIGUOUS, l);
			return;
		}
		if (res == R_ERR) {
			a->status = EXIT_SYS;
			snprintf(a->error, sizeof(a->error), "%s: %s",
			    c->q->name, sys_error());
			return;
		}
		if (res == R_NONE && depth == 0 && c->q->method != M_NONE)
			snprintf(c->why, sizeof(c->why), " by method %s%s%s",
			    method_name(c->q->method), c->nawhy[0] != '\0' ?
			    ": " : "", c->nawhy);
		if (res != R_FOUND) {
			fail(c, EXIT_NOROUTE, l);
			return;
		}
		a->chain[a->nchain - 1].method = st.method;
		if (st.method != M_LINK)
			c->stacked = 0;
		if (st.routed) {
			a->family = st.family;
			a->gateway = st.gw;
			a->table = st.table;
			a->hasmark = st.hasmark;
			a->mark = st.mark;
		}
		if (a->nchain == HOPS_MAX) {
			snprintf(c->why, sizeof(c->why), ": more than %d "
			    "devices deep", HOPS_MAX);
			fail(c, EXIT_NOROUTE, l);
			return;
		}
		if ((l = link_byindex(c->s, st.next)) == NULL) {
			a->status = EXIT_SYS;
			snprintf(a->error, sizeof(a->error), "%s: device %u "
			    "vanished", c->q->name, st.next);
			return;
		}
		push(a, l);
	}
}

struct sys *
sys_open(void)
{
	struct sys *s;

	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->buf = malloc(BUFSZ)) == NULL) {
		free(s);
		sys_fail(errno, "netlink buffer");
		return NULL;
	}
	s->links.size = sizeof(struct link);
	s->rules[0].size = s->rules[1].size = sizeof(struct rule);
	s->routes[0].size = s->routes[1].size = sizeof(struct route);
	s->nhobjs.size = sizeof(struct nhobj);
	s->rejects6.size = sizeof(struct route);
	s->srcroutes6.size = sizeof(struct route);
	if ((s->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC)) == NULL ||
	    mnl_socket_bind(s->nl, 0, MNL_SOCKET_AUTOPID) == -1) {
		sys_fail(errno, "netlink socket");
		sys_close(s);
		return NULL;
	}
	s->portid = mnl_socket_get_portid(s->nl);
	return s;
}

void
sys_close(struct sys *s)
{
	int i;

	if (s->ev != NULL)
		mnl_socket_close(s->ev);
	if (s->nl != NULL)
		mnl_socket_close(s->nl);
	free(s->links.v);
	for (i = 0; i < 2; i++) {
		free(s->rules[i].v);
		free(s->routes[i].v);
	}
	free(s->nhobjs.v);
	free(s->rejects6.v);
	free(s->srcroutes6.v);
	free(s->buf);
	free(s);
}

int
sys_method(enum method m)
{
	return m == M_LINK || m == M_PEER || m == M_MARK || m == M_SCAN ||
	    m == M_SOCKET;
}

void
sys_refresh(struct sys *s)
{
	s->have_links = 0;
	s->have_rules[0] = s->have_rules[1] = 0;
	s->have_routes[0] = s->have_routes[1] = 0;
	s->nhobjs.n = 0;
	s->have_rejects6 = 0;
	s->have_srcroutes6 = 0;
}

void
sys_resolve(struct sys *s, const struct query *q, struct answer *a)
{
	struct ctx c = { .s = s, .q = q, .ans = a, .stacked = 1 };
	const struct link *l;

	memset(a, 0, sizeof(*a));
	a->family = q->family;
	a->table = -1;
	if (links_load(s) == -1) {
		a->status = EXIT_SYS;
		snprintf(a->error, sizeof(a->error), "%s", sys_error());
		return;
	}
	if (strlen(q->name) >= IF_NAMESIZE ||
	    (l = link_byname(s, q->name)) == NULL) {
		a->status = EXIT_NOIF;
		snprintf(a->error, sizeof(a->error), "%s: no such interface",
		    q->name);
		return;
	}
	push(a, l);
	resolve(&c, l);
}

/* -a: the tunnels, and the devices stacked on exactly one other. */
char **
sys_list(struct sys *s, size_t *np)
{
	const struct link *l;
	char **names;
	size_t i, j, n = 0, ports;

	if (links_load(s) == -1)
		return NULL;
	l = s->links.v;
	if ((names = calloc(s->links.n + 1, sizeof(*names))) == NULL) {
		sys_fail(errno, "list of devices");
		return NULL;
	}
	for (i = 0; i < s->links.n; i++) {
		for (j = 0, ports = 0; j < s->links.n; j++)
			ports += l[j].master == l[i].index;
		if ((l[i].flags & IFF_LOOPBACK) || !(link_tunnel(&l[i]) ||
		    l[i].lower != 0 || ports == 1))
			continue;
		if ((names[n++] = strdup(l[i].name)) == NULL) {
			sys_fail(errno, "list of devices");
			while (n > 0)
				free(names[--n]);
			free(names);
			return NULL;
		}
	}
	*np = n;
	return names;
}

int
sys_watch(struct sys *s)
{
	static const unsigned int groups[] = {
		RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR,
		RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE, RTNLGRP_IPV4_RULE,
		RTNLGRP_IPV6_RULE,
	};
	unsigned int g;
	int size = 1 << 20;
	size_t i;

	s->watching = 1;
	s->ev = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (s->ev == NULL || mnl_socket_bind(s->ev, 0,
	    MNL_SOCKET_AUTOPID) == -1)
		return sys_fail(errno, "netlink event socket");
	for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		g = groups[i];
		if (mnl_socket_setsockopt(s->ev, NETLINK_ADD_MEMBERSHIP, &g,
		    sizeof(g)) == -1)
			return sys_fail(errno, "netlink group %u", g);
	}
	/* Best effort: a small buffer only means more ENOBUFS. */
	setsockopt(mnl_socket_get_fd(s->ev), SOL_SOCKET, SO_RCVBUF, &size,
	    sizeof(size));
	return mnl_socket_get_fd(s->ev);
}

/*
 * Drain the events: 1 if there was any, 0, or -1 when the socket failed.
 * Lost ones (ENOBUFS) count too.
 */
int
sys_watch_read(struct sys *s)
{
	int r;

	if ((r = fd_drain(mnl_socket_get_fd(s->ev), s->buf, BUFSZ, NULL,
	    NULL)) == -1)
		return sys_fail(errno, "netlink events");
	return r;
}

#endif /* __linux__ */
