/* ISC license: see LICENSE. */
/*
 * effif on Linux: the methods that ask about no particular flow: link,
 * peer, mark and scan.  Lookups ask the question a tunnel's outer packets
 * ask, never with the tunnel as oif.
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

void
step_route(struct step *st, enum method m, const struct nexthop *nh,
    int family, uint32_t table, int hasmark, uint32_t mark)
{
	st->method = m;
	st->next = nh->oif;
	st->routed = 1;
	st->family = family;
	st->gw = nh->gw;
	st->table = table;
	st->hasmark = hasmark;
	st->mark = mark;
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
static int
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
			step_route(st, m, nh, AF_INET6, rt.table, hasmark,
			    mark);
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
		step_route(st, M_PEER, nh, peer->family, rt.table, hasmark[i],
		    marks[i]);
		return R_FOUND;
	}
	return R_NONE;
}

/*
 * The kernel's route of the probe with a mark.  With -M (given) any answer
 * is the answer: none, or back into the tunnel, is no underlay route.  A
 * well-known mark answers only by a default route out of the tunnel.
 */
static int
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
		step_route(st, m, nh, family, rt.table, 1, mark);
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

/*
 * The route a table gives a default-routed packet, the tunnels left out:
 * its lowest metric default.  R_FOUND, R_AMBIG (over several devices),
 * R_NOROUTE (an unreachable, prohibit or blackhole default ends the
 * lookup), R_NONE (none, or throw: on to the next rule).
 */
static int
table_default(struct ctx *c, int family, uint32_t table,
    const struct route **best, const struct nexthop **bestnh)
{
	const struct route *rt = c->s->routes[famidx(family)].v;
	const struct link *l;
	const struct nexthop *nh;
	size_t i;
	int j, several, ambiguous = 0;

	*best = NULL;
	*bestnh = NULL;
	for (i = 0; i < c->s->routes[famidx(family)].n; i++) {
		if (rt[i].table != table ||
		    (*best != NULL && rt[i].metric >= (*best)->metric))
			continue;
		for (j = 0, nh = NULL, several = 0; j < rt[i].nnh; j++) {
			l = link_byindex(c->s, rt[i].nh[j].oif);
			if (l == NULL || link_tunnel(l) ||
			    in_chain(c, l->index) ||
			    (rt[i].nh[j].flags & RTNH_F_DEAD))
				continue;
			if (nh == NULL)
				nh = &rt[i].nh[j];
			else if (nh->oif != l->index)
				several = 1;
		}
		if (nh == NULL && rt[i].type == RTN_UNICAST)
			continue;
		*best = &rt[i];
		*bestnh = nh;
		ambiguous = several;
	}
	if (*best == NULL || (*best)->type == RTN_THROW)
		return R_NONE;
	if ((*best)->type != RTN_UNICAST)
		return R_NOROUTE;
	return ambiguous ? R_AMBIG : R_FOUND;
}

/*
 * Whether the kernel's own rule walk for a lookup bound to one device is
 * the scan's for a lookup bound to none: no rule that selects on the
 * device or that the scan judges apart, no suppressor by device group.
 */
static int
scan_askable(struct sys *s, int family)
{
	const struct rule *r = s->rules[famidx(family)].v;
	size_t i;

	for (i = 0; i < s->rules[famidx(family)].n; i++)
		if (r[i].oifsel || r[i].unknown || r[i].hasgroup)
			return 0;
	return 1;
}

/* A device a scan asks about: one that may carry a tunnel's packets. */
static int
scan_candidate(struct ctx *c, const struct link *l)
{
	return (l->flags & IFF_UP) && !(l->flags & IFF_LOOPBACK) &&
	    l->master == 0 && !link_tunnel(l) && !in_chain(c, l->index);
}

/*
 * Of the routes the kernel gave the devices asked, the one a table gives
 * at this rule: the longest prefix, then the lowest metric, as the
 * table's own lookup.  -1: two such routes tie (the scan decides).
 */
static int
scan_best(const struct route *rt, const int *ok, size_t n,
    const struct rule *r, const struct route **best)
{
	size_t i;

	*best = NULL;
	for (i = 0; i < n; i++) {
		if (!ok[i] || rt[i].table != r->table ||
		    (r->spl >= 0 && rt[i].dst_len <= r->spl))
			continue;
		if (*best == NULL || rt[i].dst_len > (*best)->dst_len ||
		    (rt[i].dst_len == (*best)->dst_len &&
		    rt[i].metric < (*best)->metric))
			*best = &rt[i];
		else if (rt[i].dst_len == (*best)->dst_len &&
		    rt[i].metric == (*best)->metric &&
		    !route_same(&rt[i], *best))
			return -1;
	}
	return 0;
}

/* The scan could not be asked of the kernel: -v says why. */
static int
scan_read(struct ctx *c, const char *why)
{
	snprintf(c->ans->note, sizeof(c->ans->note), "scan read the tables: "
	    "%s", why);
	return -1;
}

/*
 * The scan, asked of the kernel: for each device that may carry the
 * tunnel's packets, the route of the probe bound to that device (RTA_OIF,
 * fibmatch), which passes over every route through another device, the
 * tunnel's included.  Each answer names its table; the rules, walked
 * without looking into a table, say which table comes first.  An answer
 * that is not a default route, a tie, more devices than ASK_MAX, an IPv6
 * reject or throw default on the way, or no answer at all: -1, and the
 * scan reads the tables itself (it also names why there is no route).
 */
static int
scan_ask(struct ctx *c, int family, struct step *st)
{
	const struct link *l = c->s->links.v, *x;
	const struct rule *r = c->s->rules[famidx(family)].v;
	const struct route *best;
	const struct nexthop *nh = NULL;
	struct route rt[ASK_MAX];
	struct ipaddr probe = { .family = family };
	struct flow f;
	size_t i, k, n = 0, nr = c->s->rules[famidx(family)].n, steps;
	int e, ok[ASK_MAX], several;

	if (!scan_askable(c->s, family))
		return scan_read(c, "a rule on oif, suppress_ifgroup or a "
		    "selector the scan passes over");
	inet_pton(family, family == AF_INET ? probe4 : probe6, probe.a);
	for (i = 0; i < c->s->links.n; i++) {
		if (!scan_candidate(c, &l[i]))
			continue;
		if (n == ASK_MAX)
			return scan_read(c, "more than 16 devices");
		flow_to(&f, &probe, 0, 0);
		f.oif = l[i].index;
		e = getroute(c->s, &f, RTM_F_FIB_MATCH, &rt[n]);
		if (e != 0 && !unreachable(e)) {
			sys_fail(e, "route by %s", l[i].name);
			return R_ERR;
		}
		ok[n] = e == 0 && rt[n].type == RTN_UNICAST;
		n++;
	}
	if (family == AF_INET6 && rejects6_load(c->s) == -1)
		return R_ERR;
	for (i = 0, steps = 0; i < nr && steps < RULE_STEPS; i++, steps++) {
		if (!rule_matches(&r[i], 0, NULL))
			continue;
		if (r[i].action == FR_ACT_GOTO) {
			if (!r[i].unresolved &&
			    rule_target(r, nr, r[i].target) > i)
				i = rule_target(r, nr, r[i].target) - 1;
			continue;
		}
		if (r[i].action != FR_ACT_TO_TBL)
			return scan_read(c, "no route before a rejecting rule");
		if (family == AF_INET6 && reject6_in(c->s, r[i].table))
			return scan_read(c, "an IPv6 reject or throw default");
		if (scan_best(rt, ok, n, &r[i], &best) == -1)
			return scan_read(c, "routes of equal metric");
		if (best == NULL)
			continue;
		if (best->dst_len != 0)
			return scan_read(c, "a route more specific than default");
		for (k = 0, several = 0; k < (size_t)best->nnh; k++) {
			x = link_byindex(c->s, best->nh[k].oif);
			if (x == NULL || link_tunnel(x) ||
			    in_chain(c, x->index) ||
			    (best->nh[k].flags & RTNH_F_DEAD))
				continue;
			if (nh == NULL)
				nh = &best->nh[k];
			else if (nh->oif != x->index)
				several = 1;
		}
		if (nh == NULL)
			return scan_read(c, "no device of the route");
		if (several) {
			snprintf(c->why, sizeof(c->why), "multipath default "
			    "route in table %u", best->table);
			return R_AMBIG;
		}
		step_route(st, M_SCAN, nh, family, best->table, 0, 0);
		return R_FOUND;
	}
	return scan_read(c, "no route");
}

/*
 * A table's best IPv6 default from a source prefix that holds src: the
 * kernel prefers it to the table's plain defaults (the longest source
 * prefix, then the lowest metric), routes through a tunnel left out as
 * table_default leaves them.  R_NONE, R_FOUND or R_AMBIG (multipath).
 */
static int
table_from(struct ctx *c, uint32_t table, const struct ipaddr *src,
    const struct route **best, const struct nexthop **bestnh)
{
	const struct route *sr = c->s->srcroutes6.v;
	const struct nexthop *nh;
	const struct link *l;
	size_t i;
	int j, several, ambiguous = 0;

	*best = NULL;
	for (i = 0; i < c->s->srcroutes6.n; i++) {
		if (sr[i].table != table ||
		    !prefix_has(&sr[i].src, sr[i].src_len, src) ||
		    (*best != NULL && (sr[i].src_len < (*best)->src_len ||
		    (sr[i].src_len == (*best)->src_len &&
		    sr[i].metric >= (*best)->metric))))
			continue;
		for (j = 0, nh = NULL, several = 0; j < sr[i].nnh; j++) {
			l = link_byindex(c->s, sr[i].nh[j].oif);
			if (l == NULL || link_tunnel(l) ||
			    in_chain(c, l->index) ||
			    (sr[i].nh[j].flags & RTNH_F_DEAD))
				continue;
			if (nh == NULL)
				nh = &sr[i].nh[j];
			else if (nh->oif != l->index)
				several = 1;
		}
		if (nh == NULL)
			continue;
		*best = &sr[i];
		*bestnh = nh;
		ambiguous = several;
	}
	if (*best == NULL)
		return R_NONE;
	return ambiguous ? R_AMBIG : R_FOUND;
}

/*
 * The rules walked as the kernel walks them for a local packet with no
 * mark, from src (NULL: no source address yet), a table's route through
 * a tunnel left out.
 */
static int
scan_walk(struct ctx *c, int family, const struct ipaddr *src,
    struct step *st)
{
	const struct rule *r = c->s->rules[famidx(family)].v;
	const struct route *rt;
	const struct nexthop *nh = NULL;
	size_t i, n = c->s->rules[famidx(family)].n, steps;
	int res;

	for (i = 0, steps = 0; i < n && steps < RULE_STEPS; i++, steps++) {
		if (!rule_matches(&r[i], 0, src))
			continue;
		switch (r[i].action) {
		case FR_ACT_GOTO:
			/* The kernel refuses a goto backwards. */
			if (!r[i].unresolved &&
			    rule_target(r, n, r[i].target) > i)
				i = rule_target(r, n, r[i].target) - 1;
			continue;
		case FR_ACT_BLACKHOLE:
		case FR_ACT_UNREACHABLE:
		case FR_ACT_PROHIBIT:
			snprintf(c->why, sizeof(c->why), " (rule %u)",
			    r[i].prio);
			return R_NOROUTE;
		case FR_ACT_TO_TBL:
			break;
		default:
			continue;
		}
		res = R_NONE;
		if (src != NULL)
			res = table_from(c, r[i].table, src, &rt, &nh);
		if (res == R_NONE)
			res = table_default(c, family, r[i].table, &rt, &nh);
		if (res == R_NONE || (res != R_NOROUTE &&
		    suppressed(c, &r[i], nh)))
			continue;
		if (res == R_NOROUTE) {
			snprintf(c->why, sizeof(c->why), " (%s default route "
			    "in table %u)", rt->type == RTN_BLACKHOLE ?
			    "blackhole" : rt->type == RTN_PROHIBIT ?
			    "prohibit" : "unreachable", rt->table);
			return R_NOROUTE;
		}
		if (res == R_AMBIG) {
			snprintf(c->why, sizeof(c->why), "multipath default "
			    "route in table %u", rt->table);
			return R_AMBIG;
		}
		step_route(st, M_SCAN, nh, family, rt->table, 0, 0);
		return R_FOUND;
	}
	return R_NOROUTE;
}

/*
 * IPv6 with no route for a packet with no source yet: the kernel picks
 * a source and looks again (ip6_dst_lookup_tail), so defaults from a
 * source prefix may still take it.  The walk again from each source
 * prefix (its first address), in the tables, not by asking the kernel,
 * whose lookup meets the tunnel's own routes first: one device for
 * every source is the answer; several, and the answer depends on the
 * source.  R_NOROUTE, and the first walk's reason, when none leaves.
 */
static int
scan_sources(struct ctx *c, struct step *st)
{
	const struct route *sr;
	struct step one;
	char a[INET6_ADDRSTRLEN], why[sizeof(c->why)], list[160] = "";
	size_t i, j, len;
	unsigned int first = 0;
	int res, several = 0;

	if (srcroutes6_load(c->s) == -1)
		return R_ERR;
	memcpy(why, c->why, sizeof(why));
	sr = c->s->srcroutes6.v;
	for (i = 0; i < c->s->srcroutes6.n; i++) {
		for (j = 0; j < i && (sr[j].src_len != sr[i].src_len ||
		    memcmp(sr[j].src.a, sr[i].src.a, 16) != 0); j++)
			;
		if (j < i)
			continue;	/* that source was walked */
		memset(&one, 0, sizeof(one));
		if ((res = scan_walk(c, AF_INET6, &sr[i].src, &one)) !=
		    R_FOUND && res != R_AMBIG)
			continue;
		len = strlen(list);
		snprintf(list + len, sizeof(list) - len, "%sfrom %s/%u %s",
		    len > 0 ? ", " : "", inet_ntop(AF_INET6, sr[i].src.a, a,
		    sizeof(a)), sr[i].src_len, res == R_AMBIG ? "multipath" :
		    link_byindex(c->s, one.next) != NULL ?
		    link_byindex(c->s, one.next)->name : "?");
		if (res == R_AMBIG || (first != 0 && one.next != first))
			several = 1;
		if (first == 0 && res == R_FOUND) {
			first = one.next;
			*st = one;
		}
	}
	if (several) {
		snprintf(c->why, sizeof(c->why), "the answer depends on the "
		    "source: %s", list);
		return R_AMBIG;
	}
	memcpy(c->why, why, sizeof(why));
	if (first == 0)
		return R_NOROUTE;
	snprintf(c->ans->note, sizeof(c->ans->note), "source-specific route "
	    "%s", list);
	return R_FOUND;
}

/*
 * 4: "as if the tunnel were not there", which the kernel cannot be asked:
 * the rules walked as the kernel walks them for a local packet with no
 * source address yet and no mark, a table's route through a tunnel left
 * out; in IPv6, then from each source prefix.  With a mark there is no
 * need: the kernel answers.
 */
int
by_scan(struct ctx *c, int family, struct step *st)
{
	int res;

	if (c->hasmark)
		return mark_ask(c, family, c->mark, 1, M_SCAN, st);
	if (rules_load(c->s, family) == -1)
		return R_ERR;
	if ((res = scan_ask(c, family, st)) != -1)
		return res;
	if (routes_load(c->s, family) == -1)
		return R_ERR;
	res = scan_walk(c, family, NULL, st);
	return res == R_NOROUTE && family == AF_INET6 ? scan_sources(c, st) :
	    res;
}

#endif /* __linux__ */
