/* ISC license: see LICENSE. */
/*
 * effif on Linux: the scan, "as if the tunnel were not there", asked of
 * the kernel device by device where its rule walk is the scan's, and
 * read from the tables where it cannot be.
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
		if (!rule_matches(&r[i], 0))
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
 * 4: "as if the tunnel were not there", which the kernel cannot be asked:
 * the rules walked as the kernel walks them for a local packet with no
 * source address yet and no mark, a table's route through a tunnel left
 * out.  With a mark there is no need: the kernel answers.
 */
int
by_scan(struct ctx *c, int family, struct step *st)
{
	const struct rule *r;
	const struct route *rt;
	const struct nexthop *nh = NULL;
	struct ipaddr probe;
	size_t i, n, steps;
	int res;

	if (c->hasmark)
		return mark_ask(c, family, c->mark, 1, M_SCAN, st);
	if (rules_load(c->s, family) == -1)
		return R_ERR;
	if ((res = scan_ask(c, family, st)) != -1)
		return res;
	if (routes_load(c->s, family) == -1)
		return R_ERR;
	r = c->s->rules[famidx(family)].v;
	n = c->s->rules[famidx(family)].n;
	for (i = 0, steps = 0; i < n && steps < RULE_STEPS; i++, steps++) {
		if (!rule_matches(&r[i], 0))
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
	memset(&probe, 0, sizeof(probe));
	probe.family = family;
	inet_pton(family, family == AF_INET ? probe4 : probe6, probe.a);
	res = by_source(c, &probe, 0, 0, M_SCAN, st);
	return res == R_NONE ? R_NOROUTE : res;
}

#endif /* __linux__ */
