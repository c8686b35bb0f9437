/*
 * effif on macOS: the delegate that the kernel keeps for a tunnel, read
 * as ifconfig -v reads it, else the route.  Compiled by inspection only:
 * nothing here has run (see CAVEATS in effif.8).
 */
#ifdef __APPLE__

#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/sockio.h>
#include <net/if.h>
#include <net/if_dl.h>
#include <net/if_types.h>
#include <net/route.h>
#include <netinet/in.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "effif.h"
#include "exits.h"

/*
 * Not in the public SDK (xnu's sys/sockio_private.h): the delegate is a
 * uint32_t index at the start of the ifr_ifru union (ifr_delegated).
 */
#ifndef SIOCGIFDELEGATE
#define SIOCGIFDELEGATE	_IOWR('i', 157, struct ifreq)
#endif

#define SA_ROUNDUP(a)	((a) > 0 ? \
	(1 + (((a) - 1) | (sizeof(uint32_t) - 1))) : sizeof(uint32_t))

struct sys {
	int	sock;		/* for the ioctls */
	int	rt;		/* PF_ROUTE, for RTM_GET */
	int	ev;		/* PF_ROUTE, for -w */
	int	seq;
	pid_t	pid;
};

struct rtreq {
	struct rt_msghdr	hdr;
	char			space[512];
};

static unsigned int
delegate(struct sys *s, const char *name)
{
	struct ifreq ifr;
	uint32_t index;

	memset(&ifr, 0, sizeof(ifr));
	strlcpy(ifr.ifr_name, name, sizeof(ifr.ifr_name));
	if (ioctl(s->sock, SIOCGIFDELEGATE, &ifr) == -1)
		return 0;
	memcpy(&index, &ifr.ifr_ifru, sizeof(index));
	return index;
}

static int
link_up(struct sys *s, const char *name)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	strlcpy(ifr.ifr_name, name, sizeof(ifr.ifr_name));
	if (ioctl(s->sock, SIOCGIFFLAGS, &ifr) == -1)
		return 0;
	return (ifr.ifr_flags & IFF_UP) != 0;
}

/* utun and ipsec are IFT_OTHER; gif, stf and ppp have their own types. */
static int
link_tunnel(const struct ifaddrs *p)
{
	const struct sockaddr_dl *sdl;

	if (p->ifa_flags & IFF_POINTOPOINT)
		return 1;
	sdl = (const struct sockaddr_dl *)(const void *)p->ifa_addr;
	return sdl->sdl_type == IFT_OTHER || sdl->sdl_type == IFT_GIF ||
	    sdl->sdl_type == IFT_STF || sdl->sdl_type == IFT_PPP;
}

static int
name_tunnel(const char *name)
{
	struct ifaddrs *ifa, *p;
	int t = 0;

	if (getifaddrs(&ifa) == -1)
		err(EXIT_SYS, "getifaddrs");
	for (p = ifa; p != NULL; p = p->ifa_next)
		if (p->ifa_addr != NULL && p->ifa_addr->sa_family == AF_LINK &&
		    strcmp(p->ifa_name, name) == 0) {
			t = link_tunnel(p);
			break;
		}
	freeifaddrs(ifa);
	return t;
}

static char *
put_sa(char *cp, const struct ipaddr *ip)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	if (ip->family == AF_INET) {
		memset(&sin, 0, sizeof(sin));
		sin.sin_len = sizeof(sin);
		sin.sin_family = AF_INET;
		memcpy(&sin.sin_addr, ip->a, 4);
		memcpy(cp, &sin, sizeof(sin));
		return cp + SA_ROUNDUP(sizeof(sin));
	}
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_len = sizeof(sin6);
	sin6.sin6_family = AF_INET6;
	memcpy(&sin6.sin6_addr, ip->a, 16);
	memcpy(cp, &sin6, sizeof(sin6));
	return cp + SA_ROUNDUP(sizeof(sin6));
}

/* The gateway and interface of a reply, from its list of addresses. */
static unsigned int
rt_parse(const struct rtreq *m, ssize_t n, struct ipaddr *gw)
{
	const struct sockaddr *sa;
	const char *cp = m->space, *end = (const char *)m + n;
	unsigned int index = m->hdr.rtm_index;
	int i;

	for (i = 0; i < RTAX_MAX; i++) {
		if (!(m->hdr.rtm_addrs & (1 << i)))
			continue;
		sa = (const struct sockaddr *)(const void *)cp;
		if (cp + sizeof(*sa) > end || cp + sa->sa_len > end)
			break;
		if (i == RTAX_GATEWAY && sa->sa_family == AF_INET) {
			gw->family = AF_INET;
			memcpy(gw->a, &((const struct sockaddr_in *)
			    (const void *)sa)->sin_addr, 4);
		} else if (i == RTAX_GATEWAY && sa->sa_family == AF_INET6) {
			gw->family = AF_INET6;
			memcpy(gw->a, &((const struct sockaddr_in6 *)
			    (const void *)sa)->sin6_addr, 16);
		} else if (i == RTAX_IFP && sa->sa_family == AF_LINK &&
		    index == 0)
			index = ((const struct sockaddr_dl *)
			    (const void *)sa)->sdl_index;
		cp += SA_ROUNDUP(sa->sa_len);
	}
	return index;
}

/*
 * RTM_GET for dst, or for the unscoped default route when dst is 0: the
 * interface index, or 0 when there is no route.
 */
static unsigned int
route_get(struct sys *s, const struct ipaddr *dst, struct ipaddr *gw)
{
	static const struct ipaddr zero4 = { AF_INET, { 0 } };
	static const struct ipaddr zero6 = { AF_INET6, { 0 } };
	struct sockaddr_dl sdl;
	struct rtreq m;
	const unsigned char *z;
	char *cp;
	ssize_t n;
	int isdefault, seq;

	z = dst->family == AF_INET ? zero4.a : zero6.a;
	isdefault = memcmp(dst->a, z, dst->family == AF_INET ? 4 : 16) == 0;
	memset(&m, 0, sizeof(m));
	m.hdr.rtm_version = RTM_VERSION;
	m.hdr.rtm_type = RTM_GET;
	m.hdr.rtm_flags = RTF_UP | RTF_GATEWAY;
	m.hdr.rtm_addrs = RTA_DST | RTA_IFP | (isdefault ? RTA_NETMASK : 0);
	m.hdr.rtm_seq = seq = ++s->seq;
	cp = put_sa(m.space, dst);
	if (isdefault)
		cp = put_sa(cp, dst->family == AF_INET ? &zero4 : &zero6);
	memset(&sdl, 0, sizeof(sdl));
	sdl.sdl_len = sizeof(sdl);
	sdl.sdl_family = AF_LINK;
	memcpy(cp, &sdl, sizeof(sdl));
	cp += SA_ROUNDUP(sizeof(sdl));
	m.hdr.rtm_msglen = cp - (char *)&m;
	if (write(s->rt, &m, m.hdr.rtm_msglen) == -1) {
		if (errno == ESRCH || errno == ENETUNREACH)
			return 0;
		err(EXIT_SYS, "route socket");
	}
	do {
		if ((n = read(s->rt, &m, sizeof(m))) == -1) {
			if (errno == EINTR)
				continue;
			err(EXIT_SYS, "route socket");
		}
	} while (n < (ssize_t)sizeof(m.hdr) || m.hdr.rtm_type != RTM_GET ||
	    m.hdr.rtm_seq != seq || m.hdr.rtm_pid != s->pid);
	if (m.hdr.rtm_errno != 0)
		return 0;
	memset(gw, 0, sizeof(*gw));
	return rt_parse(&m, n, gw);
}

/* The route method: the peer's route, or the default, of a family. */
static unsigned int
by_route(struct sys *s, const struct query *q, unsigned int self,
    struct answer *a)
{
	struct ipaddr dst, gw;
	unsigned int via;
	int fams[2], i, n = 0;

	if (q->peer.family != 0)
		fams[n++] = q->peer.family;
	else if (q->family != AF_UNSPEC)
		fams[n++] = q->family;
	else {
		fams[n++] = AF_INET;
		fams[n++] = AF_INET6;
	}
	for (i = 0; i < n; i++) {
		if (q->peer.family != 0)
			dst = q->peer;
		else {
			memset(&dst, 0, sizeof(dst));
			dst.family = fams[i];
		}
		if ((via = route_get(s, &dst, &gw)) != 0 && via != self) {
			a->family = fams[i];
			a->gateway = gw;
			return via;
		}
	}
	return 0;
}

static void
push(struct answer *a, unsigned int index)
{
	struct hop *h = &a->chain[a->nchain++];

	h->index = index;
	if (if_indextoname(index, h->name) == NULL)
		snprintf(h->name, sizeof(h->name), "%u", index);
}

struct sys *
sys_open(void)
{
	struct sys *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		err(EXIT_SYS, NULL);
	if ((s->sock = socket(AF_INET, SOCK_DGRAM, 0)) == -1)
		err(EXIT_SYS, "socket");
	if ((s->rt = socket(PF_ROUTE, SOCK_RAW, AF_UNSPEC)) == -1)
		err(EXIT_SYS, "route socket");
	fcntl(s->sock, F_SETFD, FD_CLOEXEC);
	fcntl(s->rt, F_SETFD, FD_CLOEXEC);
	s->ev = -1;
	s->pid = getpid();
	return s;
}

void
sys_close(struct sys *s)
{
	if (s->ev != -1)
		close(s->ev);
	close(s->rt);
	close(s->sock);
	free(s);
}

int
sys_method(enum method m)
{
	return m == M_DELEGATE || m == M_ROUTE;
}

void
sys_refresh(struct sys *s)
{
	(void)s;
}

void
sys_resolve(struct sys *s, const struct query *q, struct answer *a)
{
	char name[IF_NAMESIZE], down[IF_NAMESIZE] = "";
	unsigned int self, del = 0, via = 0;

	memset(a, 0, sizeof(*a));
	a->family = q->family;
	a->table = -1;
	if ((self = if_nametoindex(q->name)) == 0) {
		a->status = EXIT_NOIF;
		snprintf(a->error, sizeof(a->error), "%s: no such interface",
		    q->name);
		return;
	}
	push(a, self);
	if (q->method != M_ROUTE)
		del = delegate(s, q->name);
	if (del != 0 && if_indextoname(del, name) == NULL)
		del = 0;
	if (del != 0 && !link_up(s, name)) {
		strlcpy(down, name, sizeof(down));
		del = 0;
	}
	if (q->method != M_DELEGATE)
		via = by_route(s, q, self, a);
	if (del != 0) {
		a->chain[0].method = M_DELEGATE;
		a->family = q->family;
		a->gateway.family = 0;
		push(a, del);
		if (via != 0 && via != del && if_indextoname(via, name) != NULL)
			snprintf(a->note, sizeof(a->note),
			    "the route says %s", name);
		return;
	}
	if (!name_tunnel(q->name)) {
		a->status = EXIT_REFUSED;
		return;
	}
	if (via != 0) {
		a->chain[0].method = M_ROUTE;
		push(a, via);
		if (down[0] != '\0')
			snprintf(a->note, sizeof(a->note),
			    "the delegate %s is down", down);
		return;
	}
	a->status = EXIT_NOROUTE;
	snprintf(a->error, sizeof(a->error), "%s: no underlay route",
	    q->name);
}

/* -a: the tunnels, and the devices with a delegate. */
char **
sys_list(struct sys *s, size_t *np)
{
	struct ifaddrs *ifa, *p;
	char **names = NULL, **v;
	size_t n = 0;

	if (getifaddrs(&ifa) == -1)
		err(EXIT_SYS, "getifaddrs");
	for (p = ifa; p != NULL; p = p->ifa_next) {
		if (p->ifa_addr == NULL || p->ifa_addr->sa_family != AF_LINK ||
		    (p->ifa_flags & IFF_LOOPBACK) ||
		    !(link_tunnel(p) || delegate(s, p->ifa_name) != 0))
			continue;
		if ((v = realloc(names, (n + 2) * sizeof(*names))) == NULL)
			err(EXIT_SYS, NULL);
		names = v;
		if ((names[n++] = strdup(p->ifa_name)) == NULL)
			err(EXIT_SYS, NULL);
	}
	freeifaddrs(ifa);
	*np = n;
	return names;
}

int
sys_watch(struct sys *s)
{
	if ((s->ev = socket(PF_ROUTE, SOCK_RAW, AF_UNSPEC)) == -1)
		err(EXIT_SYS, "route socket");
	if (fcntl(s->ev, F_SETFD, FD_CLOEXEC) == -1 ||
	    fcntl(s->ev, F_SETFL, O_NONBLOCK) == -1)
		err(EXIT_SYS, "fcntl");
	return s->ev;
}

/* Drain the route socket: 1 if anything came.  Lost messages count too. */
int
sys_watch_read(struct sys *s)
{
	char buf[2048];
	int any = 0;

	for (;;) {
		if (read(s->ev, buf, sizeof(buf)) != -1) {
			any = 1;
			continue;
		}
		if (errno == EAGAIN)
			return any;
		if (errno == ENOBUFS)
			any = 1;
		else if (errno != EINTR)
			err(EXIT_SYS, "route socket");
	}
}

#endif /* __APPLE__ */
