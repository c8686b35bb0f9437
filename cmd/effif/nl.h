/* ISC license: see LICENSE. */
/*
 * effif on Linux: what its files share.  nl.c talks rtnetlink, links.c,
 * rules.c and routes.c read the kernel's tables, methods.c, scan.c and
 * sockets.c (beside owner.c) answer for one device, linux.c drives them.
 * None of them exits: a failure is -1 (or R_ERR) with sys_error() set.
 */
#ifndef NL_H
#define NL_H

#include <sys/types.h>
#include <net/if.h>
#include <stdint.h>

#include <linux/netlink.h>

#include <libmnl/libmnl.h>

#include "effif.h"

#define BUFSZ		65536	/* a dump's messages come in up to 32k */
#define NH_MAX		16
#define RULE_STEPS	4096	/* rules a scan visits, gotos included */
#define DUMP_TRIES	5
#define ASK_MAX		16	/* devices a scan asks about, one by one */
#define THROW_ASKS	4	/* lookups that may rule out an IPv6 throw */

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
	int			 otherns;	/* its underlay is elsewhere */
	uint32_t		 nsid;		/* there: IFLA_LINK_NETNSID */
	unsigned int		 nslower;	/* there: its lower, or 0 */
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
	struct ipaddr	src;		/* from src/src_len */
	uint8_t		src_len;
	int		nomatch;	/* a selector local packets miss */
	int		oifsel;		/* an oif selector */
	char		oifname[IF_NAMESIZE];
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
	struct ipaddr	src;		/* of a source-specific route */
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
	int		hasuid;		/* a socket's, for uidrange rules */
	uid_t		uid;
	uint8_t		proto;		/* 0: as ip route get asks */
	uint16_t	sport;		/* 0: none */
	uint16_t	dport;
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
	int			 have_srcroutes6;
	struct vec		 srcroutes6;	/* IPv6 defaults from a prefix */
};

/* A parse in progress: the attributes of one level. */
struct attrs {
	const struct nlattr	*tb[128];
	unsigned int		 max;
	int			 unknown;
};

/* What a method says; R_ERR: a system call failed (sys_error()). */
enum { R_NONE, R_FOUND, R_LEAF, R_NOROUTE, R_AMBIG, R_ERR };

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


/* Probes: documentation addresses, routed by default. */
extern const char probe4[], probe6[];

/* nl.c */
void	*vec_add(struct vec *);
int	 attrs_cb(const struct nlattr *, void *);
void	 attrs_nested(const struct nlattr *, unsigned int, struct attrs *);
int	 attr_u32(const struct nlattr *, uint32_t *);
int	 attr_str(const struct nlattr *, char *, size_t);
int	 attr_ip(const struct nlattr *, struct ipaddr *);
int	 attr_addr(const struct nlattr *, struct ipaddr *);
int	 ip_multicast(const struct ipaddr *);
int	 famidx(int);
int	 nl_run(const void *, size_t, unsigned int, unsigned int, mnl_cb_t,
	    void *);
int	 nl_talk(struct sys *, struct nlmsghdr *, mnl_cb_t, void *);
int	 nl_dump(struct sys *, struct nlmsghdr *, mnl_cb_t, struct vec *,
	    const char *);
struct nlmsghdr *dump_begin(char *, uint16_t, int, size_t);

/* links.c */
int	 link_cb(const struct nlmsghdr *, void *);
int	 links_load(struct sys *);
const struct link *link_byindex(struct sys *, unsigned int);
const struct link *link_byname(struct sys *, const char *);
int	 link_tunnel(const struct link *);

/* rules.c */
int	 rule_cb(const struct nlmsghdr *, void *);
int	 rules_load(struct sys *, int);
int	 rule_matches(const struct rule *, uint32_t, const char *,
	    const struct ipaddr *);
size_t	 rule_walk(const struct rule *, size_t, const char *, size_t *);
int	 prefix_has(const struct ipaddr *, unsigned int,
	    const struct ipaddr *);
int	 mark_in_use(struct sys *, int, uint32_t);
int	 suppressed(struct ctx *, const struct rule *, const struct nexthop *);
size_t	 rule_target(const struct rule *, size_t, uint32_t);

/* routes.c */
int	 route_cb(const struct nlmsghdr *, void *);
int	 getroute_cb(const struct nlmsghdr *, void *);
int	 routes_load(struct sys *, int);
int	 getroute(struct sys *, const struct flow *, unsigned int,
	    struct route *);
void	 flow_to(struct flow *, const struct ipaddr *, int, uint32_t);
int	 unreachable(int);
int	 rejects6_load(struct sys *);
int	 reject6_in(struct sys *, uint32_t);
int	 route_same(const struct route *, const struct route *);
int	 srcroutes6_load(struct sys *);

/* methods.c */
int	 in_chain(const struct ctx *, unsigned int);
void	 step_route(struct step *, enum method, const struct route *,
	    const struct nexthop *, const uint32_t *);
const struct nexthop *route_leaves(struct ctx *, const struct route *);
int	 route_pick(struct ctx *, const struct route *,
	    const struct nexthop **, char *, size_t);
int	 by_source(struct ctx *, const struct ipaddr *, int, uint32_t,
	    enum method, struct step *);
int	 mark_ask(struct ctx *, int, uint32_t, int, enum method,
	    struct step *);
int	 by_link(struct ctx *, const struct link *, struct step *);
int	 by_peer(struct ctx *, const struct link *, int, struct step *);
int	 by_mark(struct ctx *, int, struct step *);

/* scan.c */
int	 by_scan(struct ctx *, int, struct step *);

/* sockets.c */
int	 by_socket(struct ctx *, const struct link *, struct step *);

#endif
