/* ISC license: see LICENSE. */
/*
 * effif on Linux: the policy routing rules, as a local packet with no
 * source address yet meets them.
 */
#ifdef __linux__

#include <sys/types.h>
#include <sys/socket.h>
#include <net/if.h>
#include <netinet/in.h>

#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "effif.h"
#include "exits.h"
#include "nl.h"

int
rule_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct sys *s = arg;
	const struct fib_rule_hdr *frh;
	struct attrs at = { .max = FRA_MAX };
	struct rule *r;
	char iif[IF_NAMESIZE];
	uint32_t v;

	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		s->intr = 1;
	if (nlh->nlmsg_type != RTM_NEWRULE ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(*frh))
		return MNL_CB_OK;
	frh = mnl_nlmsg_get_payload(nlh);
	mnl_attr_parse(nlh, sizeof(*frh), attrs_cb, &at);
	if ((r = vec_add(&s->rules[famidx(frh->family)])) == NULL)
		return MNL_CB_ERROR;
	r->action = frh->action;
	r->table = frh->table;
	attr_u32(at.tb[FRA_TABLE], &r->table);
	attr_u32(at.tb[FRA_PRIORITY], &r->prio);
	r->invert = (frh->flags & FIB_RULE_INVERT) != 0;
	r->mask = 0xffffffff;
	r->hasmark = attr_u32(at.tb[FRA_FWMARK], &r->mark);
	r->hasmark |= attr_u32(at.tb[FRA_FWMASK], &r->mask);
	attr_u32(at.tb[FRA_GOTO], &r->target);
	r->unresolved = (frh->flags & FIB_RULE_UNRESOLVED) != 0;
	r->spl = -1;
	if (attr_u32(at.tb[FRA_SUPPRESS_PREFIXLEN], &v) && v <= 128)
		r->spl = v;
	if (attr_u32(at.tb[FRA_SUPPRESS_IFGROUP], &v) && v != UINT32_MAX) {
		r->hasgroup = 1;
		r->group = v;
	}
	/*
	 * Local packets have iif lo, no oif and tos 0; a source address
	 * only once the kernel picked one (rule_matches).
	 */
	r->src_len = frh->src_len;
	if (frh->src_len != 0 && !attr_ip(at.tb[FRA_SRC], &r->src))
		r->unknown = 1;
	if (frh->tos != 0)
		r->nomatch = 1;
	if ((r->oifsel = at.tb[FRA_OIFNAME] != NULL) &&
	    !attr_str(at.tb[FRA_OIFNAME], r->oifname, sizeof(r->oifname)))
		r->unknown = 1;
	if (at.tb[FRA_IIFNAME] != NULL &&
	    (!attr_str(at.tb[FRA_IIFNAME], iif, sizeof(iif)) ||
	    strcmp(iif, "lo") != 0))
		r->nomatch = 1;
	/*
	 * And as `ip route get` asks: the kernel takes such a lookup as
	 * UDP in IPv4 and as no protocol in IPv6, from and to port 0.
	 */
	if (at.tb[FRA_IP_PROTO] != NULL &&
	    (mnl_attr_get_payload_len(at.tb[FRA_IP_PROTO]) < 1 ||
	    mnl_attr_get_u8(at.tb[FRA_IP_PROTO]) !=
	    (frh->family == AF_INET ? IPPROTO_UDP : 0)))
		r->nomatch = 1;
	if (at.tb[FRA_SPORT_RANGE] != NULL || at.tb[FRA_DPORT_RANGE] != NULL)
		r->nomatch = 1;
	if (frh->dst_len != 0 || at.unknown || at.tb[FRA_UID_RANGE] != NULL ||
	    at.tb[FRA_TUN_ID] != NULL ||
	    (at.tb[FRA_L3MDEV] != NULL && mnl_attr_get_payload_len(
	    at.tb[FRA_L3MDEV]) >= 1 && mnl_attr_get_u8(at.tb[FRA_L3MDEV])))
		r->unknown = 1;
	return MNL_CB_OK;
}

int
rules_load(struct sys *s, int family)
{
	union {
		struct nlmsghdr	h;
		char		b[256];
	} req;
	struct nlmsghdr *nlh;
	int i = famidx(family);

	if (s->have_rules[i])
		return 0;
	nlh = dump_begin(req.b, RTM_GETRULE, family,
	    sizeof(struct fib_rule_hdr));
	if (nl_dump(s, nlh, rule_cb, &s->rules[i], "rules") == -1)
		return -1;
	s->have_rules[i] = 1;
	return 0;
}

/* Whether a lies in the prefix p/len (of the same family). */
int
prefix_has(const struct ipaddr *p, unsigned int len, const struct ipaddr *a)
{
	unsigned int n = len / 8;

	if (len > (p->family == AF_INET ? 32 : 128) ||
	    memcmp(p->a, a->a, n) != 0)
		return 0;
	return len % 8 == 0 ||
	    ((p->a[n] ^ a->a[n]) & (0xff << (8 - len % 8)) & 0xff) == 0;
}

/*
 * Whether r takes a lookup with that mark, bound to device dev or (NULL)
 * to none, from src (NULL: no source address yet).
 */
int
rule_matches(const struct rule *r, uint32_t mark, const char *dev,
    const struct ipaddr *src)
{
	int m;

	if (r->unknown)
		return 0;
	m = !r->nomatch && (!r->oifsel ||
	    (dev != NULL && strcmp(r->oifname, dev) == 0));
	if (r->src_len != 0 &&
	    (src == NULL || !prefix_has(&r->src, r->src_len, src)))
		m = 0;
	if (r->hasmark && ((mark ^ r->mark) & r->mask) != 0)
		m = 0;
	return r->invert ? !m : m;
}

/*
 * Whether some rule routes packets with this mark apart from unmarked
 * ones: 1, 0, or -1 when the rules could not be read.
 */
int
mark_in_use(struct sys *s, int family, uint32_t mark)
{
	const struct rule *r;
	size_t i;

	if (rules_load(s, family) == -1)
		return -1;
	r = s->rules[famidx(family)].v;
	for (i = 0; i < s->rules[famidx(family)].n; i++)
		if (r[i].hasmark && (((mark ^ r[i].mark) & r[i].mask) == 0) !=
		    ((r[i].mark & r[i].mask) == 0))
			return 1;
	return 0;
}

/* A rule's suppressor takes the route it found away. */
int
suppressed(struct ctx *c, const struct rule *r, const struct nexthop *nh)
{
	const struct link *l;

	if (r->spl >= 0)
		return 1;	/* a default route's prefix is 0 long */
	return r->hasgroup && nh != NULL &&
	    (l = link_byindex(c->s, nh->oif)) != NULL &&
	    l->group == r->group;
}

/*
 * The rules a lookup without a mark meets, bound to device dev or (NULL)
 * to none, in order, its gotos taken (the kernel refuses a goto
 * backwards, so each rule is met once): their indices in w, which has
 * room for n; how many.
 */
size_t
rule_walk(const struct rule *r, size_t n, const char *dev, size_t *w)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		if (!rule_matches(&r[i], 0, dev, NULL))
			continue;
		w[k++] = i;
		if (r[i].action == FR_ACT_GOTO && !r[i].unresolved &&
		    rule_target(r, n, r[i].target) > i)
			i = rule_target(r, n, r[i].target) - 1;
	}
	return k;
}

/* The first rule of that preference, where a goto lands, or n. */
size_t
rule_target(const struct rule *r, size_t n, uint32_t pref)
{
	size_t i;

	for (i = 0; i < n && r[i].prio != pref; i++)
		;
	return i;
}

#endif /* __linux__ */
