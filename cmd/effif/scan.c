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
#include <stdarg.h>
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
 * Whether the kernel's own rule walk for a lookup bound to one device may
 * be the scan's (walk_agrees says whether it was): no rule that the scan
 * judges apart, no suppressor by device group (which takes a table's best
 * route away, whichever device a lookup is bound to).
 */
static int
scan_askable(struct sys *s, int family)
{
	const struct rule *r = s->rules[famidx(family)].v;
	size_t i;

	for (i = 0; i < s->rules[famidx(family)].n; i++)
		if (r[i].unknown || r[i].hasgroup)
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
static int __attribute__((format(printf, 2, 3)))
scan_read(struct ctx *c, const char *fmt, ...)
{
	va_list ap;
	int len;

	len = snprintf(c->ans->note, sizeof(c->ans->note), "scan read the "
	    "tables: ");
	va_start(ap, fmt);
	vsnprintf(c->ans->note + len, sizeof(c->ans->note) - len, fmt, ap);
	va_end(ap);
	return -1;
}

/* The scan asked of the kernel: its rule walk, the devices' answers. */
struct ask {
	struct ipaddr	 probe;
	size_t		*s, ns;		/* the scan's walk (rule_walk) */
	size_t		*w;		/* a bound lookup's, as long */
	size_t		 n;		/* devices asked */
	struct route	 rt[ASK_MAX];
	int		 ok[ASK_MAX];
};

/*
 * Whether the kernel's answer to the probe bound to device dev (rt; NULL:
 * none, errno e) is the scan's.  The two walks meet the same rules but
 * for rules on oif: one that the bound walk alone meets may send it to a
 * table, as long as that table did not answer; anything else it meets
 * alone, or a rule of the scan's that it misses, and the walks part.
 * The answer came from the first rule of its table that does not
 * suppress it.  An error but "no route" may come from any table.
 */
static int
walk_agrees(struct ctx *c, int family, struct ask *a, const char *dev,
    const struct route *rt, int e)
{
	const struct rule *x, *r = c->s->rules[famidx(family)].v;
	size_t i = 0, j, nw;
	int answered, alone = 0;

	nw = rule_walk(r, c->s->rules[famidx(family)].n, dev, a->w);
	for (j = 0; j < nw; j++) {
		x = &r[a->w[j]];
		answered = rt != NULL && x->action == FR_ACT_TO_TBL &&
		    x->table == rt->table && (x->spl < 0 ||
		    rt->dst_len > x->spl);
		if (i < a->ns && a->s[i] == a->w[j]) {
			i++;
			if (answered)
				return 1;
		} else if ((i < a->ns && a->s[i] < a->w[j]) || answered ||
		    x->action != FR_ACT_TO_TBL)
			return 0;
		else
			alone = 1;
	}
	return rt == NULL && i == a->ns && (!alone || e == ENETUNREACH);
}

/*
 * The probe's route bound to each device that may carry the tunnel's
 * packets (RTA_OIF, fibmatch), which passes over every route through
 * another device, the tunnel's included.  0, or -1 (the scan reads the
 * tables), or R_ERR.
 */
static int
ask_devices(struct ctx *c, int family, struct ask *a)
{
	const struct link *l = c->s->links.v;
	struct route *rt;
	struct flow f;
	size_t i;
	int e;

	for (i = 0, a->n = 0; i < c->s->links.n; i++) {
		if (!scan_candidate(c, &l[i]))
			continue;
		if (a->n == ASK_MAX)
			return scan_read(c, "more than %d devices", ASK_MAX);
		flow_to(&f, &a->probe, 0, 0);
		f.oif = l[i].index;
		rt = &a->rt[a->n];
		e = getroute(c->s, &f, RTM_F_FIB_MATCH, rt);
		if (e != 0 && !unreachable(e)) {
			sys_fail(e, "route by %s", l[i].name);
			return R_ERR;
		}
		if (!walk_agrees(c, family, a, l[i].name, e == 0 ? rt : NULL,
		    e))
			return scan_read(c, "a rule on oif takes the lookup "
			    "by %s elsewhere", l[i].name);
		a->ok[a->n++] = e == 0 && rt->type == RTN_UNICAST;
	}
	return 0;
}

/*
 * IPv6 keeps its reject and throw routes on lo, where a lookup bound to
 * an uplink never looks; a lookup bound to lo looks nowhere else.  1: it
 * found no route (ENETUNREACH) and met the scan's rules, so no reject
 * route lies on the scan's way; 0: one may, and the scan lists them
 * (rejects6_load, a dump); -1.  A throw sends that lookup on as no route
 * does: throw6_none.
 */
static int
rejects6_none(struct ctx *c, struct ask *a)
{
	const struct link *l = c->s->links.v;
	struct route rt;
	struct flow f;
	size_t i;
	int e;

	for (i = 0; i < c->s->links.n && !(l[i].flags & IFF_LOOPBACK); i++)
		;
	if (i == c->s->links.n)
		return 0;
	flow_to(&f, &a->probe, 0, 0);
	f.oif = l[i].index;
	e = getroute(c->s, &f, RTM_F_FIB_MATCH, &rt);
	if (e != 0 && !unreachable(e))
		return sys_fail(e, "route by %s", l[i].name);
	return e == ENETUNREACH &&
	    walk_agrees(c, AF_INET6, a, l[i].name, NULL, e);
}

/*
 * Whether no IPv6 throw default of a lower metric stands before best in
 * its table, which no lookup bound to a device sees.  A lookup bound to
 * none takes a table's route of the lowest metric, a throw included, so
 * one that answers best itself proves it.  Asked with the mark of each
 * rule on marks, which may pass by the tunnel's rule, then with none:
 * THROW_ASKS at most.  1, 0 (not proved), or -1.
 */
static int
throw6_none(struct ctx *c, struct ask *a, const struct route *best)
{
	const struct rule *r = c->s->rules[1].v;
	struct route rt;
	struct flow f;
	size_t i, n = c->s->rules[1].n, asked = 0;
	int e;

	for (i = 0; i <= n && asked < THROW_ASKS; i++) {
		if (i < n && (!r[i].hasmark || (r[i].mark & r[i].mask) == 0))
			continue;
		flow_to(&f, &a->probe, i < n, i < n ? r[i].mark & r[i].mask :
		    0);
		asked++;
		e = getroute(c->s, &f, RTM_F_FIB_MATCH, &rt);
		if (e != 0 && !unreachable(e))
			return sys_fail(e, "route of the probe");
		if (e == 0 && rt.dst_len == 0 && route_same(&rt, best))
			return 1;
	}
	return 0;
}

/* The scan's answer from best, the route a table gives at its rule. */
static int
scan_answer(struct ctx *c, const struct route *best, struct step *st)
{
	const struct link *x;
	const struct nexthop *nh = NULL;
	int k, several = 0;

	for (k = 0; k < best->nnh; k++) {
		x = link_byindex(c->s, best->nh[k].oif);
		if (x == NULL || link_tunnel(x) || in_chain(c, x->index) ||
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
		snprintf(c->why, sizeof(c->why), "multipath default route in "
		    "table %u", best->table);
		return R_AMBIG;
	}
	step_route(st, M_SCAN, best, nh, NULL);
	return R_FOUND;
}

/*
 * The scan, asked of the kernel (ask_devices).  Each answer names its
 * table; the rules, walked without looking into a table, say which table
 * comes first.  IPv6 rejects and throws, which those lookups pass over,
 * are ruled out by lookups (rejects6_none, throw6_none) or listed.  An
 * answer that is not a default route, a tie, a reject or throw default
 * on the way, or no answer at all: -1, and the scan reads the tables
 * itself (it also names why there is no route).
 */
static int
scan_walk(struct ctx *c, int family, struct ask *a, struct step *st)
{
	const struct rule *r = c->s->rules[famidx(family)].v, *x;
	const struct route *best;
	size_t k;
	int e;

	if ((e = ask_devices(c, family, a)) != 0)
		return e;
	if (family == AF_INET6 && (e = rejects6_none(c, a)) <= 0 &&
	    (e == -1 || rejects6_load(c->s) == -1))
		return R_ERR;
	for (k = 0; k < a->ns; k++) {
		x = &r[a->s[k]];
		if (x->action == FR_ACT_GOTO)
			continue;	/* rule_walk took it */
		if (x->action != FR_ACT_TO_TBL)
			return scan_read(c, "no route before a rejecting rule");
		if (family == AF_INET6 && reject6_in(c->s, x->table))
			return scan_read(c, "an IPv6 reject or throw default");
		if (scan_best(a->rt, a->ok, a->n, x, &best) == -1)
			return scan_read(c, "routes of equal metric");
		if (best == NULL)
			continue;
		if (best->dst_len != 0)
			return scan_read(c, "a route more specific than default");
		if (family == AF_INET6 && !c->s->have_rejects6 &&
		    (e = throw6_none(c, a, best)) <= 0) {
			if (e == -1 || rejects6_load(c->s) == -1)
				return R_ERR;
			if (reject6_in(c->s, x->table))
				return scan_read(c, "an IPv6 reject or throw "
				    "default");
		}
		return scan_answer(c, best, st);
	}
	return scan_read(c, "no route");
}

static int
scan_ask(struct ctx *c, int family, struct step *st)
{
	struct ask a = { .probe.family = family };
	size_t nr = c->s->rules[famidx(family)].n;
	int res;

	if (!scan_askable(c->s, family))
		return scan_read(c, "suppress_ifgroup or a selector the scan "
		    "passes over");
	if ((a.s = reallocarray(NULL, nr + 1, 2 * sizeof(size_t))) == NULL) {
		sys_fail(errno, "scan");
		return R_ERR;
	}
	a.w = a.s + nr + 1;
	a.ns = rule_walk(c->s->rules[famidx(family)].v, nr, NULL, a.s);
	inet_pton(family, family == AF_INET ? probe4 : probe6, a.probe.a);
	res = scan_walk(c, family, &a, st);
	free(a.s);
	return res;
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
		if (!rule_matches(&r[i], 0, NULL))
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
		step_route(st, M_SCAN, rt, nh, NULL);
		return R_FOUND;
	}
	memset(&probe, 0, sizeof(probe));
	probe.family = family;
	inet_pton(family, family == AF_INET ? probe4 : probe6, probe.a);
	res = by_source(c, &probe, 0, 0, M_SCAN, st);
	return res == R_NONE ? R_NOROUTE : res;
}

#endif /* __linux__ */
