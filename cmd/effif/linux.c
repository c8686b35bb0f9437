/* ISC license: see LICENSE. */
/*
 * effif on Linux: the answer from rtnetlink, through libmnl.
 *
 * One snapshot per round: the links, then on demand the rules and the
 * default routes of a family.  Lookups (RTM_GETROUTE) ask the kernel the
 * question a tunnel's outer packets ask, never with the tunnel as oif.
 */
#ifdef __linux__

#include <sys/types.h>
#include <sys/socket.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <linux/fib_rules.h>
#include <linux/if_link.h>
#include <linux/if_tunnel.h>
#include <linux/netlink.h>
#include <linux/nexthop.h>
#include <linux/rtnetlink.h>

#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libmnl/libmnl.h>

#include "effif.h"
#include "exits.h"
#include "owner.h"

#ifndef ARPHRD_IP6GRE
#define ARPHRD_IP6GRE	823	/* in linux/if_arp.h, not in glibc's */
#endif

#define BUFSZ		65536	/* a dump's messages come in up to 32k */
#define NH_MAX		16
#define TABLES_MAX	64
#define RULE_STEPS	4096	/* rules a scan visits, gotos included */
#define DUMP_TRIES	5
#define ASK_MAX		16	/* devices a scan asks about, one by one */

/* Bypass marks that VPN clients put on their own packets. */
static const uint32_t wellknown_marks[] = {
	0x80000,		/* Tailscale, with mask 0xff0000 */
	51820,			/* wg-quick */
};

/* Probes for the mark method: documentation addresses, routed by default. */
static const char probe4[] = "192.0.2.1";
static const char probe6[] = "2001:db8::1";

struct kind {
	const char	*name;
	int		 tunnel;	/* carries packets inside packets */
	int		 uselink;	/* IFLA_LINK names its lower device */
	uint16_t	 max;		/* of its IFLA_INFO_DATA attributes */
	uint16_t	 link;		/* the lower device, in its data */
	uint16_t	 remote;	/* the far end (4 or 16 bytes) */
	uint16_t	 remote6;	/* the far end, when IPv6 has its own */
	uint16_t	 fwmark;	/* the mark on its outer packets */
};

static const struct kind kinds[] = {
	{ "amt", 1, 0, 0, 0, 0, 0, 0 },
	{ "bareudp", 1, 0, 0, 0, 0, 0, 0 },
	{ "erspan", 1, 1, IFLA_GRE_MAX, IFLA_GRE_LINK, IFLA_GRE_REMOTE, 0,
	    IFLA_GRE_FWMARK },
	{ "geneve", 1, 0, IFLA_GENEVE_MAX, 0, IFLA_GENEVE_REMOTE,
	    IFLA_GENEVE_REMOTE6, 0 },
	{ "gre", 1, 1, IFLA_GRE_MAX, IFLA_GRE_LINK, IFLA_GRE_REMOTE, 0,
	    IFLA_GRE_FWMARK },
	{ "gretap", 1, 1, IFLA_GRE_MAX, IFLA_GRE_LINK, IFLA_GRE_REMOTE, 0,
	    IFLA_GRE_FWMARK },
	{ "gtp", 1, 0, 0, 0, 0, 0, 0 },
	{ "ip6erspan", 1, 1, IFLA_GRE_MAX, IFLA_GRE_LINK, IFLA_GRE_REMOTE, 0,
	    IFLA_GRE_FWMARK },
	{ "ip6gre", 1, 1, IFLA_GRE_MAX, IFLA_GRE_LINK, IFLA_GRE_REMOTE, 0,
	    IFLA_GRE_FWMARK },
	{ "ip6gretap", 1, 1, IFLA_GRE_MAX, IFLA_GRE_LINK, IFLA_GRE_REMOTE, 0,
	    IFLA_GRE_FWMARK },
	{ "ip6tnl", 1, 1, IFLA_IPTUN_MAX, IFLA_IPTUN_LINK, IFLA_IPTUN_REMOTE,
	    0, IFLA_IPTUN_FWMARK },
	{ "ipip", 1, 1, IFLA_IPTUN_MAX, IFLA_IPTUN_LINK, IFLA_IPTUN_REMOTE, 0,
	    IFLA_IPTUN_FWMARK },
	{ "ipvlan", 0, 1, 0, 0, 0, 0, 0 },
	{ "ipvtap", 0, 1, 0, 0, 0, 0, 0 },
	{ "l2tp", 1, 0, 0, 0, 0, 0, 0 },
	{ "macsec", 0, 1, 0, 0, 0, 0, 0 },
	{ "macvlan", 0, 1, 0, 0, 0, 0, 0 },
	{ "macvtap", 0, 1, 0, 0, 0, 0, 0 },
	{ "ovpn", 1, 0, 0, 0, 0, 0, 0 },
	{ "sit", 1, 1, IFLA_IPTUN_MAX, IFLA_IPTUN_LINK, IFLA_IPTUN_REMOTE, 0,
	    IFLA_IPTUN_FWMARK },
	{ "tun", 1, 0, 0, 0, 0, 0, 0 },
	{ "vlan", 0, 1, 0, 0, 0, 0, 0 },
	{ "vti", 1, 1, IFLA_VTI_MAX, IFLA_VTI_LINK, IFLA_VTI_REMOTE, 0,
	    IFLA_VTI_FWMARK },
	{ "vti6", 1, 1, IFLA_VTI_MAX, IFLA_VTI_LINK, IFLA_VTI_REMOTE, 0,
	    IFLA_VTI_FWMARK },
	{ "vxlan", 1, 0, IFLA_VXLAN_MAX, IFLA_VXLAN_LINK, IFLA_VXLAN_GROUP,
	    IFLA_VXLAN_GROUP6, 0 },
	{ "wireguard", 1, 0, 0, 0, 0, 0, 0 },
	{ "xfrm", 1, 0, IFLA_XFRM_MAX, IFLA_XFRM_LINK, 0, 0, 0 },
};

struct link {
	unsigned int		 index;
	char			 name[IF_NAMESIZE];
	unsigned short		 type;		/* ARPHRD_* */
	unsigned int		 flags;		/* IFF_* */
	unsigned int		 master;
	uint32_t		 group;		/* IFLA_GROUP */
	unsigned int		 lower;		/* by IFLA_LINK or the kind's */
	const struct kind	*kind;
	struct ipaddr		 remote;
	int			 hasmark;
	uint32_t		 fwmark;
	long			 tunfds;	/* fds on a tun, -1: not told */
};

struct rule {
	uint32_t	prio;
	uint32_t	table;
	uint8_t		action;
	int		invert;
	uint32_t	target;		/* of a goto */
	int		unresolved;	/* a goto to no rule: a no-op */
	int		spl;		/* suppress_prefixlength, or -1 */
	int		hasgroup;	/* suppress_ifgroup */
	uint32_t	group;
	int		hasmark;
	uint32_t	mark;
	uint32_t	mask;
	int		nomatch;	/* a selector local packets miss */
	int		oifsel;		/* an oif selector */
	int		unknown;	/* a selector effif cannot judge */
};

struct nexthop {
	unsigned int	oif;
	unsigned int	flags;		/* RTNH_F_* */
	struct ipaddr	gw;
};

struct route {
	uint8_t		family;
	uint8_t		dst_len;
	uint8_t		src_len;
	uint8_t		type;
	uint32_t	table;
	uint32_t	metric;
	uint32_t	nhid;		/* a nexthop object, not yet resolved */
	int		nnh;
	struct nexthop	nh[NH_MAX];
};

/* A nexthop object (ip nexthop): one nexthop, or a group of others. */
struct nhobj {
	uint32_t	id;
	int		blackhole;
	struct nexthop	nh;
	int		ngroup;
	uint32_t	group[NH_MAX];
};

/* What a lookup asks: the packets of a local socket. */
struct flow {
	struct ipaddr	dst;
	struct ipaddr	src;		/* family 0: not bound */
	int		hasmark;
	uint32_t	mark;
	unsigned int	oif;		/* 0: not bound to a device */
};

struct vec {
	void	*v;
	size_t	 n;
	size_t	 cap;
	size_t	 size;
};

struct sys {
	struct mnl_socket	*nl;
	unsigned int		 portid;
	unsigned int		 seq;
	struct mnl_socket	*ev;
	char			*buf;
	int			 intr;		/* NLM_F_DUMP_INTR seen */
	int			 have_links;
	struct vec		 links;
	int			 have_rules[2];
	struct vec		 rules[2];
	int			 have_routes[2];
	struct vec		 routes[2];
	struct vec		 nhobjs;	/* those asked so far */
	int			 watching;	/* -w: no socket method */
	int			 have_rejects6;
	struct vec		 rejects6;	/* IPv6 reject and throw defaults */
};

/* A parse in progress: the attributes of one level. */
struct attrs {
	const struct nlattr	*tb[128];
	unsigned int		 max;
	int			 unknown;
};

enum { R_NONE, R_FOUND, R_LEAF, R_NOROUTE, R_AMBIG };

/* What a method found: the next device, and the route that led there. */
struct step {
	enum method	method;
	unsigned int	next;
	int		routed;
	int		family;
	struct ipaddr	gw;
	long long	table;
	int		hasmark;
	uint32_t	mark;
};

struct ctx {
	struct sys		*s;
	const struct query	*q;
	struct answer		*ans;
	int			 stacked;	/* only link steps so far */
	int			 hasmark;	/* -M, down a stack of devices */
	uint32_t		 mark;
	char			 why[200];
	char			 nawhy[160];	/* why a method did not apply */
};

static void *
vec_add(struct vec *v)
{
	void *p;

	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 16;
		if ((p = reallocarray(v->v, v->cap, v->size)) == NULL)
			err(EXIT_SYS, NULL);
		v->v = p;
	}
	p = (char *)v->v + v->n++ * v->size;
	memset(p, 0, v->size);
	return p;
}

static int
attrs_cb(const struct nlattr *a, void *arg)
{
	struct attrs *at = arg;
	uint16_t type = mnl_attr_get_type(a);

	if (type > at->max || type >= sizeof(at->tb) / sizeof(at->tb[0]))
		at->unknown = 1;
	else
		at->tb[type] = a;
	return MNL_CB_OK;
}

static void
attrs_nested(const struct nlattr *a, unsigned int max, struct attrs *at)
{
	memset(at, 0, sizeof(*at));
	at->max = max;
	if (a != NULL)
		mnl_attr_parse_nested(a, attrs_cb, at);
}

static int
attr_u32(const struct nlattr *a, uint32_t *v)
{
	if (a == NULL || mnl_attr_validate(a, MNL_TYPE_U32) < 0)
		return 0;
	*v = mnl_attr_get_u32(a);
	return 1;
}

static int
attr_str(const struct nlattr *a, char *buf, size_t len)
{
	if (a == NULL || mnl_attr_validate(a, MNL_TYPE_NUL_STRING) < 0)
		return 0;
	return strlcpy(buf, mnl_attr_get_str(a), len) < len;
}

/* An address attribute: its length says the family.  Zero is none. */
static int
attr_addr(const struct nlattr *a, struct ipaddr *ip)
{
	static const unsigned char zero[16];
	uint16_t len;

	if (a == NULL)
		return 0;
	len = mnl_attr_get_payload_len(a);
	if (len != 4 && len != 16)
		return 0;
	if (memcmp(mnl_attr_get_payload(a), zero, len) == 0)
		return 0;
	memset(ip, 0, sizeof(*ip));
	ip->family = len == 4 ? AF_INET : AF_INET6;
	memcpy(ip->a, mnl_attr_get_payload(a), len);
	return 1;
}

static int
ip_multicast(const struct ipaddr *ip)
{
	if (ip->family == AF_INET)
		return (ip->a[0] & 0xf0) == 0xe0;
	return ip->a[0] == 0xff;
}

static int
famidx(int family)
{
	return family == AF_INET6;
}

/*
 * mnl_cb_run over a reply, once every message in it is whole.  libmnl's
 * mnl_nlmsg_ok compares the length as a signed int, so a message that
 * claims 2 GiB or more passes it and is read far past the buffer: we
 * check each length ourselves first, unsigned.  (Found by fuzzing.)
 */
static int
nl_run(const void *buf, size_t len, unsigned int seq, unsigned int portid,
    mnl_cb_t cb, void *arg)
{
	const struct nlmsghdr *nlh;
	size_t off = 0, n;

	while (off < len && len - off >= sizeof(*nlh)) {
		nlh = (const struct nlmsghdr *)((const char *)buf + off);
		n = nlh->nlmsg_len;
		if (n < sizeof(*nlh) || n > len - off) {
			errno = EBADMSG;
			return MNL_CB_ERROR;
		}
		off += MNL_ALIGN(n);
	}
	return mnl_cb_run(buf, len, seq, portid, cb, arg);
}

/*
 * Send one request and run cb on each message of the answer.  Returns what
 * mnl_cb_run returned last: -1 with errno when the kernel said no.
 */
static int
nl_talk(struct sys *s, struct nlmsghdr *nlh, mnl_cb_t cb, void *arg)
{
	ssize_t n;
	int ret;

	nlh->nlmsg_seq = ++s->seq;
	s->intr = 0;
	while (mnl_socket_sendto(s->nl, nlh, nlh->nlmsg_len) == -1)
		if (errno != EINTR)
			err(EXIT_SYS, "netlink send");
	do {
		n = mnl_socket_recvfrom(s->nl, s->buf, BUFSZ);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			err(EXIT_SYS, "netlink receive");
		}
		ret = nl_run(s->buf, n, s->seq, s->portid, cb, arg);
	} while (ret > MNL_CB_STOP);
	return ret;
}

/* A dump, again while the kernel says its tables changed under it. */
static void
nl_dump(struct sys *s, struct nlmsghdr *nlh, mnl_cb_t cb, struct vec *v,
    const char *what)
{
	int i;

	for (i = 0; i < DUMP_TRIES; i++) {
		v->n = 0;
		if (nl_talk(s, nlh, cb, s) == -1) {
			/* A kernel without IPv6 has none of its tables. */
			if (errno == EAFNOSUPPORT)
				return;
			err(EXIT_SYS, "dump %s", what);
		}
		if (!s->intr)
			return;
	}
	errx(EXIT_SYS, "dump %s: kept changing", what);
}

static const struct kind *
kind_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kinds[i].name, name) == 0)
			return &kinds[i];
	return NULL;
}

static void
link_info(const struct nlattr *info, struct link *l)
{
	const struct kind *k;
	struct attrs at, data;
	char name[32];
	uint32_t v;

	attrs_nested(info, IFLA_INFO_MAX, &at);
	if (!attr_str(at.tb[IFLA_INFO_KIND], name, sizeof(name)) ||
	    (k = kind_find(name)) == NULL)
		return;
	l->kind = k;
	if (strcmp(k->name, "tun") == 0) {
		attrs_nested(at.tb[IFLA_INFO_DATA], IFLA_TUN_MAX, &data);
		if (attr_u32(data.tb[IFLA_TUN_NUM_QUEUES], &v))
			l->tunfds = v;
		if (l->tunfds >= 0 &&
		    attr_u32(data.tb[IFLA_TUN_NUM_DISABLED_QUEUES], &v))
			l->tunfds += v;
	}
	if (k->max == 0 || at.tb[IFLA_INFO_DATA] == NULL)
		return;
	attrs_nested(at.tb[IFLA_INFO_DATA], k->max, &data);
	if (k->link != 0)
		attr_u32(data.tb[k->link], &l->lower);
	if (k->remote != 0 && !attr_addr(data.tb[k->remote], &l->remote) &&
	    k->remote6 != 0)
		attr_addr(data.tb[k->remote6], &l->remote);
	if (l->remote.family != 0 && ip_multicast(&l->remote))
		memset(&l->remote, 0, sizeof(l->remote));
	if (k->fwmark != 0 && attr_u32(data.tb[k->fwmark], &l->fwmark))
		l->hasmark = l->fwmark != 0;
}

static int
link_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct sys *s = arg;
	const struct ifinfomsg *ifi;
	struct attrs at = { .max = IFLA_MAX };
	struct link *l;
	uint32_t lower;

	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		s->intr = 1;
	if (nlh->nlmsg_type != RTM_NEWLINK ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifi))
		return MNL_CB_OK;
	ifi = mnl_nlmsg_get_payload(nlh);
	mnl_attr_parse(nlh, sizeof(*ifi), attrs_cb, &at);
	l = vec_add(&s->links);
	if (!attr_str(at.tb[IFLA_IFNAME], l->name, sizeof(l->name))) {
		s->links.n--;
		return MNL_CB_OK;
	}
	l->index = ifi->ifi_index;
	l->tunfds = -1;
	l->type = ifi->ifi_type;
	l->flags = ifi->ifi_flags;
	attr_u32(at.tb[IFLA_MASTER], &l->master);
	attr_u32(at.tb[IFLA_GROUP], &l->group);
	if (at.tb[IFLA_LINKINFO] != NULL)
		link_info(at.tb[IFLA_LINKINFO], l);
	/*
	 * The kernel counts a tun's fds only when it is multiqueue; a
	 * single queue has one, and its carrier is on while it is attached
	 * (unless its owner turned it off, TUNSETCARRIER).
	 */
	if (l->kind != NULL && strcmp(l->kind->name, "tun") == 0 &&
	    l->tunfds == -1 && (l->flags & IFF_UP))
		l->tunfds = (l->flags & IFF_LOWER_UP) != 0;
	if (l->kind != NULL && l->kind->uselink && l->lower == 0 &&
	    attr_u32(at.tb[IFLA_LINK], &lower) && lower != l->index)
		l->lower = lower;
	/* A lower device in another namespace is not ours to name. */
	if (at.tb[IFLA_LINK_NETNSID] != NULL)
		l->lower = 0;
	return MNL_CB_OK;
}

/*
 * Begin a dump request of type in buf: the netlink header, then an extra
 * header of len bytes (ifinfomsg, fib_rule_hdr, rtmsg: each begins with
 * the family) zeroed but for family.
 */
static struct nlmsghdr *
dump_begin(char *buf, uint16_t type, int family, size_t len)
{
	struct nlmsghdr *nlh;
	unsigned char *h;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	h = mnl_nlmsg_put_extra_header(nlh, len);
	h[0] = (unsigned char)family;
	return nlh;
}

static void
links_load(struct sys *s)
{
	union {
		struct nlmsghdr	h;
		char		b[256];
	} req;
	struct nlmsghdr *nlh;

	if (s->have_links)
		return;
	nlh = dump_begin(req.b, RTM_GETLINK, AF_UNSPEC,
	    sizeof(struct ifinfomsg));
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	nl_dump(s, nlh, link_cb, &s->links, "links");
	s->have_links = 1;
}

static const struct link *
link_byindex(struct sys *s, unsigned int index)
{
	const struct link *l = s->links.v;
	size_t i;

	for (i = 0; i < s->links.n; i++)
		if (l[i].index == index)
			return &l[i];
	return NULL;
}

static const struct link *
link_byname(struct sys *s, const char *name)
{
	const struct link *l = s->links.v;
	size_t i;

	for (i = 0; i < s->links.n; i++)
		if (strcmp(l[i].name, name) == 0)
			return &l[i];
	return NULL;
}

/* By kind, or by hardware type for kinds this table does not know. */
static int
link_tunnel(const struct link *l)
{
	if (l->kind != NULL)
		return l->kind->tunnel;
	switch (l->type) {
	case ARPHRD_NONE:
	case ARPHRD_TUNNEL:
	case ARPHRD_TUNNEL6:
	case ARPHRD_IPGRE:
	case ARPHRD_IP6GRE:
	case ARPHRD_SIT:
		return 1;
	}
	return 0;
}

static int
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
	r = vec_add(&s->rules[famidx(frh->family)]);
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
	 * Local packets have no source address yet, iif lo, no oif and
	 * tos 0.
	 */
	if (frh->src_len != 0 || frh->tos != 0 || at.tb[FRA_OIFNAME] != NULL)
		r->nomatch = 1;
	r->oifsel = at.tb[FRA_OIFNAME] != NULL;
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

static void
rules_load(struct sys *s, int family)
{
	union {
		struct nlmsghdr	h;
		char		b[256];
	} req;
	struct nlmsghdr *nlh;
	int i = famidx(family);

	if (s->have_rules[i])
		return;
	nlh = dump_begin(req.b, RTM_GETRULE, family,
	    sizeof(struct fib_rule_hdr));
	nl_dump(s, nlh, rule_cb, &s->rules[i], "rules");
	s->have_rules[i] = 1;
}

static int
rule_matches(const struct rule *r, uint32_t mark)
{
	int m;

	if (r->unknown)
		return 0;
	m = !r->nomatch;
	if (r->hasmark && ((mark ^ r->mark) & r->mask) != 0)
		m = 0;
	return r->invert ? !m : m;
}

/* Whether some rule routes packets with this mark apart from unmarked ones. */
static int
mark_in_use(struct sys *s, int family, uint32_t mark)
{
	const struct rule *r;
	size_t i;

	rules_load(s, family);
	r = s->rules[famidx(family)].v;
	for (i = 0; i < s->rules[famidx(family)].n; i++)
		if (r[i].hasmark && (((mark ^ r[i].mark) & r[i].mask) == 0) !=
		    ((r[i].mark & r[i].mask) == 0))
			return 1;
	return 0;
}

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

static int
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
	p = vec_add(&s->routes[famidx(rt.family)]);
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
	o = vec_add(&s->nhobjs);
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
 * for that id, not a dump): NULL when there is none.  The pointer lasts
 * until the next call.
 */
static const struct nhobj *
nhobj_get(struct sys *s, uint32_t id)
{
	union {
		struct nlmsghdr	h;
		char		b[256];
	} req;
	const struct nhobj *o = s->nhobjs.v;
	struct nlmsghdr *nlh;
	struct nhmsg *nhm;
	size_t i;

	for (i = 0; i < s->nhobjs.n; i++)
		if (o[i].id == id)
			return &o[i];
	nlh = mnl_nlmsg_put_header(req.b);
	nlh->nlmsg_type = RTM_GETNEXTHOP;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nhm = mnl_nlmsg_put_extra_header(nlh, sizeof(*nhm));
	nhm->nh_family = AF_UNSPEC;
	mnl_attr_put_u32(nlh, NHA_ID, id);
	if (nl_talk(s, nlh, nhobj_cb, s) == -1) {
		if (errno == ENOENT)
			return NULL;
		err(EXIT_SYS, "nexthop %u", id);
	}
	o = s->nhobjs.v;
	for (i = 0; i < s->nhobjs.n; i++)
		if (o[i].id == id)
			return &o[i];
	return NULL;
}

/*
 * A route by nexthop object (with net.ipv4.nexthop_compat_mode=0 the
 * kernel sends only its id): its nexthops, from the objects.
 */
static void
route_nhobj(struct sys *s, struct route *rt)
{
	const struct nhobj *m, *p;
	struct nhobj o;
	int i;

	if (rt->nhid == 0 || rt->nnh != 0 ||
	    (p = nhobj_get(s, rt->nhid)) == NULL)
		return;
	o = *p;
	if (o.blackhole)
		rt->type = RTN_BLACKHOLE;
	else if (o.ngroup == 0)
		rt->nh[rt->nnh++] = o.nh;
	for (i = 0; i < o.ngroup && rt->nnh < NH_MAX; i++)
		if ((m = nhobj_get(s, o.group[i])) != NULL && !m->blackhole)
			rt->nh[rt->nnh++] = m->nh;
}

/* The default routes of a family, of every table. */
static void
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
		return;
	nlh = dump_begin(req.b, RTM_GETROUTE, family, sizeof(struct rtmsg));
	nl_dump(s, nlh, route_cb, &s->routes[i], "routes");
	rt = s->routes[i].v;
	for (j = 0; j < s->routes[i].n; j++)
		route_nhobj(s, &rt[j]);
	s->have_routes[i] = 1;
}

static int
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
static int
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
	memset(rt, 0, sizeof(*rt));
	rt->type = RTN_UNSPEC;
	if (nl_talk(s, nlh, getroute_cb, rt) == -1)
		return errno;
	route_nhobj(s, rt);
	return 0;
}

/* A flow to dst, with a mark or none. */
static void
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
static int
unreachable(int e)
{
	return e == ENETUNREACH || e == EHOSTUNREACH || e == EACCES ||
	    e == EPERM || e == EINVAL || e == EAFNOSUPPORT;
}

static int
in_chain(const struct ctx *c, unsigned int index)
{
	int i;

	for (i = 0; i < c->ans->nchain; i++)
		if (c->ans->chain[i].index == index)
			return 1;
	return 0;
}

static void
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
static const struct nexthop *
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
static int
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

/* 2: the route to the far end, with the tunnel's mark if it has one. */
static int
by_peer(struct ctx *c, const struct link *l, int depth, struct step *st)
{
	const struct query *q = c->q;
	const struct ipaddr *peer = &l->remote;
	const struct nexthop *nh;
	struct route rt;
	struct flow f;
	uint32_t marks[4];
	char addr[INET6_ADDRSTRLEN];
	size_t i, n = 0;
	int e, hasmark[4];

	(void)depth;
	if (c->stacked && q->peer.family != 0)
		peer = &q->peer;
	if (peer->family == 0 ||
	    (q->family != AF_UNSPEC && q->family != peer->family))
		return R_NONE;
	hasmark[n] = c->hasmark || l->hasmark;
	marks[n++] = c->hasmark ? c->mark : l->fwmark;
	for (i = 0; !hasmark[0] && i < 2; i++)
		if (mark_in_use(c->s, peer->family, wellknown_marks[i])) {
			hasmark[n] = 1;
			marks[n++] = wellknown_marks[i];
		}
	for (i = 0; i < n; i++) {
		flow_to(&f, peer, hasmark[i], marks[i]);
		if ((e = getroute(c->s, &f, 0, &rt)) != 0) {
			if (!unreachable(e))
				errc(EXIT_SYS, e, "route to %s",
				    inet_ntop(peer->family, peer->a, addr,
				    sizeof(addr)));
			if (i > 0)
				continue;
			snprintf(c->why, sizeof(c->why), " to peer %s",
			    inet_ntop(peer->family, peer->a, addr,
			    sizeof(addr)));
			return R_NOROUTE;
		}
		if (rt.type != RTN_UNICAST ||
		    (nh = route_leaves(c, &rt)) == NULL)
			continue;
		step_route(st, M_PEER, nh, peer->family, rt.table, hasmark[i],
		    marks[i]);
		return R_FOUND;
	}
	return R_NONE;
}

/*
 * The nexthops of a route that leave through another device than the
 * chain's: R_FOUND (*nhp), R_AMBIG when they leave through several, or
 * R_NONE when the route leads back into the chain.
 */
static int
route_pick(struct ctx *c, const struct route *rt, const struct nexthop **nhp)
{
	const struct nexthop *nh;
	int i;

	if ((nh = route_leaves(c, rt)) == NULL)
		return R_NONE;
	for (i = 0; i < rt->nnh; i++)
		if (!(rt->nh[i].flags & RTNH_F_DEAD) &&
		    !in_chain(c, rt->nh[i].oif) && rt->nh[i].oif != nh->oif)
			return R_AMBIG;
	*nhp = nh;
	return R_FOUND;
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
	int e, res;

	inet_pton(family, family == AF_INET ? probe4 : probe6, probe.a);
	flow_to(&f, &probe, 1, mark);
	e = getroute(c->s, &f, RTM_F_FIB_MATCH, &rt);
	if (e != 0 && !unreachable(e))
		errc(EXIT_SYS, e, "route with mark 0x%x", mark);
	if (e == 0 && rt.type == RTN_UNICAST && (given || rt.dst_len == 0))
		res = route_pick(c, &rt, &nh);
	else
		res = R_NONE;
	if (res == R_AMBIG) {
		snprintf(c->why, sizeof(c->why), "multipath route with mark "
		    "0x%x in table %u", mark, rt.table);
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
static int
by_mark(struct ctx *c, int family, struct step *st)
{
	size_t i;
	int res;

	if (c->hasmark)
		return mark_ask(c, family, c->mark, 1, M_MARK, st);
	for (i = 0; i < 2; i++)
		if (mark_in_use(c->s, family, wellknown_marks[i]) &&
		    (res = mark_ask(c, family, wellknown_marks[i], 0, M_MARK,
		    st)) != R_NONE)
			return res;
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

/* A rule's suppressor takes the route it found away. */
static int
suppressed(struct ctx *c, const struct rule *r, const struct nexthop *nh)
{
	const struct link *l;

	if (r->spl >= 0)
		return 1;	/* a default route's prefix is 0 long */
	return r->hasgroup && nh != NULL &&
	    (l = link_byindex(c->s, nh->oif)) != NULL &&
	    l->group == r->group;
}

/* The first rule of that preference, where a goto lands, or n. */
static size_t
rule_target(const struct rule *r, size_t n, uint32_t pref)
{
	size_t i;

	for (i = 0; i < n && r[i].prio != pref; i++)
		;
	return i;
}

static int
reject6_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct sys *s = arg;
	struct route rt;

	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		s->intr = 1;
	if (nlh->nlmsg_type != RTM_NEWROUTE || route_parse(nlh, &rt) == -1 ||
	    rt.dst_len != 0 || rt.src_len != 0 || (rt.type != RTN_UNREACHABLE &&
	    rt.type != RTN_PROHIBIT && rt.type != RTN_BLACKHOLE &&
	    rt.type != RTN_THROW))
		return MNL_CB_OK;
	*(struct route *)vec_add(&s->rejects6) = rt;
	return MNL_CB_OK;
}

/*
 * The IPv6 reject and throw default routes of every table, which IPv6
 * keeps on lo: a dump the kernel filters by device (strict checking), so
 * that the other routes, however many, are never sent.
 */
static void
rejects6_load(struct sys *s)
{
	union {
		struct nlmsghdr	h;
		char		b[256];
	} req;
	struct nlmsghdr *nlh;
	int on = 1, off = 0, fd = mnl_socket_get_fd(s->nl);

	if (s->have_rejects6)
		return;
	nlh = dump_begin(req.b, RTM_GETROUTE, AF_INET6, sizeof(struct rtmsg));
	mnl_attr_put_u32(nlh, RTA_OIF, 1);
	if (setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &on,
	    sizeof(on)) == -1)
		err(EXIT_SYS, "netlink strict checking");
	nl_dump(s, nlh, reject6_cb, &s->rejects6, "IPv6 reject routes");
	if (setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &off,
	    sizeof(off)) == -1)
		err(EXIT_SYS, "netlink strict checking");
	s->have_rejects6 = 1;
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

/* The same route: a multipath route answers for each of its devices. */
static int
route_same(const struct route *a, const struct route *b)
{
	return a->table == b->table && a->dst_len == b->dst_len &&
	    a->metric == b->metric && a->nnh == b->nnh &&
	    memcmp(a->nh, b->nh, a->nnh * sizeof(a->nh[0])) == 0;
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

/* An IPv6 reject or throw default in that table (the kernel's oif lookup
 * passes over them, the scan does not). */
static int
reject6_in(struct sys *s, uint32_t table)
{
	const struct route *rt = s->rejects6.v;
	size_t i;

	for (i = 0; i < s->rejects6.n; i++)
		if (rt[i].table == table)
			return 1;
	return 0;
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
/* The scan could not be asked of the kernel: -v says why. */
static int
scan_read(struct ctx *c, const char *why)
{
	snprintf(c->ans->note, sizeof(c->ans->note), "scan read the tables: "
	    "%s", why);
	return -1;
}

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
		if (e != 0 && !unreachable(e))
			errc(EXIT_SYS, e, "route by %s", l[i].name);
		ok[n] = e == 0 && rt[n].type == RTN_UNICAST;
		n++;
	}
	if (family == AF_INET6)
		rejects6_load(c->s);
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
static int
by_scan(struct ctx *c, int family, struct step *st)
{
	const struct rule *r;
	const struct route *rt;
	const struct nexthop *nh = NULL;
	size_t i, n, steps;
	int res;

	if (c->hasmark)
		return mark_ask(c, family, c->mark, 1, M_SCAN, st);
	rules_load(c->s, family);
	if ((res = scan_ask(c, family, st)) != -1)
		return res;
	routes_load(c->s, family);
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
	return R_NOROUTE;
}

/* What the sockets of a tunnel's owner (or kernel WireGuard) say. */
struct sockagg {
	int	found;
	int	several;
	int	unreach;
	int	loop;
	char	names[120];
};

/*
 * The route of one socket's packets, as the kernel gives it for exactly
 * that flow: its remote, source, mark and bound device.  The first that
 * leaves the chain is the step; others that leave elsewhere make it
 * ambiguous.
 */
static void
sock_route(struct ctx *c, const struct flow *f, struct step *st,
    struct sockagg *g, const char *how)
{
	const struct nexthop *nh;
	const struct link *x;
	struct route rt;
	size_t len;
	int e;

	if ((e = getroute(c->s, f, 0, &rt)) != 0) {
		if (!unreachable(e))
			errc(EXIT_SYS, e, "route of a socket");
		g->unreach++;
		return;
	}
	if (rt.type != RTN_UNICAST || (nh = route_leaves(c, &rt)) == NULL ||
	    (x = link_byindex(c->s, nh->oif)) == NULL ||
	    (x->flags & IFF_LOOPBACK) || link_tunnel(x)) {
		g->loop++;
		return;
	}
	if (g->found == 0) {
		step_route(st, M_SOCKET, nh, f->dst.family, rt.table,
		    f->hasmark, f->mark);
		snprintf(c->ans->note, sizeof(c->ans->note), "%s", how);
		strlcpy(g->names, x->name, sizeof(g->names));
	} else if (st->next != x->index && strstr(g->names, x->name) ==
	    NULL) {
		g->several = 1;
		len = strlen(g->names);
		snprintf(g->names + len, sizeof(g->names) - len, " %s",
		    x->name);
	}
	g->found++;
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
	dev[0] = '\0';
	if (o->oif != 0 && (b = link_byindex(c->s, o->oif)) != NULL)
		snprintf(dev, sizeof(dev), " dev %s", b->name);
	if (o->hasmark)
		snprintf(mark, sizeof(mark), " mark 0x%x", o->mark);
	else
		snprintf(mark, sizeof(mark), " mark unknown");
	snprintf(how, len, "pid %ld %s socket %llu %s:%u -> %s:%u%s%s%s",
	    (long)o->pid, o->proto == IPPROTO_UDP ? "udp" : "tcp", o->inode,
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
		else
			err(EXIT_SYS, "wireguard netlink");
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
		sock_route(c, &f, st, g, how);
	}
	if (w.npeers == 0)
		snprintf(c->nawhy, sizeof(c->nawhy), "wireguard %s has no "
		    "peer endpoint", l->name);
	return R_NONE;
}

/*
 * 0: the route of the tunnel owner's own sockets, the closest Linux has
 * to macOS's delegate.  UDP sockets first (the tunnel's packets), TCP ones
 * (connected) only when no UDP one answers; IPv4 before IPv6, as for the
 * other methods when no family is asked.
 */
static int
by_socket(struct ctx *c, const struct link *l, struct step *st)
{
	struct osocks v = { NULL, 0, 0 };
	struct sockagg g;
	struct flow f;
	pid_t pids[8];
	char how[256];
	size_t i, np;
	int pass;

	memset(&g, 0, sizeof(g));
	if (c->s->watching)
		return R_NONE;
	if (l->kind != NULL && strcmp(l->kind->name, "wireguard") == 0)
		by_wireguard(c, l, st, &g);
	else if (l->kind == NULL || strcmp(l->kind->name, "tun") != 0) {
		snprintf(c->nawhy, sizeof(c->nawhy), "not a tun device");
		return R_NONE;
	} else if ((np = owner_find(l->name, l->tunfds, pids, 8, &v)) == 0) {
		free(v.v);
		snprintf(c->nawhy, sizeof(c->nawhy), "no process holds %s "
		    "open", l->name);
		return R_NONE;
	} else {
		/* TCP's table, often the larger, only when UDP says nothing. */
		for (pass = 0; pass < 4 && g.found == 0; pass++) {
			if (pass % 2 == 0)
				owner_diag(&v, pass < 2 ? IPPROTO_UDP :
				    IPPROTO_TCP);
			for (i = 0; i < v.n; i++)
				if (v.v[i].proto == (pass < 2 ? IPPROTO_UDP :
				    IPPROTO_TCP) && sock_flow(c, &v.v[i], &f,
				    how, sizeof(how)) && f.dst.family ==
				    (pass % 2 == 0 ? AF_INET : AF_INET6))
					sock_route(c, &f, st, &g, how);
		}
		free(v.v);
		if (g.found + g.unreach + g.loop == 0)
			snprintf(c->nawhy, sizeof(c->nawhy), "%zu process%s "
			    "%s open, no socket of %s", np, np > 1 ? "es hold" :
			    " holds", l->name, c->q->family == AF_INET ? "IPv4" :
			    c->q->family == AF_INET6 ? "IPv6" : "IP");
	}
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
		if (res == R_FOUND || res == R_AMBIG)
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
		if ((l = link_byindex(c->s, st.next)) == NULL)
			errx(EXIT_SYS, "%s: device %u vanished", c->q->name,
			    st.next);
		push(a, l);
	}
}

struct sys *
sys_open(void)
{
	struct sys *s;

	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->buf = malloc(BUFSZ)) == NULL)
		err(EXIT_SYS, NULL);
	s->links.size = sizeof(struct link);
	s->rules[0].size = s->rules[1].size = sizeof(struct rule);
	s->routes[0].size = s->routes[1].size = sizeof(struct route);
	s->nhobjs.size = sizeof(struct nhobj);
	s->rejects6.size = sizeof(struct route);
	if ((s->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC)) == NULL)
		err(EXIT_SYS, "netlink socket");
	if (mnl_socket_bind(s->nl, 0, MNL_SOCKET_AUTOPID) == -1)
		err(EXIT_SYS, "netlink bind");
	s->portid = mnl_socket_get_portid(s->nl);
	return s;
}

void
sys_close(struct sys *s)
{
	int i;

	if (s->ev != NULL)
		mnl_socket_close(s->ev);
	mnl_socket_close(s->nl);
	free(s->links.v);
	for (i = 0; i < 2; i++) {
		free(s->rules[i].v);
		free(s->routes[i].v);
	}
	free(s->nhobjs.v);
	free(s->rejects6.v);
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
}

void
sys_resolve(struct sys *s, const struct query *q, struct answer *a)
{
	struct ctx c = { .s = s, .q = q, .ans = a, .stacked = 1 };
	const struct link *l;

	memset(a, 0, sizeof(*a));
	a->family = q->family;
	a->table = -1;
	links_load(s);
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

	links_load(s);
	l = s->links.v;
	if ((names = calloc(s->links.n + 1, sizeof(*names))) == NULL)
		err(EXIT_SYS, NULL);
	for (i = 0; i < s->links.n; i++) {
		for (j = 0, ports = 0; j < s->links.n; j++)
			ports += l[j].master == l[i].index;
		if ((l[i].flags & IFF_LOOPBACK) || !(link_tunnel(&l[i]) ||
		    l[i].lower != 0 || ports == 1))
			continue;
		if ((names[n++] = strdup(l[i].name)) == NULL)
			err(EXIT_SYS, NULL);
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
	if (s->ev == NULL)
		err(EXIT_SYS, "netlink socket");
	if (mnl_socket_bind(s->ev, 0, MNL_SOCKET_AUTOPID) == -1)
		err(EXIT_SYS, "netlink bind");
	for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		g = groups[i];
		if (mnl_socket_setsockopt(s->ev, NETLINK_ADD_MEMBERSHIP, &g,
		    sizeof(g)) == -1)
			err(EXIT_SYS, "netlink group %u", g);
	}
	/* Best effort: a small buffer only means more ENOBUFS. */
	setsockopt(mnl_socket_get_fd(s->ev), SOL_SOCKET, SO_RCVBUF, &size,
	    sizeof(size));
	return mnl_socket_get_fd(s->ev);
}

/* Drain the events: 1 if there was any.  Lost ones (ENOBUFS) count too. */
int
sys_watch_read(struct sys *s)
{
	int any = 0;

	for (;;) {
		if (recv(mnl_socket_get_fd(s->ev), s->buf, BUFSZ, 0) != -1) {
			any = 1;
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return any;
		if (errno == ENOBUFS)
			any = 1;
		else if (errno != EINTR)
			err(EXIT_SYS, "netlink events");
	}
}

#endif /* __linux__ */
