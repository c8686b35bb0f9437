/* ISC license: see LICENSE. */
/*
 * effif on Linux, the socket method: the route of exactly the flows of
 * the tunnel owner's sockets (owner.c finds them), or of kernel
 * WireGuard's peers.
 */
#ifdef __linux__

#include <sys/types.h>
#include <sys/socket.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <linux/rtnetlink.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "effif.h"
#include "exits.h"
#include "nl.h"
#include "owner.h"

/* What the sockets of a tunnel's owner (or kernel WireGuard) say. */
struct sockagg {
	int	found;
	int	several;
	int	unreach;
	int	loop;
	char	names[150];		/* each device, with its pids */
};

/* -v's line for a socket: what it is, and where its packets go. */
static void
sock_line(struct ctx *c, const char *how, const char *dev,
    const struct route *rt, const struct nexthop *nh)
{
	char *p = c->ans->socks, gw[INET6_ADDRSTRLEN], via[64] = "";
	size_t len = strlen(p);

	if (nh != NULL && nh->gw.family != 0 &&
	    inet_ntop(nh->gw.family, nh->gw.a, gw, sizeof(gw)) != NULL)
		snprintf(via, sizeof(via), " via %s", gw);
	if (rt == NULL)
		snprintf(p + len, sizeof(c->ans->socks) - len, "%s%s -> %s",
		    len > 0 ? "\n" : "", how, dev);
	else
		snprintf(p + len, sizeof(c->ans->socks) - len, "%s%s -> %s%s "
		    "table %s", len > 0 ? "\n" : "", how, dev, via,
		    rt->table == 254 ? "main" : rt->table == 253 ? "default" :
		    rt->table == 255 ? "local" : "");
	if (rt != NULL && rt->table < 253) {
		len = strlen(p);
		snprintf(p + len, sizeof(c->ans->socks) - len, "%u",
		    rt->table);
	}
}

/*
 * The kernel pins one flow to one nexthop of a multipath route (by a hash
 * of its addresses, or of its ports too by fib_multipath_hash_policy):
 * the socket's answer is fair, and -v says why it is that one.
 */
static int
sock_multipath(struct ctx *c, const struct flow *f, const char *dev)
{
	const struct nexthop *nh;
	struct route rt;
	char devs[120];
	size_t len;
	int e;

	if ((e = getroute(c->s, f, RTM_F_FIB_MATCH, &rt)) != 0)
		return unreachable(e) ? 0 : sys_fail(e, "route of a socket");
	if (route_pick(c, &rt, &nh, devs, sizeof(devs)) != R_AMBIG)
		return 0;
	len = strlen(c->ans->socks);
	snprintf(c->ans->socks + len, sizeof(c->ans->socks) - len,
	    " (multipath route over %s: the kernel's hash of this flow picks "
	    "%s)", devs, dev);
	return 0;
}

/*
 * The route of one socket's packets, as the kernel gives it for exactly
 * that flow: its remote, source, mark and bound device.  The first that
 * leaves the chain is the step; others that leave elsewhere make it
 * ambiguous, and the message names each device with the processes whose
 * sockets go there (pid 0: kernel WireGuard).  0, or -1 when the kernel
 * could not be asked.
 */
static int
sock_route(struct ctx *c, const struct flow *f, pid_t pid, struct step *st,
    struct sockagg *g, const char *how)
{
	const struct nexthop *nh;
	const struct link *x;
	struct route rt;
	char one[IF_NAMESIZE + 24];
	size_t len;
	int e;

	if ((e = getroute(c->s, f, 0, &rt)) != 0) {
		if (!unreachable(e))
			return sys_fail(e, "route of a socket");
		g->unreach++;
		sock_line(c, how, "no route", NULL, NULL);
		return 0;
	}
	if (rt.type != RTN_UNICAST || (nh = route_leaves(c, &rt)) == NULL ||
	    (x = link_byindex(c->s, nh->oif)) == NULL ||
	    (x->flags & IFF_LOOPBACK) || link_tunnel(x)) {
		g->loop++;
		sock_line(c, how, "a tunnel", NULL, NULL);
		return 0;
	}
	sock_line(c, how, x->name, &rt, nh);
	if (sock_multipath(c, f, x->name) == -1)
		return -1;
	if (g->found == 0) {
		step_route(st, M_SOCKET, &rt, nh,
		    f->hasmark ? &f->mark : NULL);
		snprintf(c->ans->note, sizeof(c->ans->note), "%s", how);
	} else if (st->next != x->index)
		g->several = 1;
	if (pid != 0)
		snprintf(one, sizeof(one), "%s (pid %ld)", x->name, (long)pid);
	else
		strlcpy(one, x->name, sizeof(one));
	if (strstr(g->names, one) == NULL) {
		len = strlen(g->names);
		snprintf(g->names + len, sizeof(g->names) - len, "%s%s",
		    len > 0 ? " " : "", one);
	}
	g->found++;
	return 0;
}

static const char *
addr_str(const struct ipaddr *ip, char *buf, size_t len)
{
	if (ip->family == 0)
		return "*";
	return inet_ntop(ip->family, ip->a, buf, len);
}

/* One socket of the owner: its flow, and what -v says of it. */
static int
sock_flow(struct ctx *c, const struct osock *o, struct flow *f, char *how,
    size_t len)
{
	const struct query *q = c->q;
	const struct link *b;
	char sa[INET6_ADDRSTRLEN], da[INET6_ADDRSTRLEN], dev[IF_NAMESIZE + 8];
	char mark[24];

	memset(f, 0, sizeof(*f));
	if (o->dst.family != 0)
		f->dst = o->dst;
	else if (o->proto == IPPROTO_TCP)
		return 0;	/* a listener sends nothing */
	else if (c->stacked && q->peer.family != 0)
		f->dst = q->peer;
	else {
		f->dst.family = o->family;
		inet_pton(o->family, o->family == AF_INET ? probe4 : probe6,
		    f->dst.a);
	}
	if (q->family != AF_UNSPEC && f->dst.family != q->family)
		return 0;
	if (o->src.family == f->dst.family)
		f->src = o->src;
	f->hasmark = o->hasmark && o->mark != 0;
	f->mark = o->mark;
	f->oif = o->oif;
	/* The rest of what the kernel routes the socket's packets by. */
	f->hasuid = 1;
	f->uid = o->uid;
	f->proto = o->proto;
	f->sport = o->sport;
	if (o->dst.family != 0)
		f->dport = o->dport;
	dev[0] = '\0';
	if (o->oif != 0 && (b = link_byindex(c->s, o->oif)) != NULL)
		snprintf(dev, sizeof(dev), " dev %s", b->name);
	if (o->hasmark)
		snprintf(mark, sizeof(mark), " mark 0x%x", o->mark);
	else
		snprintf(mark, sizeof(mark), " mark unknown");
	snprintf(how, len, "pid %ld uid %lu %s socket %llu %s:%u -> %s:%u%s%s"
	    "%s", (long)o->pid, (unsigned long)o->uid, o->proto == IPPROTO_UDP ? "udp" : "tcp", o->inode,
	    addr_str(&o->src, sa, sizeof(sa)), o->sport,
	    addr_str(&f->dst, da, sizeof(da)), o->dport, mark, dev,
	    o->dst.family == 0 ? " (not connected)" : "");
	return 1;
}

/* Kernel WireGuard: each peer's endpoint, routed with the fwmark. */
static int
by_wireguard(struct ctx *c, const struct link *l, struct step *st,
    struct sockagg *g)
{
	struct wgdev w;
	struct flow f;
	char how[256], a[INET6_ADDRSTRLEN];
	size_t i;

	memset(&w, 0, sizeof(w));
	if (owner_wireguard(l->index, &w) == -1) {
		if (errno == ENOENT)
			snprintf(c->nawhy, sizeof(c->nawhy), "no wireguard "
			    "netlink family (module not loaded)");
		else if (errno == EPERM || errno == EACCES)
			snprintf(c->nawhy, sizeof(c->nawhy), "wireguard "
			    "netlink needs CAP_NET_ADMIN");
		else {
			sys_fail(errno, "wireguard netlink");
			return R_ERR;
		}
		return R_NONE;
	}
	for (i = 0; i < w.npeers; i++) {
		if (c->q->family != AF_UNSPEC &&
		    w.peers[i].family != c->q->family)
			continue;
		flow_to(&f, &w.peers[i], w.fwmark != 0, w.fwmark);
		snprintf(how, sizeof(how), "wireguard port %u fwmark 0x%x "
		    "peer %s", w.port, w.fwmark,
		    addr_str(&w.peers[i], a, sizeof(a)));
		if (sock_route(c, &f, 0, st, g, how) == -1)
			return R_ERR;
	}
	if (w.npeers == 0)
		snprintf(c->nawhy, sizeof(c->nawhy), "wireguard %s has no "
		    "peer endpoint", l->name);
	return R_NONE;
}

/*
 * The sockets of the processes that hold the tun device l open.  UDP
 * sockets first (the tunnel's packets), TCP ones (connected) only when no
 * UDP one answers; IPv4 before IPv6.
 */
static int
by_owner(struct ctx *c, const struct link *l, struct step *st,
    struct sockagg *g)
{
	struct osocks v = { NULL, 0, 0 };
	struct flow f;
	pid_t pids[8];
	char how[256];
	ssize_t np;
	size_t i;
	int pass, proto, res = R_NONE;

	if ((np = owner_find(l->name, l->tunfds, pids, 8, &v)) <= 0) {
		free(v.v);
		snprintf(c->nawhy, sizeof(c->nawhy), "no process holds %s "
		    "open", l->name);
		return np == -1 ? R_ERR : R_NONE;
	}
	/* TCP's table, often the larger, only when UDP says nothing. */
	for (pass = 0; pass < 4 && g->found == 0 && res != R_ERR; pass++) {
		proto = pass < 2 ? IPPROTO_UDP : IPPROTO_TCP;
		if (pass % 2 == 0 && owner_diag(&v, proto) == -1) {
			res = R_ERR;
			break;
		}
		for (i = 0; i < v.n && res != R_ERR; i++)
			if (v.v[i].proto == proto && sock_flow(c, &v.v[i], &f,
			    how, sizeof(how)) && f.dst.family ==
			    (pass % 2 == 0 ? AF_INET : AF_INET6) &&
			    sock_route(c, &f, v.v[i].pid, st, g, how) == -1)
				res = R_ERR;
	}
	free(v.v);
	if (res == R_NONE && g->found + g->unreach + g->loop == 0)
		snprintf(c->nawhy, sizeof(c->nawhy), "%zd process%s %s open, "
		    "no socket of %s", np, np > 1 ? "es hold" : " holds",
		    l->name, c->q->family == AF_INET ? "IPv4" :
		    c->q->family == AF_INET6 ? "IPv6" : "IP");
	return res;
}

/*
 * 0: the route of the tunnel owner's own sockets, the closest Linux has
 * to macOS's delegate, or of kernel WireGuard's peers.
 */
int
by_socket(struct ctx *c, const struct link *l, struct step *st)
{
	struct sockagg g;
	int res;

	memset(&g, 0, sizeof(g));
	if (c->s->watching)
		return R_NONE;
	if (l->kind != NULL && strcmp(l->kind->name, "wireguard") == 0)
		res = by_wireguard(c, l, st, &g);
	else if (l->kind == NULL || strcmp(l->kind->name, "tun") != 0) {
		snprintf(c->nawhy, sizeof(c->nawhy), "not a tun device");
		return R_NONE;
	} else
		res = by_owner(c, l, st, &g);
	if (res == R_ERR)
		return R_ERR;
	if (g.several) {
		snprintf(c->why, sizeof(c->why), "sockets routed through "
		    "several devices: %s", g.names);
		return R_AMBIG;
	}
	if (g.found > 0)
		return R_FOUND;
	if (g.unreach > 0 && g.loop == 0) {
		snprintf(c->why, sizeof(c->why), " from the tunnel's sockets");
		return R_NOROUTE;
	}
	if (g.loop > 0)
		snprintf(c->nawhy, sizeof(c->nawhy), "the sockets of %s route "
		    "into a tunnel", l->name);
	return R_NONE;
}

#endif /* __linux__ */
