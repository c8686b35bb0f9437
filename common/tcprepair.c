/* ISC license: see LICENSE. */
/*
 * A TCP connection frozen, read, and rebuilt elsewhere with Linux's
 * TCP_REPAIR (3.5+, CONFIG_CHECKPOINT_RESTORE), in the order the kernel
 * takes it (net/ipv4/tcp.c, as CRIU's soccr uses it):
 *
 *	freeze	TCP_REPAIR on: the socket sends nothing, and a close
 *		then sends nothing either (tcp_disconnect: no reset)
 *	dump	TCP_INFO's options and window scales, TCP_MAXSEG (the
 *		clamp, in repair mode), TCP_TIMESTAMP, TCP_REPAIR_WINDOW,
 *		TCP_QUEUE_SEQ and the bytes (recv MSG_PEEK) of each queue
 *	restore	socket, TCP_REPAIR on, each queue's first sequence number,
 *		IP_TRANSPARENT (the address is not ours yet), bind, connect
 *		(in repair mode: no SYN, ESTABLISHED at once), the options,
 *		the timestamp clock, the queues' bytes, the window
 *
 * Elsewhere there is no such thing: every call fails, "not supported on
 * this system".
 */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef __linux__
#include <linux/sockios.h>
#endif

#include "tcprepair.h"

#define CHUNK	65536		/* bytes a queue is restored by */

#ifdef __linux__
/* A socket option, and its name for the error message. */
struct so {
	int		 level;
	int		 name;
	const char	*what;
};
#define SO_(l, n)	(&(const struct so){ (l), (n), #n })
#define TCPO(n)		SO_(IPPROTO_TCP, n)

static int
sopt(int s, const struct so *o, const void *v, socklen_t len,
    struct perr *pe)
{
	if (setsockopt(s, o->level, o->name, v, len) == 0)
		return 0;
	perr_sys(pe, o->what);
	return -1;
}

static int
iopt(int s, const struct so *o, int v, struct perr *pe)
{
	return sopt(s, o, &v, sizeof(v), pe);
}

static int
gopt(int s, const struct so *o, void *v, socklen_t len, struct perr *pe)
{
	socklen_t got = len;

	if (getsockopt(s, o->level, o->name, v, &got) == 0 && got == len)
		return 0;
	perr_sys(pe, o->what);
	return -1;
}

/*
 * TCP_REPAIR on.  Without CAP_NET_ADMIN the kernel says EPERM (the
 * sandbox's filter lets setsockopt through, so EPERM is the kernel's).
 */
int
tcpr_freeze(int s, struct perr *pe)
{
	int on = TCP_REPAIR_ON;

	if (setsockopt(s, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on)) == 0)
		return 0;
	if (errno == EPERM)
		perr_set(pe, PE_REFUSED, "-x needs CAP_NET_ADMIN (TCP_REPAIR)");
	else
		perr_sys(pe, "TCP_REPAIR");
	return -1;
}

/* TCP_REPAIR off; the kernel sends a window probe, which asks for an ACK. */
int
tcpr_thaw(int s)
{
	int off = TCP_REPAIR_OFF;

	return setsockopt(s, IPPROTO_TCP, TCP_REPAIR, &off, sizeof(off));
}

static void
addr_get(const struct sockaddr_storage *ss, unsigned char a[16],
    uint16_t *port)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

	memset(a, 0, 16);
	if (ss->ss_family == AF_INET) {
		memcpy(a, &sin->sin_addr, 4);
		*port = ntohs(sin->sin_port);
	} else {
		memcpy(a, &sin6->sin6_addr, 16);
		*port = ntohs(sin6->sin6_port);
	}
}

static socklen_t
addr_set(struct sockaddr_storage *ss, int family, const unsigned char a[16],
    uint16_t port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	ss->ss_family = family;
	if (family == AF_INET) {
		memcpy(&sin->sin_addr, a, 4);
		sin->sin_port = htons(port);
		return sizeof(*sin);
	}
	memcpy(&sin6->sin6_addr, a, 16);
	sin6->sin6_port = htons(port);
	return sizeof(*sin6);
}

/* One queue's bytes, peeked in repair mode, and the sequence after them. */
static int
queue_dump(int s, int q, size_t len, unsigned char **p, uint32_t *seq,
    struct perr *pe)
{
	ssize_t n;

	*p = NULL;
	if (iopt(s, TCPO(TCP_REPAIR_QUEUE), q, pe) == -1 ||
	    gopt(s, TCPO(TCP_QUEUE_SEQ), seq, sizeof(*seq), pe) == -1)
		return -1;
	if (len == 0)
		return 0;
	if ((*p = malloc(len)) == NULL) {
		perr_sys(pe, "malloc");
		return -1;
	}
	if ((n = recv(s, *p, len, MSG_PEEK | MSG_DONTWAIT)) == (ssize_t)len)
		return 0;
	if (n == -1)
		perr_sys(pe, "read a queue");
	else
		perr_set(pe, PE_SYS, "read a queue: %zd bytes of %zu", n, len);
	return -1;
}

/* The state of a frozen socket.  0, or -1 with pe; tcpr_free either way. */
int
tcpr_dump(int s, struct tcpconn *t, struct perr *pe)
{
	struct sockaddr_storage ss;
	struct tcp_repair_window w;
	struct tcp_info ti;
	socklen_t len;
	int inq, outq, nsd, mss;

	memset(t, 0, sizeof(*t));
	len = sizeof(ti);
	if (getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1) {
		perr_sys(pe, "TCP_INFO");
		return -1;
	}
	if (ti.tcpi_state != TCP_ESTABLISHED) {
		perr_set(pe, PE_REFUSED, "the connection is not established "
		    "(TCP state %u): nothing to move", ti.tcpi_state);
		return -1;
	}
	t->opts = ti.tcpi_options & (TCPR_OPT_TS | TCPR_OPT_SACK |
	    TCPR_OPT_WSCALE);
	t->snd_wscale = ti.tcpi_snd_wscale;
	t->rcv_wscale = ti.tcpi_rcv_wscale;
	len = sizeof(ss);
	if (getsockname(s, (struct sockaddr *)&ss, &len) == -1) {
		perr_sys(pe, "getsockname");
		return -1;
	}
	t->family = ss.ss_family;
	addr_get(&ss, t->laddr, &t->lport);
	len = sizeof(ss);
	if (getpeername(s, (struct sockaddr *)&ss, &len) == -1) {
		perr_sys(pe, "getpeername");
		return -1;
	}
	addr_get(&ss, t->raddr, &t->rport);
	if (gopt(s, TCPO(TCP_MAXSEG), &mss, sizeof(mss), pe) == -1 ||
	    gopt(s, TCPO(TCP_TIMESTAMP), &t->tsval, sizeof(t->tsval), pe) ==
	    -1 ||
	    gopt(s, TCPO(TCP_REPAIR_WINDOW), &w, sizeof(w), pe) == -1)
		return -1;
	t->mss = mss;
	t->wl1 = w.snd_wl1;
	t->wnd = w.snd_wnd;
	t->maxwnd = w.max_window;
	t->rwnd = w.rcv_wnd;
	t->rwup = w.rcv_wup;
	if (ioctl(s, SIOCINQ, &inq) == -1 || ioctl(s, SIOCOUTQ, &outq) == -1 ||
	    ioctl(s, SIOCOUTQNSD, &nsd) == -1) {
		perr_sys(pe, "the queues' lengths");
		return -1;
	}
	t->rcvlen = inq;
	t->sndlen = outq;
	t->unsent = nsd;
	if (queue_dump(s, TCP_RECV_QUEUE, t->rcvlen, &t->rcvq, &t->rcv_seq,
	    pe) == -1 || queue_dump(s, TCP_SEND_QUEUE, t->sndlen, &t->sndq,
	    &t->snd_seq, pe) == -1)
		return -1;
	return iopt(s, TCPO(TCP_REPAIR_QUEUE), TCP_NO_QUEUE, pe);
}

/* Put len bytes into the queue q (in repair mode: nothing is sent). */
static int
queue_fill(int s, int q, const unsigned char *p, size_t len, struct perr *pe)
{
	ssize_t n;

	if (len == 0)
		return 0;
	if (iopt(s, TCPO(TCP_REPAIR_QUEUE), q, pe) == -1)
		return -1;
	while (len > 0) {
		n = send(s, p, len < CHUNK ? len : CHUNK, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			perr_sys(pe, q == TCP_RECV_QUEUE ?
			    "restore the receive queue" :
			    "restore the send queue");
			return -1;
		}
		p += n;
		len -= n;
	}
	return 0;
}

/* The options the two ends agreed on, as they were. */
static int
opts_restore(int s, const struct tcpconn *t, struct perr *pe)
{
	struct tcp_repair_opt o[4];
	int n = 0;

	o[n].opt_code = TCPOPT_MAXSEG;
	o[n++].opt_val = t->mss;
	if (t->opts & TCPR_OPT_WSCALE) {
		o[n].opt_code = TCPOPT_WINDOW;
		o[n++].opt_val = t->snd_wscale | t->rcv_wscale << 16;
	}
	if (t->opts & TCPR_OPT_SACK) {
		o[n].opt_code = TCPOPT_SACK_PERMITTED;
		o[n++].opt_val = 0;
	}
	if (t->opts & TCPR_OPT_TS) {
		o[n].opt_code = TCPOPT_TIMESTAMP;
		o[n++].opt_val = 0;
	}
	if (sopt(s, TCPO(TCP_REPAIR_OPTIONS), o, n * sizeof(o[0]), pe) == -1)
		return -1;
	if ((t->opts & TCPR_OPT_TS) &&
	    iopt(s, TCPO(TCP_TIMESTAMP), t->tsval, pe) == -1)
		return -1;
	return 0;
}

/*
 * Steps before connect: the socket in repair mode, where each queue
 * starts, and the old local address (not ours yet: IP_TRANSPARENT, as
 * IP_FREEBIND alone makes connect fail with ENETUNREACH).
 */
static int
rebuild_open(const struct tcpconn *t, struct perr *pe)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int s, on = 1, lvl, opt;

	if ((s = socket(t->family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		perr_sys(pe, "socket");
		return -1;
	}
	lvl = t->family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6;
	opt = t->family == AF_INET ? IP_TRANSPARENT : IPV6_TRANSPARENT;
	if (tcpr_freeze(s, pe) == -1) {
		if (pe->code == PE_REFUSED)
			perr_set(pe, PE_REFUSED, "-X needs CAP_NET_ADMIN "
			    "(TCP_REPAIR)");
		goto fail;
	}
	len = addr_set(&ss, t->family, t->laddr, t->lport);
	if (iopt(s, TCPO(TCP_REPAIR_QUEUE), TCP_RECV_QUEUE, pe) == -1 ||
	    iopt(s, TCPO(TCP_QUEUE_SEQ), t->rcv_seq - t->rcvlen, pe) == -1 ||
	    iopt(s, TCPO(TCP_REPAIR_QUEUE), TCP_SEND_QUEUE, pe) == -1 ||
	    iopt(s, TCPO(TCP_QUEUE_SEQ), t->snd_seq - t->sndlen, pe) == -1 ||
	    sopt(s, SO_(SOL_SOCKET, SO_REUSEADDR), &on, sizeof(on), pe) == -1 ||
	    sopt(s, &(const struct so){ lvl, opt, "IP_TRANSPARENT" }, &on,
	    sizeof(on), pe) == -1)
		goto fail;
	if (bind(s, (struct sockaddr *)&ss, len) == -1) {
		perr_set(pe, PE_SYS, "bind %s: %s", tcpr_str(t, 0),
		    strerror(errno));
		pe->errnum = errno;
		goto fail;
	}
	return s;
fail:
	close(s);
	return -1;
}

/*
 * A socket in the state t says, still in repair mode (tcpr_thaw lets it
 * go), the bytes of its send queue that were never sent left out: the
 * caller sends them once it is thawed.  Returns it, or -1 with pe.
 */
int
tcpr_restore(const struct tcpconn *t, struct perr *pe)
{
	struct sockaddr_storage ss;
	struct tcp_repair_window w;
	socklen_t len;
	int s;

	if ((s = rebuild_open(t, pe)) == -1)
		return -1;
	len = addr_set(&ss, t->family, t->raddr, t->rport);
	if (connect(s, (struct sockaddr *)&ss, len) == -1) {
		perr_set(pe, PE_SYS, "connect (repair mode) %s: %s",
		    tcpr_str(t, 1), strerror(errno));
		pe->errnum = errno;
		goto fail;
	}
	w.snd_wl1 = t->wl1;
	w.snd_wnd = t->wnd;
	w.max_window = t->maxwnd;
	w.rcv_wnd = t->rwnd;
	w.rcv_wup = t->rwup;
	if (opts_restore(s, t, pe) == -1 ||
	    queue_fill(s, TCP_RECV_QUEUE, t->rcvq, t->rcvlen, pe) == -1 ||
	    queue_fill(s, TCP_SEND_QUEUE, t->sndq, t->sndlen - t->unsent,
	    pe) == -1 ||
	    sopt(s, TCPO(TCP_REPAIR_WINDOW), &w, sizeof(w), pe) == -1 ||
	    iopt(s, TCPO(TCP_REPAIR_QUEUE), TCP_NO_QUEUE, pe) == -1)
		goto fail;
	return s;
fail:
	close(s);
	return -1;
}
#else
int
tcpr_freeze(int s, struct perr *pe)
{
	(void)s;
	perr_set(pe, PE_REFUSED, "moving a connection (TCP_REPAIR) is not "
	    "supported on this system");
	return -1;
}

int
tcpr_thaw(int s)
{
	(void)s;
	errno = EOPNOTSUPP;
	return -1;
}

int
tcpr_dump(int s, struct tcpconn *t, struct perr *pe)
{
	memset(t, 0, sizeof(*t));
	return tcpr_freeze(s, pe);
}

int
tcpr_restore(const struct tcpconn *t, struct perr *pe)
{
	(void)t;
	return tcpr_freeze(-1, pe);
}
#endif

/* Can a connection be moved here at all?  Only Linux has TCP_REPAIR. */
int
tcpr_supported(void)
{
#ifdef __linux__
	return 1;
#else
	return 0;
#endif
}

void
tcpr_free(struct tcpconn *t)
{
	free(t->sndq);
	free(t->rcvq);
	t->sndq = t->rcvq = NULL;
}

/* The local (remote 0) or remote address, "192.0.2.1:7000" or "[::1]:7". */
const char *
tcpr_str(const struct tcpconn *t, int remote)
{
	static char buf[2][INET6_ADDRSTRLEN + 16];
	char a[INET6_ADDRSTRLEN];
	const unsigned char *p = remote ? t->raddr : t->laddr;

	if (inet_ntop(t->family == AF_INET6 ? AF_INET6 : AF_INET, p, a,
	    sizeof(a)) == NULL)
		strlcpy(a, "?", sizeof(a));
	snprintf(buf[remote != 0], sizeof(buf[0]), t->family == AF_INET6 ?
	    "[%s]:%u" : "%s:%u", a, remote ? t->rport : t->lport);
	return buf[remote != 0];
}
