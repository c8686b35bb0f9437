/* ISC license: see LICENSE. */
/*
 * effif on Linux: routes and nexthops, dumped (the default routes of
 * every table) or asked of the kernel for one flow (RTM_GETROUTE).
 */
#ifdef __linux__

#include <sys/types.h>
#include <sys/socket.h>
#include <net/if.h>
#include <netinet/in.h>

#include <linux/nexthop.h>
#include <linux/rtnetlink.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "effif.h"
#include "exits.h"
#include "nl.h"

static void
nexthops_parse(const struct nlattr *a, struct route *rt)
{
	const struct rtnexthop *nh;
	const char *p = mnl_attr_get_payload(a);
	size_t left = mnl_attr_get_payload_len(a), step;
	struct nexthop *x;
	struct attrs at;

	while (left >= sizeof(*nh) && rt->nnh < NH_MAX) {
		nh = (const struct rtnexthop *)p;
		if (nh->rtnh_len < sizeof(*nh) || nh->rtnh_len > left)
			break;
		x = &rt->nh[rt->nnh++];
		x->oif = nh->rtnh_ifindex;
		x->flags = nh->rtnh_flags;
		memset(&at, 0, sizeof(at));
		at.max = RTA_MAX;
		if (nh->rtnh_len > RTNH_LENGTH(0))
			mnl_attr_parse_payload(p + RTNH_LENGTH(0),
			    nh->rtnh_len - RTNH_LENGTH(0), attrs_cb, &at);
		attr_addr(at.tb[RTA_GATEWAY], &x->gw);
		step = RTNH_ALIGN(nh->rtnh_len);
		if (step > left)
			break;
		left -= step;
		p += step;
	}
}

static int
route_parse(const struct nlmsghdr *nlh, struct route *rt)
{
	const struct rtmsg *rtm;
	struct attrs at = { .max = RTA_MAX };
	const struct rtvia *via;
	uint32_t oif;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*rtm))
		return -1;
	rtm = mnl_nlmsg_get_payload(nlh);
	mnl_attr_parse(nlh, sizeof(*rtm), attrs_cb, &at);
	memset(rt, 0, sizeof(*rt));
	rt->family = rtm->rtm_family;
	rt->dst_len = rtm->rtm_dst_len;
	rt->src_len = rtm->rtm_src_len;
	rt->type = rtm->rtm_type;
	rt->table = rtm->rtm_table;
	attr_u32(at.tb[RTA_TABLE], &rt->table);
	attr_u32(at.tb[RTA_PRIORITY], &rt->metric);
	attr_u32(at.tb[RTA_NH_ID], &rt->nhid);
	attr_addr(at.tb[RTA_SRC], &rt->src);
	if (at.tb[RTA_MULTIPATH] != NULL) {
		nexthops_parse(at.tb[RTA_MULTIPATH], rt);
		return 0;
	}
	if (!attr_u32(at.tb[RTA_OIF], &oif))
		return 0;
	rt->nnh = 1;
	rt->nh[0].oif = oif;
	rt->nh[0].flags = rtm->rtm_flags & 0xff;
	if (!attr_addr(at.tb[RTA_GATEWAY], &rt->nh[0].gw) &&
	    at.tb[RTA_VIA] != NULL &&
	    mnl_attr_get_payload_len(at.tb[RTA_VIA]) == sizeof(*via) + 16) {
		via = mnl_attr_get_payload(at.tb[RTA_VIA]);
		if (via->rtvia_family == AF_INET6) {
			rt->nh[0].gw.family = AF_INET6;
			memcpy(rt->nh[0].gw.a, via->rtvia_addr, 16);
		}
	}
	return 0;
}

int
route_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct sys *s = arg;
	struct route rt, *p;

	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		s->intr = 1;
	if (nlh->nlmsg_type != RTM_NEWROUTE || route_parse(nlh, &rt) == -1)
		return MNL_CB_OK;
	if (rt.dst_len != 0 || rt.src_len != 0 ||
	    (rt.family != AF_INET && rt.family != AF_INET6))
		return MNL_CB_OK;
	/* A throw or reject default decides a lookup as a unicast one does. */
	switch (rt.type) {
	case RTN_UNICAST:
	case RTN_UNREACHABLE:
	case RTN_PROHIBIT:
	case RTN_BLACKHOLE:
	case RTN_THROW:
		break;
	default:
		return MNL_CB_OK;
	}
	if ((p = vec_add(&s->routes[famidx(rt.family)])) == NULL)
		return MNL_CB_ERROR;
	*p = rt;
	return MNL_CB_OK;
}

static int
nhobj_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct sys *s = arg;
	const struct nhmsg *nhm;
	const struct nexthop_grp *g;
	struct attrs at = { .max = NHA_MAX };
	struct nhobj *o;
	size_t i, n;

	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		s->intr = 1;
	if (nlh->nlmsg_type != RTM_NEWNEXTHOP ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(*nhm))
		return MNL_CB_OK;
	nhm = mnl_nlmsg_get_payload(nlh);
	mnl_attr_parse(nlh, sizeof(*nhm), attrs_cb, &at);
	if ((o = vec_add(&s->nhobjs)) == NULL)
		return MNL_CB_ERROR;
	if (!attr_u32(at.tb[NHA_ID], &o->id)) {
		s->nhobjs.n--;
		return MNL_CB_OK;
	}
	o->blackhole = at.tb[NHA_BLACKHOLE] != NULL;
	o->nh.flags = nhm->nh_flags;
	attr_u32(at.tb[NHA_OIF], &o->nh.oif);
	attr_addr(at.tb[NHA_GATEWAY], &o->nh.gw);
	if (at.tb[NHA_GROUP] != NULL) {
		g = mnl_attr_get_payload(at.tb[NHA_GROUP]);
		n = mnl_attr_get_payload_len(at.tb[NHA_GROUP]) / sizeof(*g);
		for (i = 0; i < n && i < NH_MAX; i++)
			o->group[o->ngroup++] = g[i].id;
	}
	return MNL_CB_OK;
}

/*
 * A nexthop object by id, asked of the kernel once per round (RTM_GETNEXTHOP
 * for that id, not a dump), in *op: NULL when there is none.  The pointer
 * lasts until the next call.  0, or -1 when the kernel could not be asked.
 */
static int
nhobj_get(struct sys *s, uint32_t id, const struct nhobj **op)
{
	union {
		struct nlmsghdr	h;
		char		b[256];
	} req;
	const struct nhobj *o = s->nhobjs.v;
	struct nlmsghdr *nlh;
	struct nhmsg *nhm;
	size_t i;

	*op = NULL;
	for (i = 0; i < s->nhobjs.n; i++)
		if (o[i].id == id) {
			*op = &o[i];
			return 0;
		}
	nlh = mnl_nlmsg_put_header(req.b);
	nlh->nlmsg_type = RTM_GETNEXTHOP;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nhm = mnl_nlmsg_put_extra_header(nlh, sizeof(*nhm));
	nhm->nh_family = AF_UNSPEC;
	mnl_attr_put_u32(nlh, NHA_ID, id);
	if (nl_talk(s, nlh, nhobj_cb, s) == -1) {
		if (errno == ENOENT)
			return 0;
		return sys_fail(errno, "nexthop %u", id);
	}
	o = s->nhobjs.v;
	for (i = 0; i < s->nhobjs.n; i++)
		if (o[i].id == id)
			*op = &o[i];
	return 0;
}

/*
 * A route by nexthop object (with net.ipv4.nexthop_compat_mode=0 the
 * kernel sends only its id): its nexthops, from the objects.  0, or -1.
 */
static int
route_nhobj(struct sys *s, struct route *rt)
{
	const struct nhobj *m, *p;
	struct nhobj o;
	int i;

	if (rt->nhid == 0 || rt->nnh != 0)
		return 0;
	if (nhobj_get(s, rt->nhid, &p) == -1)
		return -1;
	if (p == NULL)
		return 0;
	o = *p;
	if (o.blackhole)
		rt->type = RTN_BLACKHOLE;
	else if (o.ngroup == 0)
		rt->nh[rt->nnh++] = o.nh;
	for (i = 0; i < o.ngroup && rt->nnh < NH_MAX; i++) {
		if (nhobj_get(s, o.group[i], &m) == -1)
			return -1;
		if (m != NULL && !m->blackhole)
			rt->nh[rt->nnh++] = m->nh;
	}
	return 0;
}

/* The default routes of a family, of every table. */
int
routes_load(struct sys *s, int family)
{
	union {
		struct nlmsghdr	h;
		char		b[256];
	} req;
	struct nlmsghdr *nlh;
	struct route *rt;
	size_t j;
	int i = famidx(family);

	if (s->have_routes[i])
		return 0;
	nlh = dump_begin(req.b, RTM_GETROUTE, family, sizeof(struct rtmsg));
	if (nl_dump(s, nlh, route_cb, &s->routes[i], "routes") == -1)
		return -1;
	rt = s->routes[i].v;
	for (j = 0; j < s->routes[i].n; j++)
		if (route_nhobj(s, &rt[j]) == -1)
			return -1;
	s->have_routes[i] = 1;
	return 0;
}

int
getroute_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct route *rt = arg;

	if (nlh->nlmsg_type == RTM_NEWROUTE && route_parse(nlh, rt) == -1) {
		errno = EPROTO;
		return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

/*
 * RTM_GETROUTE for f's packets, as a local socket with that mark (bound to
 * that device, from that address) would ask: 0, or the kernel's errno
 * (ENETUNREACH and friends).
 */
int
getroute(struct sys *s, const struct flow *f, unsigned int flags,
    struct route *rt)
{
	union {
		struct nlmsghdr	h;
		char		b[256];
	} req;
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	size_t alen = f->dst.family == AF_INET ? 4 : 16;

	nlh = mnl_nlmsg_put_header(req.b);
	nlh->nlmsg_type = RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = f->dst.family;
	rtm->rtm_dst_len = alen * 8;
	rtm->rtm_flags = RTM_F_LOOKUP_TABLE | flags;
	mnl_attr_put(nlh, RTA_DST, alen, f->dst.a);
	if (f->src.family == f->dst.family) {
		rtm->rtm_src_len = alen * 8;
		mnl_attr_put(nlh, RTA_SRC, alen, f->src.a);
	}
	if (f->hasmark)
		mnl_attr_put_u32(nlh, RTA_MARK, f->mark);
	if (f->oif != 0)
		mnl_attr_put_u32(nlh, RTA_OIF, f->oif);
	if (f->hasuid)
		mnl_attr_put_u32(nlh, RTA_UID, f->uid);
	if (f->proto != 0)
		mnl_attr_put_u8(nlh, RTA_IP_PROTO, f->proto);
	if (f->sport != 0)
		mnl_attr_put_u16(nlh, RTA_SPORT, htons(f->sport));
	if (f->dport != 0)
		mnl_attr_put_u16(nlh, RTA_DPORT, htons(f->dport));
	memset(rt, 0, sizeof(*rt));
	rt->type = RTN_UNSPEC;
	if (nl_talk(s, nlh, getroute_cb, rt) == -1 ||
	    route_nhobj(s, rt) == -1)
		return errno;
	return 0;
}

/* A flow to dst, with a mark or none. */
void
flow_to(struct flow *f, const struct ipaddr *dst, int hasmark, uint32_t mark)
{
	memset(f, 0, sizeof(*f));
	f->dst = *dst;
	f->hasmark = hasmark;
	f->mark = mark;
}

/*
 * How the kernel says there is no route: ENETUNREACH (none, or an
 * unreachable rule), EHOSTUNREACH (an unreachable route), EACCES (prohibit),
 * EINVAL (blackhole), EAFNOSUPPORT (no IPv6 at all).
 */
int
unreachable(int e)
{
	return e == ENETUNREACH || e == EHOSTUNREACH || e == EACCES ||
	    e == EPERM || e == EINVAL || e == EAFNOSUPPORT;
}

static int
reject6_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct sys *s = arg;
	struct route rt, *p;

	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		s->intr = 1;
	if (nlh->nlmsg_type != RTM_NEWROUTE || route_parse(nlh, &rt) == -1 ||
	    rt.dst_len != 0 || rt.src_len != 0 || (rt.type != RTN_UNREACHABLE &&
	    rt.type != RTN_PROHIBIT && rt.type != RTN_BLACKHOLE &&
	    rt.type != RTN_THROW))
		return MNL_CB_OK;
	if ((p = vec_add(&s->rejects6)) == NULL)
		return MNL_CB_ERROR;
	*p = rt;
	return MNL_CB_OK;
}

/*
 * The IPv6 reject and throw default routes of every table, which IPv6
 * keeps on lo: a dump the kernel filters by device (strict checking), so
 * that the other routes, however many, are never sent.
 */
int
rejects6_load(struct sys *s)
{
	union {
		struct nlmsghdr	h;
		char		b[256];
	} req;
	struct nlmsghdr *nlh;
	int on = 1, off = 0, fd = mnl_socket_get_fd(s->nl), ret;

	if (s->have_rejects6)
		return 0;
	nlh = dump_begin(req.b, RTM_GETROUTE, AF_INET6, sizeof(struct rtmsg));
	mnl_attr_put_u32(nlh, RTA_OIF, 1);
	if (setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &on,
	    sizeof(on)) == -1)
		return sys_fail(errno, "netlink strict checking");
	ret = nl_dump(s, nlh, reject6_cb, &s->rejects6, "IPv6 reject routes");
	if (setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &off,
	    sizeof(off)) == -1)
		return sys_fail(errno, "netlink strict checking");
	s->have_rejects6 = ret == 0;
	return ret;
}

/* An IPv6 reject or throw default in that table (the kernel's oif lookup
 * passes over them, the scan does not). */
int
reject6_in(struct sys *s, uint32_t table)
{
	const struct route *rt = s->rejects6.v;
	size_t i;

	for (i = 0; i < s->rejects6.n; i++)
		if (rt[i].table == table)
			return 1;
	return 0;
}

/* The same route: a multipath route answers for each of its devices. */
int
route_same(const struct route *a, const struct route *b)
{
	return a->table == b->table && a->dst_len == b->dst_len &&
	    a->metric == b->metric && a->nnh == b->nnh &&
	    memcmp(a->nh, b->nh, a->nnh * sizeof(a->nh[0])) == 0;
}

static int
srcroute6_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct sys *s = arg;
	struct route rt, *p;

	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		s->intr = 1;
	if (nlh->nlmsg_type != RTM_NEWROUTE || route_parse(nlh, &rt) == -1 ||
	    rt.dst_len != 0 || rt.src_len == 0 || rt.type != RTN_UNICAST)
		return MNL_CB_OK;
	if ((p = vec_add(&s->srcroutes6)) == NULL)
		return MNL_CB_ERROR;
	*p = rt;
	return MNL_CB_OK;
}

/*
 * The IPv6 default routes from a source prefix (subtrees), of every
 * table: asked only once a lookup without a source found no route.
 */
int
srcroutes6_load(struct sys *s)
{
	union {
		struct nlmsghdr	h;
		char		b[256];
	} req;
	struct nlmsghdr *nlh;

	if (s->have_srcroutes6)
		return 0;
	nlh = dump_begin(req.b, RTM_GETROUTE, AF_INET6, sizeof(struct rtmsg));
	if (nl_dump(s, nlh, srcroute6_cb, &s->srcroutes6,
	    "IPv6 source routes") == -1)
		return -1;
	s->have_srcroutes6 = 1;
	return 0;
}

#endif /* __linux__ */
