/* ISC license: see LICENSE. */
/*
 * effif on macOS: the system calls that gather the facts delegate.c
 * decides from (the delegate, as ifconfig -v reads it; flags and link;
 * routes asked on a routing socket), and -w's two sockets.  Nothing here
 * exits: errors go back with errno.  Compiled and linked for macOS by make
 * check (tests/macos.t), its messages and decisions tested on Linux
 * (rtsock.c, delegate.c, tests/rtsock.t); never run on a Mac (CAVEATS in
 * effif.8).
 */
#ifdef __APPLE__

#include <sys/types.h>
#include <sys/event.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/sockio.h>
#include <net/if.h>
#include <net/if_dl.h>
#include <net/route.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "delegate.h"
#include "effif.h"
#include "rtsock.h"
#include "sock.h"
#include "util.h"

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
/*
 * -w's sockets: the kernel drops what does not fit, without a word (a
 * routing socket has 8 KiB, the event socket 32 KiB); kern.ipc.maxsockbuf
 * (8 MiB by default) bounds what we ask.
 */
#define WATCH_RCVBUF	(1024 * 1024)

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
FACT(RTF_UP == XNU_RTF_UP && RTF_GATEWAY == XNU_RTF_GATEWAY &&
    RTF_IFSCOPE == XNU_RTF_IFSCOPE);
FACT(RTA_DST == XNU_RTA_DST && RTA_GATEWAY == XNU_RTA_GATEWAY &&
    RTA_NETMASK == XNU_RTA_NETMASK && RTA_GENMASK == XNU_RTA_GENMASK &&
    RTA_IFP == XNU_RTA_IFP && RTA_IFA == XNU_RTA_IFA);
FACT(RTAX_DST == XNU_RTAX_DST && RTAX_GATEWAY == XNU_RTAX_GATEWAY &&
    RTAX_NETMASK == XNU_RTAX_NETMASK && RTAX_GENMASK == XNU_RTAX_GENMASK &&
    RTAX_IFP == XNU_RTAX_IFP && RTAX_IFA == XNU_RTAX_IFA &&
    RTAX_MAX == XNU_RTAX_MAX);
FACT(PF_SYSTEM == XNU_AF_SYSTEM);
FACT(XNU_SIOCGKEVID == _IOR('e', 1, uint32_t));
FACT(XNU_SIOCSKEVFILT == _IOW('e', 2, uint32_t[3]));
FACT(SIOCGIFMEDIA == _IOWR('i', 56, struct ifmediareq));
FACT(offsetof(struct sockaddr_in6, sin6_scope_id) == XNU_SIN6_SCOPE);
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
	int		sock;		/* for the ioctls */
	int		rt;		/* -w: PF_ROUTE */
	int		kev;		/* -w: PF_SYSTEM, the kernel's events */
	int		kq;		/* -w: both, for the driver's poll */
	uint32_t	kevnext;	/* the event number expected next */
	int		seq;
	int		loud;		/* RTM_GET_SILENT refused: RTM_GET */
	pid_t		pid;
	struct macsys	m;
};

static int
ifreq_ioctl(struct sys *s, const char *name, unsigned long req,
    struct ifreq *ifr)
{
	memset(ifr, 0, sizeof(*ifr));
	if (strlcpy(ifr->ifr_name, name, sizeof(ifr->ifr_name)) >=
	    sizeof(ifr->ifr_name)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return ioctl(s->sock, req, ifr);
}

static unsigned int
m_index(void *ctx, const char *name)
{
	(void)ctx;
	return if_nametoindex(name);
}

static int
m_name(void *ctx, unsigned int index, char *name)
{
	(void)ctx;
	return if_indextoname(index, name) != NULL;
}

static int
m_delegate(void *ctx, const char *name, unsigned int *del)
{
	struct ifreq ifr;
	uint32_t index;

	if (ifreq_ioctl(ctx, name, SIOCGIFDELEGATE, &ifr) == -1)
		return -1;
	memcpy(&index, &ifr.ifr_ifru, sizeof(index));
	*del = index;
	return 0;
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
		return -1;
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
 * IFF_UP is the administrator's; the link is the media's status, where
 * the driver has one (utun has none, and is taken to have link).
 */
static int
m_state(void *ctx, const char *name)
{
	struct ifmediareq ifm;
	struct ifreq ifr;
	int st = 0, t;

	if (ifreq_ioctl(ctx, name, SIOCGIFFLAGS, &ifr) == -1)
		return errno == ENXIO ? IFS_GONE : -1;
	if (ifr.ifr_flags & IFF_UP)
		st |= IFS_UP;
	if (ifr.ifr_flags & IFF_LOOPBACK)
		st |= IFS_LOOPBACK;
	memset(&ifm, 0, sizeof(ifm));
	strlcpy(ifm.ifm_name, name, sizeof(ifm.ifm_name));
	if (ioctl(((struct sys *)ctx)->sock, SIOCGIFMEDIA, &ifm) == 0 &&
	    (ifm.ifm_status & XNU_IFM_AVALID) &&
	    !(ifm.ifm_status & XNU_IFM_ACTIVE))
		st |= IFS_NOLINK;
	if ((t = name_tunnel(name)) == -1)
		return -1;
	return t ? st | IFS_TUNNEL : st;
}

static int
m_list(void *ctx, unsigned int *idx, int max)
{
	struct if_nameindex *ni, *p;
	int n = 0;

	(void)ctx;
	if ((ni = if_nameindex()) == NULL)
		return -1;
	for (p = ni; p->if_index != 0 && n < max; p++)
		idx[n++] = p->if_index;
	if_freenameindex(ni);
	return n;
}

/*
 * Write one RTM_GET on a socket of its own, as RTM_GET_SILENT where the
 * kernel knows it: its reply then goes to that socket alone, and not to
 * every routing socket of the system (-w's among them).  1 if sent, 0 if
 * the kernel says at once that there is no route, -1 with errno.
 */
static int
route_ask(struct sys *s, int fd, const struct ipaddr *dst, unsigned int scope,
    int seq)
{
	unsigned char m[XNU_RTM_BUFLEN];
	struct rtask ask;
	size_t len;

	ask.scope = scope;
	for (;;) {
		ask.silent = !s->loud;
		len = rtm_get_build(m, sizeof(m), dst, seq, &ask);
		if (write(fd, m, len) != -1)
			return 1;
		if (errno == ESRCH || errno == ENETUNREACH)
			return 0;
		/* Before RTM_GET_SILENT: EOPNOTSUPP, an unknown type. */
		if (s->loud || (errno != EOPNOTSUPP && errno != EINVAL))
			return -1;
		s->loud = 1;
	}
}

/*
 * RTM_GET for dst, or for the default route when dst is 0; scoped to an
 * interface unless scope is 0.  Each question has a socket of its own,
 * which holds only what came after it: a routing socket receives every
 * routing message of the system, and a full one drops them, our reply
 * among them, without a word.  So the wait is bounded, and asked again.
 */
static int
m_route(void *ctx, const struct ipaddr *dst, unsigned int scope,
    struct rtanswer *a)
{
	struct sys *s = ctx;
	struct deadline dl;
	int e, fd, r, seq, try;

	for (try = 0; try < ROUTE_TRIES; try++) {
		seq = ++s->seq;
		if ((fd = sock_open(PF_ROUTE, SOCK_RAW, AF_UNSPEC)) == -1)
			return -1;
		if ((r = route_ask(s, fd, dst, scope, seq)) == 1) {
			deadline_in(&dl, ROUTE_WAIT_MS);
			r = rtm_await(fd, s->pid, seq, &dl, a);
		}
		e = errno;
		close(fd);
		if (r != -1)
			return r == 1 && a->index != 0;
		if (e != ETIMEDOUT && e != ENOBUFS) {
			errno = e;
			return -1;
		}
	}
	errno = ETIMEDOUT;
	return -1;
}

struct sys *
sys_open(void)
{
	struct sys *s;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		sys_fail(errno, "malloc");
		return NULL;
	}
	if ((s->sock = socket(AF_INET, SOCK_DGRAM, 0)) == -1) {
		sys_fail(errno, "socket");
		free(s);
		return NULL;
	}
	fcntl(s->sock, F_SETFD, FD_CLOEXEC);
	s->rt = s->kev = s->kq = -1;
	s->pid = getpid();
	s->m.ctx = s;
	s->m.index = m_index;
	s->m.name = m_name;
	s->m.state = m_state;
	s->m.delegate = m_delegate;
	s->m.route = m_route;
	s->m.list = m_list;
	return s;
}

void
sys_close(struct sys *s)
{
	if (s->kq != -1)
		close(s->kq);
	if (s->kev != -1)
		close(s->kev);
	if (s->rt != -1)
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
	mac_resolve(&s->m, q, a);
}

/* -a: the tunnels, and the devices with a delegate; NULL (sys_error). */
char **
sys_list(struct sys *s, size_t *np)
{
	struct ifaddrs *ifa = NULL, *p;
	char **names, **v;
	unsigned int del;
	size_t n = 0;

	*np = 0;
	if ((names = calloc(1, sizeof(*names))) == NULL) {
		sys_fail(errno, "interfaces");
		return NULL;
	}
	if (getifaddrs(&ifa) == -1)
		goto fail;
	for (p = ifa; p != NULL; p = p->ifa_next) {
		if (p->ifa_addr == NULL || p->ifa_addr->sa_family != AF_LINK ||
		    (p->ifa_flags & IFF_LOOPBACK) || !(link_tunnel(p) ||
		    (m_delegate(s, p->ifa_name, &del) == 0 && del != 0)))
			continue;
		if ((v = reallocarray(names, n + 2, sizeof(*names))) == NULL)
			goto fail;
		names = v;
		if ((names[n] = strdup(p->ifa_name)) == NULL)
			goto fail;
		n++;
	}
	freeifaddrs(ifa);
	*np = n;
	return names;
fail:
	sys_fail(errno, "interfaces");
	while (n > 0)
		free(names[--n]);
	free(names);
	if (ifa != NULL)
		freeifaddrs(ifa);
	return NULL;
}

/* As large a receive buffer as the system allows, up to WATCH_RCVBUF. */
static void
rcvbuf_grow(int fd)
{
	int n;

	for (n = WATCH_RCVBUF; n > 8192; n /= 2)
		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &n, sizeof(n)) == 0)
			return;
}

/*
 * -w listens on two sockets: the routing socket says when routes,
 * addresses, and an interface's admin flag or MTU change; the delegate,
 * the link going on or off, an interface coming or going are kernel
 * events, posted on the event socket only (KEV_DL_*).  The driver polls
 * one fd: a kqueue of both.  -1 (sys_error).
 */
int
sys_watch(struct sys *s)
{
	uint32_t filter[3] = { 0, 0, 0 };	/* any vendor, class */
	struct kevent ev[2];

	if ((s->rt = sock_open(PF_ROUTE, SOCK_RAW, AF_UNSPEC)) == -1 ||
	    (s->kev = sock_open(PF_SYSTEM, SOCK_RAW,
	    XNU_SYSPROTO_EVENT)) == -1)
		return sys_fail(errno, "watch: socket");
	rcvbuf_grow(s->rt);
	rcvbuf_grow(s->kev);
	/* A new event socket takes no event until it has a filter. */
	if (ioctl(s->kev, XNU_SIOCSKEVFILT, filter) == -1 ||
	    ioctl(s->kev, XNU_SIOCGKEVID, &s->kevnext) == -1)
		return sys_fail(errno, "watch: kernel event filter");
	s->kevnext++;
	if ((s->kq = kqueue()) == -1)
		return sys_fail(errno, "watch: kqueue");
	fcntl(s->kq, F_SETFD, FD_CLOEXEC);
	EV_SET(&ev[0], s->rt, EVFILT_READ, EV_ADD, 0, 0, NULL);
	EV_SET(&ev[1], s->kev, EVFILT_READ, EV_ADD, 0, 0, NULL);
	if (kevent(s->kq, ev, 2, NULL, 0, NULL) == -1)
		return sys_fail(errno, "watch: kevent");
	return s->kq;
}

/*
 * Drain both sockets: 1 if anything may have changed, lost messages
 * included; -1 (sys_error).  Draining empties the kqueue's readiness.
 */
int
sys_watch_read(struct sys *s)
{
	int a, b;

	if ((a = rtm_drain(s->rt, s->pid)) == -1 ||
	    (b = kev_drain(s->kev, &s->kevnext)) == -1)
		return sys_fail(errno, "watch: read");
	return a | b;
}

#endif /* __APPLE__ */
