/* ISC license: see LICENSE. */
/*
 * effif on macOS: routing socket messages in and out, as route(8) and
 * xnu's rtsock.c lay them out (rtsock.h).  Nothing here includes an Apple
 * header: it runs in every make check, fed messages built byte by byte.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "fd.h"
#include "rtsock.h"

_Static_assert(sizeof(struct xnu_rtm) == XNU_RTM_LEN, "struct rt_msghdr");

/* A sockaddr_in or sockaddr_in6 for ip at p; returns the space it took. */
static size_t
put_ip(unsigned char *p, const struct ipaddr *ip)
{
	size_t len = ip->family == AF_INET ? XNU_SIN_LEN : XNU_SIN6_LEN;

	memset(p, 0, len);
	p[0] = (unsigned char)len;
	if (ip->family == AF_INET) {
		p[1] = XNU_AF_INET;
		memcpy(p + XNU_SIN_ADDR, ip->a, 4);
	} else {
		p[1] = XNU_AF_INET6;
		memcpy(p + XNU_SIN6_ADDR, ip->a, 16);
	}
	return XNU_SA_SPACE(len);
}

/*
 * RTM_GET for dst, or for the default route of its family when dst is the
 * unspecified address (with a netmask of zero, as route(8) asks); RTA_IFP
 * asks for the interface.  As RTM_GET_SILENT, the reply goes to our socket
 * only, not to every routing socket (-w's among them); scoped, the lookup
 * is the one the kernel makes for a socket bound to that interface
 * (RTF_IFSCOPE, rtm_index).  Returns the length, 0 if cap is too small.
 */
size_t
rtm_get_build(void *buf, size_t cap, const struct ipaddr *dst, int seq,
    const struct rtask *ask)
{
	static const unsigned char zero[16];
	struct xnu_rtm h;
	struct ipaddr mask;
	unsigned char *p = buf;
	size_t alen = dst->family == AF_INET ? 4 : 16, len = XNU_RTM_LEN;
	int isdefault = memcmp(dst->a, zero, alen) == 0;

	if (cap < XNU_RTM_LEN + 2 * XNU_SA_SPACE(XNU_SIN6_LEN) +
	    XNU_SA_SPACE(XNU_SDL_LEN))
		return 0;
	memset(&h, 0, sizeof(h));
	h.version = XNU_RTM_VERSION;
	h.type = ask->silent ? XNU_RTM_GET_SILENT : XNU_RTM_GET;
	h.flags = XNU_RTF_UP | XNU_RTF_GATEWAY |
	    (ask->scope != 0 ? XNU_RTF_IFSCOPE : 0);
	h.index = (uint16_t)ask->scope;
	h.addrs = XNU_RTA_DST | XNU_RTA_IFP |
	    (isdefault ? XNU_RTA_NETMASK : 0);
	h.seq = seq;
	len += put_ip(p + len, dst);
	if (isdefault) {
		memset(&mask, 0, sizeof(mask));
		mask.family = dst->family;
		len += put_ip(p + len, &mask);
	}
	memset(p + len, 0, XNU_SDL_LEN);
	p[len] = XNU_SDL_LEN;
	p[len + 1] = XNU_AF_LINK;
	len += XNU_SA_SPACE(XNU_SDL_LEN);
	h.msglen = (uint16_t)len;
	memcpy(p, &h, XNU_RTM_LEN);
	return len;
}

/*
 * The kernel keeps a link-local IPv6 address (fe80::/10, and multicast
 * of interface- and link-local scope) with the interface's index in bytes
 * 2 and 3 (KAME's embedded scope); route(8) clears them before it shows
 * the address, and so do we: the interface is in the answer already.
 */
static void
unscope(unsigned char *a)
{
	if ((a[0] == 0xfe && (a[1] & 0xc0) == 0x80) ||
	    (a[0] == 0xff && ((a[1] & 0x0f) == 1 || (a[1] & 0x0f) == 2)))
		a[2] = a[3] = 0;
}

/* The gateway of a reply, if it has one and it is an address. */
static void
take_gateway(const unsigned char *sa, struct rtanswer *a)
{
	if (sa[0] >= XNU_SIN_ADDR + 4 && sa[1] == XNU_AF_INET) {
		a->gw.family = AF_INET;
		memcpy(a->gw.a, sa + XNU_SIN_ADDR, 4);
	} else if (sa[0] >= XNU_SIN6_ADDR + 16 && sa[1] == XNU_AF_INET6) {
		a->gw.family = AF_INET6;
		memcpy(a->gw.a, sa + XNU_SIN6_ADDR, 16);
		unscope(a->gw.a);
	}
}

/*
 * Is the message in buf (n bytes, as one read gave it) the reply to our
 * RTM_GET seq?  1 if so, with what it says in *a; 0 for any other message,
 * which the socket delivers too: every routing message of the system.
 */
int
rtm_reply(const void *buf, size_t n, pid_t pid, int seq, struct rtanswer *a)
{
	const unsigned char *p = buf, *sa, *end;
	struct xnu_rtm h;
	uint16_t index;
	int i;

	if (n < XNU_RTM_LEN)
		return 0;
	memcpy(&h, p, XNU_RTM_LEN);
	if (h.version != XNU_RTM_VERSION || h.type != XNU_RTM_GET ||
	    h.pid != pid || h.seq != seq || h.msglen < XNU_RTM_LEN)
		return 0;
	memset(a, 0, sizeof(*a));
	if (h.errnum != 0)
		return 1;
	a->index = h.index;
	end = p + (h.msglen < n ? h.msglen : n);
	sa = p + XNU_RTM_LEN;
	for (i = 0; i < XNU_RTAX_MAX; i++) {
		if (!(h.addrs & (1 << i)))
			continue;
		/* The last one may end at its length, short of its space. */
		if (sa >= end || sa[0] > end - sa)
			break;
		/* Without RTF_GATEWAY, RTAX_GATEWAY is the interface's own. */
		if (i == XNU_RTAX_GATEWAY && (h.flags & XNU_RTF_GATEWAY))
			take_gateway(sa, a);
		else if (i == XNU_RTAX_IFP && a->index == 0 &&
		    sa[0] >= XNU_SDL_INDEX + 2 && sa[1] == XNU_AF_LINK) {
			memcpy(&index, sa + XNU_SDL_INDEX, 2);
			a->index = index;
		}
		if ((size_t)(end - sa) <= XNU_SA_SPACE(sa[0]))
			break;
		sa += XNU_SA_SPACE(sa[0]);
	}
	return 1;
}

/*
 * Does a message read by -w's socket say that something may have
 * changed?  Not an RTM_GET, which changes nothing: every lookup, ours
 * included, is broadcast to every routing socket, and waking up for our
 * own would look up again for ever.  Nor anything our own pid sent.  What
 * cannot be read counts as a change.
 */
int
rtm_wakes(const void *buf, size_t n, pid_t pid)
{
	struct xnu_rtm h;

	if (n < XNU_RTM_LEN)
		return 1;
	memcpy(&h, buf, XNU_RTM_LEN);
	if (h.version != XNU_RTM_VERSION)
		return 1;
	return h.type != XNU_RTM_GET && h.pid != pid;
}

/*
 * Read the non-blocking routing socket fd until the reply to RTM_GET seq
 * comes: 1, with what it says in *a.  -1 with errno ETIMEDOUT once dl
 * passes (a full socket buffer drops messages without a word, ours
 * among them), ENOBUFS where the system says it dropped some, or the
 * error of read.
 */
int
rtm_await(int fd, pid_t pid, int seq, const struct deadline *dl,
    struct rtanswer *a)
{
	unsigned char buf[XNU_RTM_BUFLEN];
	ssize_t n;

	for (;;) {
		if ((n = read(fd, buf, sizeof(buf))) >= 0) {
			if (rtm_reply(buf, (size_t)n, pid, seq, a))
				return 1;
			/* A flood of others' messages must not hold us. */
			if (deadline_ms(dl) == 0) {
				errno = ETIMEDOUT;
				return -1;
			}
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if (deadline_poll(fd, POLLIN, dl) == -1)
			return -1;
	}
}

static int
rtm_wakes_arg(const void *buf, size_t n, void *pid)
{
	return rtm_wakes(buf, n, *(pid_t *)pid);
}

static int
kev_wakes_arg(const void *buf, size_t n, void *next)
{
	return kev_wakes(buf, n, next);
}

/*
 * Drain -w's non-blocking routing socket: 1 if any message says that
 * something may have changed, or some were lost (ENOBUFS), 0 if not;
 * -1 with errno set when read fails otherwise.
 */
int
rtm_drain(int fd, pid_t pid)
{
	unsigned char buf[XNU_RTM_BUFLEN];

	return fd_drain(fd, buf, sizeof(buf), rtm_wakes_arg, &pid);
}

/*
 * Does a message read from the kernel event socket say that a delegate,
 * a link or an interface changed (those come on no routing socket)?  The
 * socket takes every event (no filter), and the kernel numbers every
 * event it posts: a number skipped is an event that a full socket lost,
 * without a word, and counts as a change.  *next is the number expected.
 */
int
kev_wakes(const void *buf, size_t n, uint32_t *next)
{
	const unsigned char *p = buf;
	struct xnu_kev k;
	int any = 0;

	while (n >= XNU_KEV_HDR_LEN) {
		memcpy(&k, p, XNU_KEV_HDR_LEN);
		if (k.id != *next)
			any = 1;
		*next = k.id + 1;
		if (k.vendor_code == XNU_KEV_VENDOR_APPLE &&
		    k.kev_class == XNU_KEV_NETWORK_CLASS &&
		    k.kev_subclass == XNU_KEV_DL_SUBCLASS)
			switch (k.event_code) {
			case XNU_KEV_DL_SIFFLAGS:
			case XNU_KEV_DL_IF_ATTACHED:
			case XNU_KEV_DL_IF_DETACHING:
			case XNU_KEV_DL_IF_DETACHED:
			case XNU_KEV_DL_LINK_OFF:
			case XNU_KEV_DL_LINK_ON:
			case XNU_KEV_DL_IFDELEGATE_CHANGED:
				any = 1;
			}
		if (k.total_size < XNU_KEV_HDR_LEN || k.total_size > n)
			break;
		p += k.total_size;
		n -= k.total_size;
	}
	return any || n != 0;
}

/*
 * Drain -w's non-blocking kernel event socket: 1 if any event says that
 * something may have changed, or some were lost; 0 if not; -1 with errno
 * set when read fails.
 */
int
kev_drain(int fd, uint32_t *next)
{
	unsigned char buf[XNU_RTM_BUFLEN];

	return fd_drain(fd, buf, sizeof(buf), kev_wakes_arg, next);
}
