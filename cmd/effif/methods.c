/* ISC license: see LICENSE. */
/*
 * effif on Linux: the methods that ask about no particular flow: link,
 * peer and mark (the scan is in scan.c).  Lookups ask the question a
 * tunnel's outer packets ask, never with the tunnel as oif.
 */
#ifdef __linux__

#include <sys/types.h>
#include <sys/socket.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "effif.h"
#include "exits.h"
#include "nl.h"

/* Bypass marks that VPN clients put on their own packets. */
static const uint32_t wellknown_marks[] = {
	0x80000,		/* Tailscale, with mask 0xff0000 */
	51820,			/* wg-quick */
};

const char probe4[] = "192.0.2.1";
const char probe6[] = "2001:db8::1";

int
in_chain(const struct ctx *c, unsigned int index)
{
	int i;

	for (i = 0; i < c->ans->nchain; i++)
		if (c->ans->chain[i].index == index)
			return 1;
	return 0;
}

/* The step is route RT's nexthop NH, asked with *MARK if MARK is set. */
void
step_route(struct step *st, enum method m, const struct route *rt,
    const struct nexthop *nh, const uint32_t *mark)
{
	st->method = m;
	st->next = nh->oif;
	st->routed = 1;
	st->family = rt->family;
	st->gw = nh->gw;
	st->table = rt->table;
	st->hasmark = mark != NULL;
	st->mark = mark != NULL ? *mark : 0;
}

/* A nexthop that leaves through another device than the chain's. */
const struct nexthop *
route_leaves(struct ctx *c, const struct route *rt)
{
	int i;

	for (i = 0; i < rt->nnh; i++)
		if (!(rt->nh[i].flags & RTNH_F_DEAD) &&
		    !in_chain(c, rt->nh[i].oif) &&
		    link_byindex(c->s, rt->nh[i].oif) != NULL)
			return &rt->nh[i];
	return NULL;
}

/* 1: a stacked device's lower one, or the one port of a master. */
int
by_link(struct ctx *c, const struct link *l, struct step *st)
{
	const struct link *v = c->s->links.v, *one = NULL;
	size_t i, n = 0, len;

	if (l->lower != 0 && !in_chain(c, l->lower) &&
	    link_byindex(c->s, l->lower) != NULL) {
		st->method = M_LINK;
		st->next = l->lower;
		return R_FOUND;
	}
	for (i = 0; i < c->s->links.n; i++)
		if (v[i].master == l->index && !in_chain(c, v[i].index)) {
			one = &v[i];
			n++;
		}
	if (n == 1) {
		st->method = M_LINK;
		st->next = one->index;
		return R_FOUND;
	}
	if (n == 0)
		return R_NONE;
	snprintf(c->why, sizeof(c->why), "%zu lower devices:", n);
	for (i = 0; i < c->s->links.n; i++) {
		if (v[i].master != l->index)
			continue;
		len = strlen(c->why);
		snprintf(c->why + len, sizeof(c->why) - len, " %s", v[i].name);
	}
	return R_AMBIG;
}

/*
 * One rule for several paths, for the methods that ask about no
 * particular flow: the kernel hashes each flow onto one nexthop, so a
 * route whose live nexthops leave through several devices, or some of
 * them back into the chain (the tunnel itself), has no one answer:
 * R_AMBIG.  R_FOUND (*nhp) when they all leave by one device, R_NONE when
 * they all lead back.  devs names the devices (sockets.c says the same).
 */
int
route_pick(struct ctx *c, const struct route *rt, const struct nexthop **nhp,
    char *devs, size_t len)
{
	const struct nexthop *nh = NULL;
	const struct link *x;
	char one[IF_NAMESIZE + 24];
	int i, several = 0, back = 0;

	devs[0] = '\0';
	for (i = 0; i < rt->nnh; i++) {
		if (rt->nh[i].flags & RTNH_F_DEAD)
			continue;
		if ((x = link_byindex(c->s, rt->nh[i].oif)) == NULL)
			continue;
		if (in_chain(c, x->index)) {
			back = 1;
			snprintf(one, sizeof(one), "%s (the tunnel itself)",
			    x->name);
		} else {
			if (nh == NULL)
				nh = &rt->nh[i];
			else if (nh->oif != x->index)
				several = 1;
			strlcpy(one, x->name, sizeof(one));
		}
		if (strstr(devs, one) == NULL) {
			if (devs[0] != '\0')
				strlcat(devs, " ", len);
			strlcat(devs, one, len);
		}
	}
	if (nh == NULL)
		return R_NONE;
	if (several || back)
		return R_AMBIG;
	*nhp = nh;
	return R_FOUND;
}

/*
 * IPv6 source-specific defaults (default from P via G): a lookup with no
 * source matches none of them, while the tunnel's packets, once the
 * kernel picks their source, take one.  Each source prefix is asked in
 * turn (RTA_SRC, its first address): one device for all of them is the
 * answer; several, and the answer depends on the source: ambiguous, each
 * named.  R_NONE when no source leaves the chain.
 */
int
by_source(struct ctx *c, const struct ipaddr *dst, int hasmark,
    uint32_t mark, enum method m, struct step *st)
{
	const struct route *sr;
	const struct nexthop *nh;
	struct route rt;
	struct flow f;
	char a[INET6_ADDRSTRLEN], devs[120], list[160] = "";
	size_t i, j, len, n;
	unsigned int first = 0;
	int e, res, several = 0;

	if (dst->family != AF_INET6 || srcroutes6_load(c->s) == -1)
		return dst->family != AF_INET6 ? R_NONE : R_ERR;
	sr = c->s->srcroutes6.v;
	n = c->s->srcroutes6.n;
	for (i = 0; i < n; i++) {
		for (j = 0; j < i && (sr[j].src_len != sr[i].src_len ||
		    memcmp(sr[j].src.a, sr[i].src.a, 16) != 0); j++)
			;
		if (j < i)
			continue;	/* that source was asked */
		flow_to(&f, dst, hasmark, mark);
		f.src = sr[i].src;
		if ((e = getroute(c->s, &f, RTM_F_FIB_MATCH, &rt)) != 0) {
			if (!unreachable(e)) {
				sys_fail(e, "route from %s", inet_ntop(
				    AF_INET6, f.src.a, a, sizeof(a)));
				return R_ERR;
			}
			continue;
		}
		if (rt.type != RTN_UNICAST || (res = route_pick(c, &rt, &nh,
		    devs, sizeof(devs))) == R_NONE)
			continue;
		len = strlen(list);
		snprintf(list + len, sizeof(list) - len, "%sfrom %s/%u %s",
		    len > 0 ? ", " : "", inet_ntop(AF_INET6, f.src.a, a,
		    sizeof(a)), sr[i].src_len, devs);
		if (res == R_AMBIG || (first != 0 && nh->oif != first))
			several = 1;
		if (first == 0 && res == R_FOUND) {
			first = nh->oif;
			step_route(st, m, &rt, nh, hasmark ? &mark : NULL);
			snprintf(c->ans->note, sizeof(c->ans->note),
			    "source-specific route %s", list);
		}
	}
	if (several) {
		snprintf(c->why, sizeof(c->why), "the answer depends on the "
		    "source: %s", list);
		return R_AMBIG;
	}
	return first != 0 ? R_FOUND : R_NONE;
}

/* 2: the route to the far end, with the tunnel's mark if it has one. */
int
by_peer(struct ctx *c, const struct link *l, int depth, struct step *st)
{
	const struct query *q = c->q;
	const struct ipaddr *peer = &l->remote;
	const struct nexthop *nh = NULL;
	struct route rt;
	struct flow f;
	uint32_t marks[4];
	char addr[INET6_ADDRSTRLEN], devs[120];
	size_t i, n = 0;
	int e, hasmark[4], res;

	(void)depth;
	if (c->stacked && q->peer.family != 0)
		peer = &q->peer;
	if (peer->family == 0 ||
	    (q->family != AF_UNSPEC && q->family != peer->family))
		return R_NONE;
	hasmark[n] = c->hasmark || l->hasmark;
	marks[n++] = c->hasmark ? c->mark : l->fwmark;
	for (i = 0; !hasmark[0] && i < 2; i++) {
		if ((e = mark_in_use(c->s, peer->family,
		    wellknown_marks[i])) == -1)
			return R_ERR;
		if (e) {
			hasmark[n] = 1;
			marks[n++] = wellknown_marks[i];
		}
	}
	for (i = 0; i < n; i++) {
		flow_to(&f, peer, hasmark[i], marks[i]);
		/* The route itself, all its nexthops: not one flow's pick. */
		if ((e = getroute(c->s, &f, RTM_F_FIB_MATCH, &rt)) != 0) {
			if (!unreachable(e)) {
				sys_fail(e, "route to %s", inet_ntop(
				    peer->family, peer->a, addr, sizeof(addr)));
				return R_ERR;
			}
			if (i > 0)
				continue;
			if ((res = by_source(c, peer, hasmark[i], marks[i],
			    M_PEER, st)) != R_NONE)
				return res;
			snprintf(c->why, sizeof(c->why), " to peer %s",
			    inet_ntop(peer->family, peer->a, addr,
			    sizeof(addr)));
			return R_NOROUTE;
		}
		if (rt.type != RTN_UNICAST || (res = route_pick(c, &rt, &nh,
		    devs, sizeof(devs))) == R_NONE)
			continue;
		if (res == R_AMBIG) {
			snprintf(c->why, sizeof(c->why), "multipath route to "
			    "peer %s in table %u: %s", inet_ntop(peer->family,
			    peer->a, addr, sizeof(addr)), rt.table, devs);
			return R_AMBIG;
		}
		step_route(st, M_PEER, &rt, nh, hasmark[i] ? &marks[i] : NULL);
		return R_FOUND;
	}
	return R_NONE;
}

/*
 * The kernel's route of the probe with a mark.  With -M (given) any answer
 * is the answer: none, or back into the tunnel, is no underlay route.  A
 * well-known mark answers only by a default route out of the tunnel.
 */
int
mark_ask(struct ctx *c, int family, uint32_t mark, int given, enum method m,
    struct step *st)
{
	const struct nexthop *nh = NULL;
	struct ipaddr probe = { .family = family };
	struct route rt;
	struct flow f;
	char devs[120];
	int e, res;

	inet_pton(family, family == AF_INET ? probe4 : probe6, probe.a);
	flow_to(&f, &probe, 1, mark);
	e = getroute(c->s, &f, RTM_F_FIB_MATCH, &rt);
	if (e != 0 && !unreachable(e)) {
		sys_fail(e, "route with mark 0x%x", mark);
		return R_ERR;
	}
	if (e == 0 && rt.type == RTN_UNICAST && (given || rt.dst_len == 0))
		res = route_pick(c, &rt, &nh, devs, sizeof(devs));
	else
		res = R_NONE;
	if (res == R_AMBIG) {
		snprintf(c->why, sizeof(c->why), "multipath route with mark "
		    "0x%x in table %u: %s", mark, rt.table, devs);
		return R_AMBIG;
	}
	if (res == R_FOUND) {
		step_route(st, m, &rt, nh, &mark);
		return R_FOUND;
	}
	if (!given)
		return R_NONE;
	snprintf(c->why, sizeof(c->why), " with mark 0x%x%s", mark,
	    e == 0 && rt.type == RTN_UNICAST ? ": routed back into the tunnel" :
	    "");
	return R_NOROUTE;
}

/* 3: the route that packets with -M, or a bypass mark, take. */
int
by_mark(struct ctx *c, int family, struct step *st)
{
	size_t i;
	int res;

	if (c->hasmark)
		return mark_ask(c, family, c->mark, 1, M_MARK, st);
	for (i = 0; i < 2; i++) {
		if ((res = mark_in_use(c->s, family, wellknown_marks[i])) ==
		    -1)
			return R_ERR;
		if (res && (res = mark_ask(c, family, wellknown_marks[i], 0,
		    M_MARK, st)) != R_NONE)
			return res;
	}
	return R_NONE;
}

#endif /* __linux__ */
