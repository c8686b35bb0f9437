/* ISC license: see LICENSE. */
/*
 * effif's routing-socket messages (cmd/effif/rtsock.c), tested on any
 * system: messages are built here byte by byte to xnu's layouts
 * (bsd/net/route.h, rtsock.c) and fed to the functions darwin.c calls,
 * directly or through a datagram socketpair standing for PF_ROUTE (both
 * keep message boundaries).  rtsockcheck CASE exits 0 if CASE holds.
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
	struct ipaddr dst;
	struct xnu_rtm h;
	unsigned char b[XNU_RTM_BUFLEN];
	size_t n;

	memset(&dst, 0, sizeof(dst));
	dst.family = AF_INET;
	n = rtm_get_build(b, sizeof(b), &dst, SEQ);
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
	n = rtm_get_build(b, sizeof(b), &dst, SEQ);
	memcpy(&h, b, XNU_RTM_LEN);
	if (n != 92 + 28 + 20 || h.msglen != n ||
	    h.addrs != (XNU_RTA_DST | XNU_RTA_IFP))
		errx(1, "IPv6 peer: header wrong (length %zu)", n);
	if (b[92] != 28 || b[93] != 30 || b[100] != 0x20 || b[115] != 1 ||
	    b[120] != 20 || b[121] != 18)
		errx(1, "IPv6 peer: sockaddrs wrong");
	if (rtm_get_build(b, 100, &dst, SEQ) != 0)
		errx(1, "a small buffer was overrun");
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
	};
	size_t i;

	if (argc != 2)
		errx(2, "usage: rtsockcheck case");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (strcmp(argv[1], cases[i].name) == 0)
			return cases[i].fn();
	errx(2, "no case %s", argv[1]);
}
