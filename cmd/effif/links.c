/* ISC license: see LICENSE. */
/*
 * effif on Linux: the links, and what each one is (its kind, its lower
 * device, its far end, its mark).
 */
#ifdef __linux__

#include <sys/types.h>
#include <sys/socket.h>
#include <net/if.h>
#include <netinet/in.h>
#include <net/if_arp.h>

#include <linux/if_link.h>
#include <linux/if_tunnel.h>
#include <linux/rtnetlink.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "effif.h"
#include "exits.h"
#include "nl.h"

#ifndef ARPHRD_IP6GRE
#define ARPHRD_IP6GRE	823	/* in linux/if_arp.h, not in glibc's */
#endif

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

int
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
	if ((l = vec_add(&s->links)) == NULL)
		return MNL_CB_ERROR;
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
	/*
	 * A lower device in another namespace is not ours to name, and a
	 * stacked device or tunnel made there (moved here since) sends its
	 * packets there: no route of ours says where they go.
	 */
	if (attr_u32(at.tb[IFLA_LINK_NETNSID], &l->nsid)) {
		l->otherns = l->kind != NULL && (l->kind->tunnel ||
		    l->kind->uselink);
		l->nslower = l->lower;
		l->lower = 0;
	}
	return MNL_CB_OK;
}

int
links_load(struct sys *s)
{
	union {
		struct nlmsghdr	h;
		char		b[256];
	} req;
	struct nlmsghdr *nlh;

	if (s->have_links)
		return 0;
	nlh = dump_begin(req.b, RTM_GETLINK, AF_UNSPEC,
	    sizeof(struct ifinfomsg));
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	if (nl_dump(s, nlh, link_cb, &s->links, "links") == -1)
		return -1;
	s->have_links = 1;
	return 0;
}

const struct link *
link_byindex(struct sys *s, unsigned int index)
{
	const struct link *l = s->links.v;
	size_t i;

	for (i = 0; i < s->links.n; i++)
		if (l[i].index == index)
			return &l[i];
	return NULL;
}

const struct link *
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
int
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

#endif /* __linux__ */
