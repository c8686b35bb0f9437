/* ISC license: see LICENSE. */
/*
 * effif on macOS: the delegate that the kernel keeps for a tunnel, read
 * as ifconfig -v reads it, else the route.  Compiled and linked for macOS
 * by make check (tests/macos.t), its routing messages tested on Linux
 * (rtsock.c, tests/rtsock.t); never run on a Mac (CAVEATS in effif.8).
 */
#ifdef __APPLE__

#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/sockio.h>
#include <net/if.h>
#include <net/if_dl.h>
#include <net/route.h>
#include <netinet/in.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "effif.h"
#include "exits.h"
#include "rtsock.h"
#include "sock.h"

/*
 * Not in the public SDK (xnu's sys/sockio_private.h): the delegate is a
 * uint32_t index at the start of the ifr_ifru union (ifr_delegated).
 */
#ifndef SIOCGIFDELEGATE
#define SIOCGIFDELEGATE	_IOWR('i', 157, struct ifreq)
#endif

/* xnu bsd/net/if_types.h, which some SDKs (zig's) do not ship. */
#ifndef IFT_OTHER
#define IFT_OTHER	0x1
#define IFT_PPP		0x17
#define IFT_GIF		0x37
#define IFT_STF		0x39
#endif

#define ROUTE_WAIT_MS	1000	/* for the reply to one RTM_GET */
#define ROUTE_TRIES	3

/* What the code relies on, checked against the headers it is built with. */
#define FACT(e)	_Static_assert(e, #e)
FACT(SIOCGIFDELEGATE == 0xc020699dUL);
FACT(sizeof(struct ifreq) == 32);
FACT(offsetof(struct ifreq, ifr_ifru) == IFNAMSIZ);
FACT(sizeof(((struct ifreq *)0)->ifr_ifru) >= sizeof(uint32_t));
FACT(IFT_OTHER == 0x1 && IFT_PPP == 0x17 && IFT_GIF == 0x37 &&
    IFT_STF == 0x39);
FACT(sizeof(struct rt_msghdr) == XNU_RTM_LEN);
FACT(offsetof(struct rt_msghdr, rtm_msglen) ==
    offsetof(struct xnu_rtm, msglen));
FACT(offsetof(struct rt_msghdr, rtm_version) ==
    offsetof(struct xnu_rtm, version));
FACT(offsetof(struct rt_msghdr, rtm_type) == offsetof(struct xnu_rtm, type));
FACT(offsetof(struct rt_msghdr, rtm_index) ==
    offsetof(struct xnu_rtm, index));
FACT(offsetof(struct rt_msghdr, rtm_flags) ==
    offsetof(struct xnu_rtm, flags));
FACT(offsetof(struct rt_msghdr, rtm_addrs) ==
    offsetof(struct xnu_rtm, addrs));
FACT(offsetof(struct rt_msghdr, rtm_pid) == offsetof(struct xnu_rtm, pid));
FACT(offsetof(struct rt_msghdr, rtm_seq) == offsetof(struct xnu_rtm, seq));
FACT(offsetof(struct rt_msghdr, rtm_errno) ==
    offsetof(struct xnu_rtm, errnum));
FACT(RTM_VERSION == XNU_RTM_VERSION && RTM_GET == XNU_RTM_GET &&
    RTM_ADD == XNU_RTM_ADD && RTM_DELETE == XNU_RTM_DELETE &&
    RTM_CHANGE == XNU_RTM_CHANGE && RTM_NEWADDR == XNU_RTM_NEWADDR &&
    RTM_IFINFO == XNU_RTM_IFINFO);
FACT(RTF_UP == XNU_RTF_UP && RTF_GATEWAY == XNU_RTF_GATEWAY);
FACT(RTA_DST == XNU_RTA_DST && RTA_GATEWAY == XNU_RTA_GATEWAY &&
    RTA_NETMASK == XNU_RTA_NETMASK && RTA_IFP == XNU_RTA_IFP);
FACT(RTAX_DST == XNU_RTAX_DST && RTAX_GATEWAY == XNU_RTAX_GATEWAY &&
    RTAX_NETMASK == XNU_RTAX_NETMASK && RTAX_IFP == XNU_RTAX_IFP &&
    RTAX_MAX == XNU_RTAX_MAX);
FACT(AF_INET == XNU_AF_INET && AF_INET6 == XNU_AF_INET6 &&
    AF_LINK == XNU_AF_LINK);
FACT(offsetof(struct sockaddr, sa_len) == 0 &&
    offsetof(struct sockaddr, sa_family) == 1);
FACT(sizeof(struct sockaddr_in) == XNU_SIN_LEN &&
    offsetof(struct sockaddr_in, sin_addr) == XNU_SIN_ADDR);
FACT(sizeof(struct sockaddr_in6) == XNU_SIN6_LEN &&
    offsetof(struct sockaddr_in6, sin6_addr) == XNU_SIN6_ADDR);
FACT(sizeof(struct sockaddr_dl) == XNU_SDL_LEN &&
    offsetof(struct sockaddr_dl, sdl_index) == XNU_SDL_INDEX);

struct sys {
	int	sock;		/* for the ioctls */
	int	ev;		/* PF_ROUTE, for -w */
	int	seq;
	pid_t	pid;
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

/*
 * RTM_GET for dst, or for the unscoped default route when dst is 0: the
 * interface index, or 0 when there is no route.  Each question has a
 * socket of its own, which holds only what came after it: a routing
 * socket receives every routing message of the system, and a full one
 * drops them, our reply among them, without a word.  So the wait is
 * bounded, and asked again.
 */
static unsigned int
route_get(struct sys *s, const struct ipaddr *dst, struct ipaddr *gw)
{
	unsigned char m[XNU_RTM_BUFLEN];
	struct rtanswer a;
	struct deadline dl;
	size_t len;
	int e, fd, r, seq, try;

	for (try = 0; try < ROUTE_TRIES; try++) {
		seq = ++s->seq;
		len = rtm_get_build(m, sizeof(m), dst, seq);
		if ((fd = sock_open(PF_ROUTE, SOCK_RAW, AF_UNSPEC)) == -1)
			err(EXIT_SYS, "route socket");
		if (write(fd, m, len) == -1) {
			e = errno;
			close(fd);
			if (e == ESRCH || e == ENETUNREACH)
				return 0;
			errno = e;
			err(EXIT_SYS, "route socket");
		}
		deadline_in(&dl, ROUTE_WAIT_MS);
		r = rtm_await(fd, s->pid, seq, &dl, &a);
		e = errno;
		close(fd);
		if (r == 1) {
			*gw = a.gw;
			return a.index;
		}
		if (e != ETIMEDOUT && e != ENOBUFS) {
			errno = e;
			err(EXIT_SYS, "route socket");
		}
	}
	errx(EXIT_TIMEOUT, "route socket: no reply in %d times %d s",
	    ROUTE_TRIES, ROUTE_WAIT_MS / 1000);
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
	fcntl(s->sock, F_SETFD, FD_CLOEXEC);
	s->ev = -1;
	s->pid = getpid();
	return s;
}

void
sys_close(struct sys *s)
{
	if (s->ev != -1)
		close(s->ev);
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
	if ((s->ev = sock_open(PF_ROUTE, SOCK_RAW, AF_UNSPEC)) == -1)
		err(EXIT_SYS, "route socket");
	return s->ev;
}

/* Drain the route socket: 1 if anything changed.  Lost messages count. */
int
sys_watch_read(struct sys *s)
{
	int r;

	if ((r = rtm_drain(s->ev, s->pid)) == -1)
		err(EXIT_SYS, "route socket");
	return r;
}

#endif /* __APPLE__ */
