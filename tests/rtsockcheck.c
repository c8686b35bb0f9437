/* ISC license: see LICENSE. */
/*
 * effif's routing-socket messages (cmd/effif/rtsock.c), tested on any
 * system: messages are built here byte by byte to xnu's layouts
 * (bsd/net/route.h, rtsock.c) and fed to the functions darwin.c calls,
 * directly or through a datagram socketpair standing for PF_ROUTE (both
 * keep message boundaries).  delegate.c's decisions are fed a system
 * made of tables.  rtsockcheck CASE [PATH] exits 0 if CASE holds.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "delegate.h"
#include "exits.h"
#include "rtsock.h"

#define US	4242		/* our pid, as the kernel would write it */
#define SEQ	7

struct msg {
	unsigned char	b[XNU_RTM_BUFLEN];
	size_t		len;
};

static void
msg_start(struct msg *m, int type, int pid, int seq, int flags, int index)
{
	struct xnu_rtm h;

	memset(m, 0, sizeof(*m));
	memset(&h, 0, sizeof(h));
	h.version = XNU_RTM_VERSION;
	h.type = (uint8_t)type;
	h.pid = pid;
	h.seq = seq;
	h.flags = flags;
	h.index = (uint16_t)index;
	memcpy(m->b, &h, XNU_RTM_LEN);
	m->len = XNU_RTM_LEN;
}

/* Append sockaddr number rtax: len bytes of which family and body. */
static void
msg_sa(struct msg *m, int rtax, size_t len, int family, size_t off,
    const void *body, size_t blen)
{
	struct xnu_rtm h;
	unsigned char *sa = m->b + m->len;

	memcpy(&h, m->b, XNU_RTM_LEN);
	h.addrs |= 1 << rtax;
	memcpy(m->b, &h, XNU_RTM_LEN);
	memset(sa, 0, XNU_SA_SPACE(len));
	sa[0] = (unsigned char)len;
	if (len > 1)
		sa[1] = (unsigned char)family;
	if (blen > 0)
		memcpy(sa + off, body, blen);
	m->len += XNU_SA_SPACE(len);
}

/* Set rtm_msglen: to the space taken, or short of it by cut bytes. */
static void
msg_end(struct msg *m, size_t cut)
{
	struct xnu_rtm h;

	m->len -= cut;
	memcpy(&h, m->b, XNU_RTM_LEN);
	h.msglen = (uint16_t)m->len;
	memcpy(m->b, &h, XNU_RTM_LEN);
}

static void
sa_in(struct msg *m, int rtax, const char *a)
{
	unsigned char ip[4];

	if (inet_pton(AF_INET, a, ip) != 1)
		errx(2, "bad address %s", a);
	msg_sa(m, rtax, XNU_SIN_LEN, XNU_AF_INET, XNU_SIN_ADDR, ip, 4);
}

static void
sa_in6(struct msg *m, int rtax, const char *a)
{
	unsigned char ip[16];

	if (inet_pton(AF_INET6, a, ip) != 1)
		errx(2, "bad address %s", a);
	msg_sa(m, rtax, XNU_SIN6_LEN, XNU_AF_INET6, XNU_SIN6_ADDR, ip, 16);
}

static void
sa_dl(struct msg *m, int rtax, size_t len, int index)
{
	uint16_t i = (uint16_t)index;

	msg_sa(m, rtax, len, XNU_AF_LINK, XNU_SDL_INDEX, &i, 2);
}

/* A reply to RTM_GET: a route via gateway on interface index. */
static void
reply(struct msg *m, int pid, int seq, int flags, int index, const char *gw)
{
	msg_start(m, XNU_RTM_GET, pid, seq, flags, index);
	sa_in(m, XNU_RTAX_DST, "0.0.0.0");
	sa_in(m, XNU_RTAX_GATEWAY, gw);
	msg_sa(m, XNU_RTAX_NETMASK, 0, 0, 0, NULL, 0);
	sa_dl(m, XNU_RTAX_IFP, XNU_SDL_LEN, index);
	msg_end(m, 0);
}

/* rtm_reply on a copy of exactly m's bytes, so ASan sees any overread. */
static int
parse(const struct msg *m, size_t n, pid_t pid, int seq, struct rtanswer *a)
{
	unsigned char *p;
	int r;

	if ((p = malloc(n)) == NULL)
		err(2, NULL);
	memcpy(p, m->b, n);
	r = rtm_reply(p, n, pid, seq, a);
	free(p);
	return r;
}

static void
expect_gw(const struct rtanswer *a, unsigned int index, const char *gw)
{
	unsigned char ip[4];

	if (a->index != index)
		errx(1, "index %u, want %u", a->index, index);
	if (gw == NULL) {
		if (a->gw.family != 0)
			errx(1, "a gateway, want none");
		return;
	}
	inet_pton(AF_INET, gw, ip);
	if (a->gw.family != AF_INET || memcmp(a->gw.a, ip, 4) != 0)
		errx(1, "gateway wrong or missing, want %s", gw);
}

static void
expect_gw6(const struct rtanswer *a, unsigned int index, const char *gw)
{
	unsigned char ip[16];
	char got[INET6_ADDRSTRLEN] = "none";

	if (a->index != index)
		errx(1, "index %u, want %u", a->index, index);
	inet_pton(AF_INET6, gw, ip);
	if (a->gw.family == AF_INET6)
		inet_ntop(AF_INET6, a->gw.a, got, sizeof(got));
	if (a->gw.family != AF_INET6 || memcmp(a->gw.a, ip, 16) != 0)
		errx(1, "gateway %s, want %s", got, gw);
}

static void
pair(int sv[2])
{
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == -1)
		err(2, "socketpair");
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) == -1)
		err(2, "fcntl");
}

static void
put(int fd, const struct msg *m)
{
	if (write(fd, m->b, m->len) != (ssize_t)m->len)
		err(2, "write");
}

/* Every kind of message that is not our reply, one of each. */
static void
put_others(int fd)
{
	struct msg m;

	msg_start(&m, XNU_RTM_ADD, 99, SEQ, XNU_RTF_UP, 3);
	sa_in(&m, XNU_RTAX_DST, "10.9.0.0");
	msg_end(&m, 0);
	put(fd, &m);
	reply(&m, 99, SEQ, XNU_RTF_UP | XNU_RTF_GATEWAY, 5, "10.0.0.99");
	put(fd, &m);			/* someone else's lookup, same seq */
	reply(&m, US, SEQ - 1, XNU_RTF_UP | XNU_RTF_GATEWAY, 5, "10.0.0.98");
	put(fd, &m);			/* our earlier lookup */
	reply(&m, US, SEQ, XNU_RTF_UP | XNU_RTF_GATEWAY, 5, "10.0.0.97");
	m.b[2] = XNU_RTM_VERSION + 1;
	put(fd, &m);			/* another version */
	msg_start(&m, XNU_RTM_IFINFO, 0, 0, 0, 5);
	m.len = 10;
	put(fd, &m);			/* short */
	msg_start(&m, XNU_RTM_NEWADDR, 0, 0, 0, 5);
	msg_end(&m, 0);
	put(fd, &m);
}

/* Our reply comes after a burst of 60 unrelated messages, and more follow. */
static int
burst(void)
{
	struct deadline dl;
	struct rtanswer a;
	struct msg m;
	int i, sv[2];

	pair(sv);
	for (i = 0; i < 10; i++)
		put_others(sv[1]);
	reply(&m, US, SEQ, XNU_RTF_UP | XNU_RTF_GATEWAY, 4, "192.0.2.1");
	put(sv[1], &m);
	put_others(sv[1]);
	deadline_in(&dl, 2000);
	if (rtm_await(sv[0], US, SEQ, &dl, &a) != 1)
		err(1, "rtm_await");
	expect_gw(&a, 4, "192.0.2.1");
	return 0;
}

/* No reply at all: rtm_await gives up at the deadline, never hangs. */
static int
noreply(void)
{
	struct timespec t0, t1;
	struct deadline dl;
	struct rtanswer a;
	int sv[2];
	long ms;

	pair(sv);
	put_others(sv[1]);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	deadline_in(&dl, 300);
	if (rtm_await(sv[0], US, SEQ, &dl, &a) != -1 || errno != ETIMEDOUT)
		errx(1, "rtm_await did not time out");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000;
	if (ms < 250 || ms > 2000)
		errx(1, "timed out after %ld ms, want 300", ms);
	return 0;
}

/*
 * Without RTF_GATEWAY (a direct or point-to-point route), RTAX_GATEWAY
 * holds the interface's own address: no gateway.  With it, the gateway.
 */
static int
nogateway(void)
{
	struct rtanswer a;
	struct msg m;

	reply(&m, US, SEQ, XNU_RTF_UP, 6, "10.8.0.1");
	if (parse(&m, m.len, US, SEQ, &a) != 1)
		errx(1, "reply not recognised");
	expect_gw(&a, 6, NULL);
	reply(&m, US, SEQ, XNU_RTF_UP | XNU_RTF_GATEWAY, 6, "10.8.0.254");
	if (parse(&m, m.len, US, SEQ, &a) != 1)
		errx(1, "reply not recognised");
	expect_gw(&a, 6, "10.8.0.254");
	/* A link-layer gateway (AF_LINK) is not an address either. */
	msg_start(&m, XNU_RTM_GET, US, SEQ, XNU_RTF_UP | XNU_RTF_GATEWAY, 6);
	sa_in(&m, XNU_RTAX_DST, "10.8.0.7");
	sa_dl(&m, XNU_RTAX_GATEWAY, XNU_SDL_LEN, 6);
	msg_end(&m, 0);
	if (parse(&m, m.len, US, SEQ, &a) != 1)
		errx(1, "reply not recognised");
	expect_gw(&a, 6, NULL);
	return 0;
}

/*
 * Short sockaddrs: a trailing netmask of length 0 takes 4 bytes and ends
 * the message; a trailing sockaddr_dl cut to 8 bytes still gives its
 * index (rtm_index 0); one longer than the message is not read.
 */
static int
shortsa(void)
{
	struct rtanswer a;
	struct msg m;
	unsigned char z[4] = { 0 };

	msg_start(&m, XNU_RTM_GET, US, SEQ, XNU_RTF_UP | XNU_RTF_GATEWAY, 3);
	sa_in(&m, XNU_RTAX_DST, "0.0.0.0");
	sa_in(&m, XNU_RTAX_GATEWAY, "10.1.1.1");
	msg_sa(&m, XNU_RTAX_NETMASK, 0, 0, 0, NULL, 0);
	msg_end(&m, 0);
	if (parse(&m, m.len, US, SEQ, &a) != 1)
		errx(1, "netmask 0: reply not recognised");
	expect_gw(&a, 3, "10.1.1.1");

	msg_start(&m, XNU_RTM_GET, US, SEQ, XNU_RTF_UP | XNU_RTF_GATEWAY, 0);
	sa_in(&m, XNU_RTAX_DST, "0.0.0.0");
	sa_in(&m, XNU_RTAX_GATEWAY, "10.1.1.2");
	msg_sa(&m, XNU_RTAX_NETMASK, 5, XNU_AF_INET, 4, z, 1);
	sa_dl(&m, XNU_RTAX_IFP, 8, 9);
	msg_end(&m, 0);
	if (parse(&m, m.len, US, SEQ, &a) != 1)
		errx(1, "sdl of 8: reply not recognised");
	expect_gw(&a, 9, "10.1.1.2");

	/* The gateway claims 16 bytes; the message ends 6 bytes into it. */
	msg_start(&m, XNU_RTM_GET, US, SEQ, XNU_RTF_UP | XNU_RTF_GATEWAY, 2);
	sa_in(&m, XNU_RTAX_DST, "0.0.0.0");
	sa_in(&m, XNU_RTAX_GATEWAY, "10.1.1.3");
	msg_end(&m, 10);
	if (parse(&m, m.len, US, SEQ, &a) != 1)
		errx(1, "cut gateway: reply not recognised");
	expect_gw(&a, 2, NULL);
	/* And a read shorter than rtm_msglen bounds the walk too. */
	reply(&m, US, SEQ, XNU_RTF_UP | XNU_RTF_GATEWAY, 0, "10.1.1.4");
	if (parse(&m, XNU_RTM_LEN + XNU_SIN_LEN + 6, US, SEQ, &a) != 1)
		errx(1, "short read: reply not recognised");
	expect_gw(&a, 0, NULL);
	return 0;
}

/*
 * -w's socket: our own RTM_GET, anyone's RTM_GET and anything we sent
 * wake nobody; a route deleted, an interface changed, a message that
 * cannot be read do.
 */
static int
watch(void)
{
	struct msg m;
	int sv[2], r;

	pair(sv);
	reply(&m, US, SEQ, XNU_RTF_UP | XNU_RTF_GATEWAY, 4, "192.0.2.1");
	put(sv[1], &m);
	reply(&m, 99, 1, XNU_RTF_UP | XNU_RTF_GATEWAY, 4, "192.0.2.1");
	put(sv[1], &m);
	msg_start(&m, XNU_RTM_ADD, US, 3, XNU_RTF_UP, 4);
	msg_end(&m, 0);
	put(sv[1], &m);
	if ((r = rtm_drain(sv[0], US)) != 0)
		errx(1, "lookups woke the watch (%d)", r);
	if (rtm_drain(sv[0], US) != 0)
		errx(1, "an empty socket woke the watch");
	msg_start(&m, XNU_RTM_DELETE, 99, 1, XNU_RTF_UP, 4);
	msg_end(&m, 0);
	put(sv[1], &m);
	reply(&m, US, SEQ, XNU_RTF_UP | XNU_RTF_GATEWAY, 4, "192.0.2.1");
	put(sv[1], &m);
	if (rtm_drain(sv[0], US) != 1)
		errx(1, "RTM_DELETE did not wake the watch");
	msg_start(&m, XNU_RTM_IFINFO, 0, 0, 0, 4);
	msg_end(&m, 0);
	put(sv[1], &m);
	if (rtm_drain(sv[0], US) != 1)
		errx(1, "RTM_IFINFO did not wake the watch");
	m.len = 12;
	put(sv[1], &m);
	if (rtm_drain(sv[0], US) != 1)
		errx(1, "a short message did not wake the watch");
	return 0;
}

/* The RTM_GET we write, as route(8) writes it. */
static int
request(void)
{
	static const struct rtask plain = { 0, 0 }, scoped = { 1, 9 };
	struct ipaddr dst;
	struct xnu_rtm h;
	unsigned char b[XNU_RTM_BUFLEN];
	size_t n;

	memset(&dst, 0, sizeof(dst));
	dst.family = AF_INET;
	n = rtm_get_build(b, sizeof(b), &dst, SEQ, &plain);
	memcpy(&h, b, XNU_RTM_LEN);
	if (n != 92 + 16 + 16 + 20 || h.msglen != n ||
	    h.version != 5 || h.type != 4 || h.seq != SEQ ||
	    h.addrs != (XNU_RTA_DST | XNU_RTA_NETMASK | XNU_RTA_IFP) ||
	    h.flags != (XNU_RTF_UP | XNU_RTF_GATEWAY))
		errx(1, "default IPv4: header wrong (length %zu)", n);
	if (b[92] != 16 || b[93] != 2 || b[108] != 16 || b[109] != 2 ||
	    b[124] != 20 || b[125] != 18)
		errx(1, "default IPv4: sockaddrs wrong");
	dst.family = AF_INET6;
	dst.a[0] = 0x20;
	dst.a[1] = 0x01;
	dst.a[15] = 1;
	n = rtm_get_build(b, sizeof(b), &dst, SEQ, &plain);
	memcpy(&h, b, XNU_RTM_LEN);
	if (n != 92 + 28 + 20 || h.msglen != n ||
	    h.addrs != (XNU_RTA_DST | XNU_RTA_IFP))
		errx(1, "IPv6 peer: header wrong (length %zu)", n);
	if (b[92] != 28 || b[93] != 30 || b[100] != 0x20 || b[115] != 1 ||
	    b[120] != 20 || b[121] != 18)
		errx(1, "IPv6 peer: sockaddrs wrong");
	if (rtm_get_build(b, 100, &dst, SEQ, &plain) != 0)
		errx(1, "a small buffer was overrun");
	/* The IPv6 default route: a netmask of zero, or xnu finds ::/128. */
	memset(dst.a, 0, sizeof(dst.a));
	n = rtm_get_build(b, sizeof(b), &dst, SEQ, &plain);
	memcpy(&h, b, XNU_RTM_LEN);
	if (n != 92 + 28 + 28 + 20 || h.msglen != n ||
	    h.addrs != (XNU_RTA_DST | XNU_RTA_NETMASK | XNU_RTA_IFP))
		errx(1, "default IPv6: header wrong (length %zu)", n);
	if (b[92] != 28 || b[93] != 30 || b[120] != 28 || b[121] != 30 ||
	    b[148] != 20 || b[149] != 18)
		errx(1, "default IPv6: sockaddrs wrong");
	/* Scoped to interface 9, the reply to us alone. */
	n = rtm_get_build(b, sizeof(b), &dst, SEQ, &scoped);
	memcpy(&h, b, XNU_RTM_LEN);
	if (h.type != XNU_RTM_GET_SILENT || h.index != 9 ||
	    h.flags != (XNU_RTF_UP | XNU_RTF_GATEWAY | XNU_RTF_IFSCOPE))
		errx(1, "scoped: type %d, index %d, flags %#x", h.type,
		    h.index, (unsigned)h.flags);
	return 0;
}

/*
 * An IPv6 reply as xnu writes it: sockaddr_in6 of 28 bytes take 28
 * (4-byte rounding, not 8), the gateway's address at byte 8, the
 * interface from RTAX_IFP when rtm_index is 0.
 */
static int
ipv6(void)
{
	struct rtanswer a;
	struct msg m;

	msg_start(&m, XNU_RTM_GET, US, SEQ, XNU_RTF_UP | XNU_RTF_GATEWAY, 0);
	sa_in6(&m, XNU_RTAX_DST, "::");
	sa_in6(&m, XNU_RTAX_GATEWAY, "2001:db8::1");
	msg_sa(&m, XNU_RTAX_NETMASK, 0, 0, 0, NULL, 0);
	sa_dl(&m, XNU_RTAX_IFP, XNU_SDL_LEN, 11);
	msg_end(&m, 0);
	if (parse(&m, m.len, US, SEQ, &a) != 1)
		errx(1, "IPv6 reply not recognised");
	expect_gw6(&a, 11, "2001:db8::1");
	return 0;
}

/*
 * A link-local gateway comes with the interface's index in bytes 2-3
 * (KAME); it is cleared, as route(8) clears it.  A global address whose
 * bytes 2-3 are not zero is left alone.
 */
static int
linklocal(void)
{
	struct rtanswer a;
	struct msg m;

	reply(&m, US, SEQ, XNU_RTF_UP | XNU_RTF_GATEWAY, 4, "192.0.2.1");
	msg_start(&m, XNU_RTM_GET, US, SEQ, XNU_RTF_UP | XNU_RTF_GATEWAY, 4);
	sa_in6(&m, XNU_RTAX_DST, "::");
	sa_in6(&m, XNU_RTAX_GATEWAY, "fe80:4::1");
	msg_end(&m, 0);
	if (parse(&m, m.len, US, SEQ, &a) != 1)
		errx(1, "reply not recognised");
	expect_gw6(&a, 4, "fe80::1");
	msg_start(&m, XNU_RTM_GET, US, SEQ, XNU_RTF_UP | XNU_RTF_GATEWAY, 4);
	sa_in6(&m, XNU_RTAX_DST, "::");
	sa_in6(&m, XNU_RTAX_GATEWAY, "2001:db8:4::1");
	msg_end(&m, 0);
	if (parse(&m, m.len, US, SEQ, &a) != 1)
		errx(1, "reply not recognised");
	expect_gw6(&a, 4, "2001:db8:4::1");
	return 0;
}

/*
 * Every sockaddr is stepped over, those not read included: a GENMASK
 * and a netmask of length 0 (4 bytes) before the interface's, an IFA
 * after it.
 */
static int
genmask(void)
{
	unsigned char g[4] = { 0xff, 0xff, 0, 0 };
	struct rtanswer a;
	struct msg m;

	msg_start(&m, XNU_RTM_GET, US, SEQ, XNU_RTF_UP | XNU_RTF_GATEWAY, 0);
	sa_in(&m, XNU_RTAX_DST, "10.7.0.0");
	sa_in(&m, XNU_RTAX_GATEWAY, "10.0.0.7");
	msg_sa(&m, XNU_RTAX_NETMASK, 0, 0, 0, NULL, 0);
	msg_sa(&m, XNU_RTAX_GENMASK, 8, XNU_AF_INET, 4, g, 4);
	sa_dl(&m, XNU_RTAX_IFP, XNU_SDL_LEN, 7);
	sa_in(&m, XNU_RTAX_IFA, "10.0.0.2");
	msg_end(&m, 0);
	if (parse(&m, m.len, US, SEQ, &a) != 1)
		errx(1, "reply not recognised");
	expect_gw(&a, 7, "10.0.0.7");
	return 0;
}

/*
 * Lost messages count as a change: a read that fails with ENOBUFS
 * (tests/rtsock.t makes the first reads of PATH fail so) wakes -w, on
 * either socket, and makes rtm_await give up, to be asked again.
 */
static int
enobufs(const char *path, const char *which)
{
	struct deadline dl;
	struct rtanswer a;
	uint32_t next = 1;
	int fd, r;

	if ((fd = open(path, O_RDWR | O_NONBLOCK)) == -1)
		err(2, "%s", path);
	if (strcmp(which, "route") == 0 && (r = rtm_drain(fd, US)) != 1)
		errx(1, "routing socket: ENOBUFS gave %d, want 1", r);
	if (strcmp(which, "event") == 0 && (r = kev_drain(fd, &next)) != 1)
		errx(1, "event socket: ENOBUFS gave %d, want 1", r);
	deadline_in(&dl, 2000);
	if (strcmp(which, "await") == 0 &&
	    (rtm_await(fd, US, SEQ, &dl, &a) != -1 || errno != ENOBUFS))
		errx(1, "rtm_await: ENOBUFS not reported");
	if (rtm_drain(fd, US) != 0)
		errx(1, "an empty socket woke the watch");
	return 0;
}

static void
kev_put(int fd, uint32_t id, uint32_t class, uint32_t sub, uint32_t code)
{
	struct xnu_kev k = { XNU_KEV_HDR_LEN + 4, XNU_KEV_VENDOR_APPLE, class,
	    sub, id, code };
	unsigned char b[XNU_KEV_HDR_LEN + 4] = { 0 };

	memcpy(b, &k, XNU_KEV_HDR_LEN);
	if (write(fd, b, sizeof(b)) != (ssize_t)sizeof(b))
		err(2, "write");
}

/*
 * The event socket: a delegate changed, a link on or off wake -w; other
 * events do not, unless an event number was skipped (a lost event).
 */
static int
kevents(void)
{
	uint32_t next = 100;
	int sv[2], r;

	pair(sv);
	kev_put(sv[1], 100, XNU_KEV_NETWORK_CLASS, 1, 1);	/* inet */
	kev_put(sv[1], 101, 6, 1, 1);				/* 802.11 */
	kev_put(sv[1], 102, XNU_KEV_NETWORK_CLASS, XNU_KEV_DL_SUBCLASS, 20);
	if ((r = kev_drain(sv[0], &next)) != 0 || next != 103)
		errx(1, "other events woke the watch (%d, next %u)", r, next);
	kev_put(sv[1], 103, XNU_KEV_NETWORK_CLASS, XNU_KEV_DL_SUBCLASS,
	    XNU_KEV_DL_IFDELEGATE_CHANGED);
	if (kev_drain(sv[0], &next) != 1)
		errx(1, "KEV_DL_IFDELEGATE_CHANGED did not wake the watch");
	kev_put(sv[1], 104, XNU_KEV_NETWORK_CLASS, XNU_KEV_DL_SUBCLASS,
	    XNU_KEV_DL_LINK_OFF);
	if (kev_drain(sv[0], &next) != 1)
		errx(1, "KEV_DL_LINK_OFF did not wake the watch");
	kev_put(sv[1], 105, XNU_KEV_NETWORK_CLASS, XNU_KEV_DL_SUBCLASS,
	    XNU_KEV_DL_LINK_ON);
	if (kev_drain(sv[0], &next) != 1)
		errx(1, "KEV_DL_LINK_ON did not wake the watch");
	kev_put(sv[1], 109, 6, 1, 1);
	if (kev_drain(sv[0], &next) != 1)
		errx(1, "events 106-108 lost, and the watch slept");
	if (kev_drain(sv[0], &next) != 0)
		errx(1, "an empty socket woke the watch");
	return 0;
}

/* The system the decisions see: interfaces and routes, by table. */
struct fakeif {
	unsigned int	index;
	const char	*name;
	int		state;
	unsigned int	del;
};

struct fakert {
	int		family;
	unsigned int	scope;		/* the lookup, 0: unscoped */
	unsigned int	index;		/* the answer */
	const char	*gw;
};

struct fake {
	const struct fakeif	*ifs;
	const struct fakert	*rts;
	int			timeout;	/* every route times out */
	int			asked;		/* scoped lookups made */
};

static const struct fakeif *
fake_if(struct fake *f, unsigned int index, const char *name)
{
	const struct fakeif *i;

	for (i = f->ifs; i->name != NULL; i++)
		if (i->index == index || (name && strcmp(i->name, name) == 0))
			return i;
	return NULL;
}

static unsigned int
f_index(void *ctx, const char *name)
{
	const struct fakeif *i = fake_if(ctx, 0, name);

	return i != NULL ? i->index : 0;
}

static int
f_name(void *ctx, unsigned int index, char *name)
{
	const struct fakeif *i = fake_if(ctx, index, NULL);

	if (i == NULL)
		return 0;
	strlcpy(name, i->name, IF_NAMESIZE);
	return 1;
}

static int
f_state(void *ctx, const char *name)
{
	const struct fakeif *i = fake_if(ctx, 0, name);

	return i != NULL ? i->state : IFS_GONE;
}

static int
f_delegate(void *ctx, const char *name, unsigned int *del)
{
	const struct fakeif *i = fake_if(ctx, 0, name);

	*del = i != NULL ? i->del : 0;
	return 0;
}

static int
f_route(void *ctx, const struct ipaddr *dst, unsigned int scope,
    struct rtanswer *a)
{
	struct fake *f = ctx;
	const struct fakert *r;

	if (f->timeout) {
		errno = ETIMEDOUT;
		return -1;
	}
	f->asked += scope != 0;
	memset(a, 0, sizeof(*a));
	for (r = f->rts; r->family != 0; r++)
		if (r->family == dst->family && r->scope == scope) {
			a->index = r->index;
			a->gw.family = r->family;
			inet_pton(r->family, r->gw, a->gw.a);
			return 1;
		}
	return 0;
}

static int
f_list(void *ctx, unsigned int *idx, int max)
{
	struct fake *f = ctx;
	int n = 0;

	for (; n < max && f->ifs[n].name != NULL; n++)
		idx[n] = f->ifs[n].index;
	return n;
}

/* Resolve name by method on f; check the status, answer and stderr. */
static void
decide(struct fake *f, const char *name, enum method method, int status,
    const char *want, const char *warn)
{
	struct macsys m = { f, f_index, f_name, f_state, f_delegate,
	    f_route, f_list };
	struct query q;
	struct answer a;
	const char *got;

	memset(&q, 0, sizeof(q));
	q.name = name;
	q.family = AF_UNSPEC;
	q.method = method;
	mac_resolve(&m, &q, &a);
	got = a.nchain > 0 ? a.chain[a.nchain - 1].name : "nothing";
	if (a.status != status)
		errx(1, "%s: status %d (%s), want %d", name, a.status, a.error,
		    status);
	if (status == EXIT_OK && strcmp(got, want) != 0)
		errx(1, "%s: answered %s, want %s", name, got, want);
	if (status > EXIT_REFUSED && strstr(a.error, want) == NULL)
		errx(1, "%s: error \"%s\", want \"%s\"", name, a.error, want);
	if (warn == NULL ? a.warn[0] != '\0' : strstr(a.warn, warn) == NULL)
		errx(1, "%s: said \"%s\", want \"%s\"", name, a.warn,
		    warn ? warn : "");
}

#define PHYS	(IFS_UP)
#define TUN	(IFS_UP | IFS_TUNNEL)

/* The delegate when it can carry packets, else the route, and why. */
static int
fallbacks(void)
{
	static const struct fakeif ifs[] = {
		{ 1, "lo0", IFS_UP | IFS_LOOPBACK, 0 },
		{ 4, "en0", PHYS, 0 },
		{ 5, "en7", PHYS, 0 },
		{ 6, "en8", PHYS | IFS_NOLINK, 0 },
		{ 7, "en9", 0, 0 },
		{ 10, "utun4", TUN, 5 },	/* delegate en7 */
		{ 11, "utun5", TUN, 0 },	/* none */
		{ 12, "utun6", TUN, 99 },	/* detached */
		{ 13, "utun7", TUN, 6 },	/* no link */
		{ 14, "utun8", TUN, 7 },	/* admin down */
		{ 0, NULL, 0, 0 }
	};
	static const struct fakert rts[] = {
		{ AF_INET, 0, 4, "192.0.2.1" },
		{ 0, 0, 0, NULL }
	};
	struct fake f = { ifs, rts, 0, 0 };

	decide(&f, "utun4", M_NONE, EXIT_OK, "en7", NULL);
	decide(&f, "utun5", M_NONE, EXIT_OK, "en0",
	    "utun5: it has no delegate: answered by the route");
	decide(&f, "utun6", M_NONE, EXIT_OK, "en0",
	    "utun6: its delegate, index 99, names no interface (detached)");
	decide(&f, "utun7", M_NONE, EXIT_OK, "en0",
	    "utun7: its delegate en8 has no link");
	decide(&f, "utun8", M_NONE, EXIT_OK, "en0",
	    "utun8: its delegate en9 is down");
	decide(&f, "utun5", M_DELEGATE, EXIT_NOROUTE,
	    "utun5: it has no delegate", NULL);
	decide(&f, "utun5", M_ROUTE, EXIT_OK, "en0", NULL);
	decide(&f, "en0", M_NONE, EXIT_REFUSED, "", NULL);
	decide(&f, "nosuch", M_NONE, EXIT_NOIF, "nosuch: no such interface",
	    NULL);
	f.timeout = 1;
	decide(&f, "utun5", M_NONE, EXIT_TIMEOUT, "utun5: route socket:",
	    NULL);
	return 0;
}

/*
 * A full tunnel: the unscoped route leads into the tunnel itself; the
 * interfaces' own (scoped) routes answer, one is the answer, two are
 * ambiguous, none is no route.  Tunnels, loopback, interfaces without
 * link or down are not asked.
 */
static int
fulltunnel(void)
{
	static const struct fakeif ifs[] = {
		{ 1, "lo0", IFS_UP | IFS_LOOPBACK, 0 },
		{ 4, "en0", PHYS, 0 },
		{ 5, "en1", PHYS, 0 },
		{ 6, "en8", PHYS | IFS_NOLINK, 0 },
		{ 7, "en9", 0, 0 },
		{ 9, "utun3", TUN, 0 },
		{ 10, "utun4", TUN, 0 },
		{ 0, NULL, 0, 0 }
	};
	static const struct fakert one[] = {
		{ AF_INET, 0, 10, "10.64.0.1" },
		{ AF_INET, 4, 4, "192.0.2.1" },
		{ 0, 0, 0, NULL }
	};
	static const struct fakert two[] = {
		{ AF_INET, 0, 10, "10.64.0.1" },
		{ AF_INET, 4, 4, "192.0.2.1" },
		{ AF_INET, 5, 5, "198.51.100.1" },
		{ 0, 0, 0, NULL }
	};
	static const struct fakert none[] = {
		{ AF_INET, 0, 10, "10.64.0.1" },
		{ 0, 0, 0, NULL }
	};
	struct fake f = { ifs, one, 0, 0 };

	decide(&f, "utun4", M_NONE, EXIT_OK, "en0",
	    "the route leads into utun4 itself: en0's own route answered");
	if (f.asked != 2)
		errx(1, "%d scoped lookups, want 2 (en0, en1)", f.asked);
	f.rts = two;
	decide(&f, "utun4", M_NONE, EXIT_AMBIGUOUS,
	    "utun4: ambiguous; it has no delegate; the route leads into "
	    "utun4 itself, and en0, en1 have routes of their own", NULL);
	f.rts = none;
	decide(&f, "utun4", M_ROUTE, EXIT_NOROUTE,
	    "utun4: no underlay route; the route leads into utun4 itself, "
	    "and no other interface has a route of its own", NULL);
	return 0;
}

int
main(int argc, char *argv[])
{
	static const struct {
		const char	*name;
		int		(*fn)(void);
	} cases[] = {
		{ "burst", burst }, { "noreply", noreply },
		{ "nogateway", nogateway }, { "shortsa", shortsa },
		{ "watch", watch }, { "request", request },
		{ "ipv6", ipv6 }, { "linklocal", linklocal },
		{ "genmask", genmask }, { "kevents", kevents },
		{ "fallbacks", fallbacks }, { "fulltunnel", fulltunnel },
	};
	size_t i;

	if (argc == 4 && strcmp(argv[1], "enobufs") == 0)
		return enobufs(argv[2], argv[3]);
	if (argc != 2)
		errx(2, "usage: rtsockcheck case | enobufs path which");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (strcmp(argv[1], cases[i].name) == 0)
			return cases[i].fn();
	errx(2, "no case %s", argv[1]);
}
