/* ISC license: see LICENSE. */
/*
 * effif on Linux, the socket method: who carries a tunnel's packets.
 *
 * A user-space tunnel (wireguard-go, tailscaled, openvpn) is a process
 * that holds the tun device open (/proc/PID/fdinfo names it on its iff:
 * line) and sends what it reads there through its own UDP or TCP sockets.
 * Those sockets, found by inode in sock_diag's dump, say where the
 * packets go: the remote address, the mark, the bound device.  Kernel
 * WireGuard has no process: its generic netlink family gives the fwmark
 * and the peers' endpoints.
 */
#ifdef __linux__

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <linux/genetlink.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/wireguard.h>

#include <sys/syscall.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libmnl/libmnl.h>

#include "effif.h"
#include "exits.h"
#include "fd.h"
#include "nl.h"
#include "owner.h"

#define OWNER_BUFSZ	32768

static int
osock_add(struct osocks *v, const struct osock *o)
{
	struct osock *p;
	size_t cap;

	if (v->n == v->cap) {
		cap = v->cap ? v->cap * 2 : 8;
		if ((p = reallocarray(v->v, cap, sizeof(*p))) == NULL)
			return -1;
		v->v = p;
		v->cap = cap;
	}
	v->v[v->n++] = *o;
	return 0;
}

/*
 * A directory's entries, read by getdents64 into buf: no DIR, whose
 * opendir costs an fstat and an fcntl per directory, and there is one
 * per process.  Calls f on each name but . and ..; stops when f returns
 * nonzero, and returns that.
 */
static int
dir_each(int dfd, int (*f)(int, const char *, void *), void *arg)
{
	char buf[8192];
	const struct dirent64 *d;
	long n, off;
	int r;

	while ((n = syscall(SYS_getdents64, dfd, buf, sizeof(buf))) > 0) {
		for (off = 0; off < n; off += d->d_reclen) {
			d = (const struct dirent64 *)(buf + off);
			if (d->d_name[0] == '.')
				continue;
			if ((r = f(dfd, d->d_name, arg)) != 0)
				return r;
		}
	}
	return 0;
}

struct scan {
	const char	*dev;
	int		 proc;		/* /proc */
	const char	*pid;
	pid_t		 npid;
	struct osocks	*v;
	int		 tun;		/* this process holds dev */
	int		 nomem;		/* a socket could not be kept */
};

/* Whether fd (its link already read) is the tun device dev: fdinfo. */
static int
fd_is_tun(struct scan *sc, const char *fd)
{
	char path[64], buf[1024], want[IF_NAMESIZE + 8], *p;

	snprintf(path, sizeof(path), "%s/fdinfo/%s", sc->pid, fd);
	if (fd_readat(sc->proc, path, buf, sizeof(buf)) <= 0)
		return 0;
	snprintf(want, sizeof(want), "iff:\t%s\n", sc->dev);
	return (p = strstr(buf, want)) != NULL && (p == buf || p[-1] == '\n');
}

/* One fd of a process: a socket (kept by inode), or the tun device. */
static int
fd_cb(int dfd, const char *name, void *arg)
{
	struct scan *sc = arg;
	struct osock o;
	unsigned long long ino;
	char buf[64];
	ssize_t n;

	if ((n = readlinkat(dfd, name, buf, sizeof(buf) - 1)) == -1)
		return 0;
	buf[n] = '\0';
	if (sscanf(buf, "socket:[%llu]", &ino) == 1) {
		memset(&o, 0, sizeof(o));
		o.pid = sc->npid;
		o.inode = ino;
		if (osock_add(sc->v, &o) == -1) {
			sc->nomem = 1;
			return 1;
		}
	} else if (strcmp(buf, "/dev/net/tun") == 0 && fd_is_tun(sc, name))
		sc->tun++;
	return 0;
}

/* Whether a process is in the network namespace whose link is ns. */
static int
pid_netns(int proc, const char *pid, const char *ns)
{
	char path[64], buf[64];
	ssize_t n;

	snprintf(path, sizeof(path), "%s/ns/net", pid);
	if ((n = readlinkat(proc, path, buf, sizeof(buf) - 1)) == -1)
		return 0;
	buf[n] = '\0';
	return strcmp(buf, ns) == 0;
}

struct procscan {
	struct scan	 sc;
	char		 ns[64];
	pid_t		*pids;
	size_t		 npids;
	size_t		 n;
	pid_t		*skip;		/* sorted: owner_kthreads */
	size_t		 nskip;
	pid_t		 self;
};

/* One process: its fds, if it is in our network namespace. */
static int
proc_cb(int proc, const char *name, void *arg)
{
	struct procscan *ps = arg;
	const char *errstr;
	char path[64];
	size_t keep;
	int fd;

	ps->sc.npid = strtonum(name, 1, INT_MAX, &errstr);
	/* Not our own fds: effif never carries the tunnel's packets. */
	if (errstr != NULL || ps->sc.npid == ps->self ||
	    pid_in(ps->sc.npid, ps->skip, ps->nskip) ||
	    !pid_netns(proc, name, ps->ns))
		return 0;
	snprintf(path, sizeof(path), "%s/fd", name);
	if ((fd = openat(proc, path, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		return 0;
	ps->sc.pid = name;
	ps->sc.tun = 0;
	keep = ps->sc.v->n;
	dir_each(fd, fd_cb, &ps->sc);
	close(fd);
	if (ps->sc.nomem)
		return 1;
	if (ps->sc.tun == 0) {
		ps->sc.v->n = keep;	/* not an owner: its sockets go */
		return 0;
	}
	if (ps->n < ps->npids)
		ps->pids[ps->n] = ps->sc.npid;
	ps->n++;
	return 0;
}

/*
 * The processes of our network namespace that hold the tun device dev
 * open (want fds of it, -1 when the kernel did not say, 0: none), and
 * their sockets, by inode only so far.  Every process is read: one open
 * description shared by a parent and its child, or passed on, is one
 * queue to the kernel, so its count cannot end the scan early.  Returns
 * how many processes, their pids in pids (at most npids), or -1 when
 * /proc could not be read or memory ran out.  Processes we may not look
 * into are not seen.
 */
ssize_t
owner_find(const char *dev, long want, pid_t *pids, size_t npids,
    struct osocks *v)
{
	struct procscan ps;
	ssize_t n;
	int proc;

	if (want == 0)
		return 0;
	memset(&ps, 0, sizeof(ps));
	ps.sc.dev = dev;
	ps.sc.v = v;
	ps.pids = pids;
	ps.npids = npids;
	ps.self = getpid();
	if ((n = readlink("/proc/self/ns/net", ps.ns, sizeof(ps.ns) - 1)) ==
	    -1)
		return sys_fail(errno, "/proc/self/ns/net");
	ps.ns[n] = '\0';
	if ((proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return sys_fail(errno, "/proc");
	ps.sc.proc = proc;
	ps.nskip = owner_kthreads(proc, ps.ns, &ps.skip);
	dir_each(proc, proc_cb, &ps);
	close(proc);
	free(ps.skip);
	if (ps.sc.nomem)
		return sys_fail(ENOMEM, "sockets of the owners of %s", dev);
	return ps.n;
}

/* An address of sock_diag (4 or 16 bytes in 16); v4-mapped as IPv4. */
static void
diag_addr(int family, const __be32 *a, struct ipaddr *ip)
{
	static const unsigned char mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};
	static const unsigned char zero[16];

	memset(ip, 0, sizeof(*ip));
	if (family == AF_INET) {
		if (memcmp(a, zero, 4) == 0)
			return;
		ip->family = AF_INET;
		memcpy(ip->a, a, 4);
	} else if (memcmp(a, mapped, 12) == 0) {
		ip->family = AF_INET;
		memcpy(ip->a, (const unsigned char *)a + 12, 4);
	} else if (memcmp(a, zero, 16) != 0) {
		ip->family = AF_INET6;
		memcpy(ip->a, a, 16);
	}
}

struct diag_ctx {
	struct osocks	*v;
	int		 proto;
};

static int
diag_attr_cb(const struct nlattr *a, void *arg)
{
	struct osock *o = arg;

	if (mnl_attr_get_type(a) == INET_DIAG_MARK &&
	    mnl_attr_validate(a, MNL_TYPE_U32) == 0) {
		o->hasmark = 1;
		o->mark = mnl_attr_get_u32(a);
	}
	return MNL_CB_OK;
}

static int
diag_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct diag_ctx *dc = arg;
	const struct inet_diag_msg *m;
	struct osock *o;
	size_t i;

	if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(*m))
		return MNL_CB_OK;
	m = mnl_nlmsg_get_payload(nlh);
	for (i = 0; i < dc->v->n; i++) {
		o = &dc->v->v[i];
		if (o->inode != m->idiag_inode || o->proto != 0)
			continue;
		o->proto = dc->proto;
		o->family = m->idiag_family;
		diag_addr(m->idiag_family, m->id.idiag_src, &o->src);
		diag_addr(m->idiag_family, m->id.idiag_dst, &o->dst);
		o->sport = ntohs(m->id.idiag_sport);
		o->dport = ntohs(m->id.idiag_dport);
		o->oif = m->id.idiag_if;
		o->uid = m->idiag_uid;
		mnl_attr_parse(nlh, sizeof(*m), diag_attr_cb, o);
	}
	return MNL_CB_OK;
}

/*
 * sock_diag's dump of the sockets of one protocol (UDP or TCP) to fill in
 * the sockets of v by inode: addresses, bound device, mark (which the
 * kernel gives only to CAP_NET_ADMIN).  Both families, but for flows of
 * family AF_INET6 only IPv6 sockets (an IPv4 one carries none; an IPv6
 * one may carry IPv4, v4-mapped): each dump walks the whole hash table of
 * the protocol.  Returns how many were found, or -1.
 */
ssize_t
owner_diag(struct osocks *v, int proto, int family)
{
	static const int fams[] = { AF_INET, AF_INET6 };
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	struct inet_diag_req_v2 *req;
	struct diag_ctx dc = { v, 0 };
	unsigned int seq = 0, portid;
	size_t i, j, found = 0;
	char *buf;
	const char *what = NULL;
	ssize_t n;
	int ret = MNL_CB_OK;

	if (v->n == 0)
		return 0;
	if ((buf = malloc(OWNER_BUFSZ)) == NULL)
		return sys_fail(errno, "sock_diag buffer");
	if ((nl = mnl_socket_open2(NETLINK_SOCK_DIAG, SOCK_CLOEXEC)) == NULL) {
		free(buf);
		return sys_fail(errno, "sock_diag socket");
	}
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) == -1) {
		what = "sock_diag bind";
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	dc.proto = proto;
	for (i = family == AF_INET6; i < 2; i++) {
		nlh = mnl_nlmsg_put_header(buf);
		nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
		nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
		nlh->nlmsg_seq = ++seq;
		req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
		req->sdiag_family = fams[i];
		req->sdiag_protocol = proto;
		req->idiag_states = ~0U;
		if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) == -1) {
			what = "sock_diag send";
			goto out;
		}
		do {
			n = mnl_socket_recvfrom(nl, buf, OWNER_BUFSZ);
			if (n == -1 && errno == EINTR)
				continue;
			if (n == -1) {
				what = "sock_diag receive";
				goto out;
			}
			ret = nl_run(buf, n, seq, portid, diag_cb, &dc);
		} while (ret > MNL_CB_STOP);
		if (ret == -1 && errno != ENOENT) {
			what = "sock_diag dump";
			goto out;
		}
	}
out:
	if (what != NULL)
		sys_fail(errno, "%s", what);
	mnl_socket_close(nl);
	free(buf);
	if (what != NULL)
		return -1;
	for (j = 0; j < v->n; j++)
		found += v->v[j].proto == proto;
	return found;
}

struct wg_ctx {
	struct wgdev	*w;
	int		 id;
};

static int
ctrl_attr_cb(const struct nlattr *a, void *arg)
{
	struct wg_ctx *wc = arg;

	if (mnl_attr_get_type(a) == CTRL_ATTR_FAMILY_ID &&
	    mnl_attr_validate(a, MNL_TYPE_U16) == 0)
		wc->id = mnl_attr_get_u16(a);
	return MNL_CB_OK;
}

static int
ctrl_cb(const struct nlmsghdr *nlh, void *arg)
{
	mnl_attr_parse(nlh, sizeof(struct genlmsghdr), ctrl_attr_cb, arg);
	return MNL_CB_OK;
}

static void
wg_endpoint(const struct nlattr *a, struct wgdev *w)
{
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;
	struct ipaddr *ip;

	if (w->npeers == WG_PEERS_MAX)
		return;
	ip = &w->peers[w->npeers];
	memset(ip, 0, sizeof(*ip));
	if (mnl_attr_get_payload_len(a) == sizeof(*sin)) {
		sin = mnl_attr_get_payload(a);
		if (sin->sin_family != AF_INET)
			return;
		ip->family = AF_INET;
		memcpy(ip->a, &sin->sin_addr, 4);
	} else if (mnl_attr_get_payload_len(a) == sizeof(*sin6)) {
		sin6 = mnl_attr_get_payload(a);
		if (sin6->sin6_family != AF_INET6)
			return;
		ip->family = AF_INET6;
		memcpy(ip->a, &sin6->sin6_addr, 16);
	} else
		return;
	w->npeers++;
}

/* One attribute of a peer: its endpoint is all we need. */
static int
wg_peer_cb(const struct nlattr *a, void *arg)
{
	if ((mnl_attr_get_type(a) & NLA_TYPE_MASK) == WGPEER_A_ENDPOINT)
		wg_endpoint(a, arg);
	return MNL_CB_OK;
}

static int
wg_peers_cb(const struct nlattr *a, void *arg)
{
	mnl_attr_parse_nested(a, wg_peer_cb, arg);
	return MNL_CB_OK;
}

static int
wg_attr_cb(const struct nlattr *a, void *arg)
{
	struct wgdev *w = arg;

	switch (mnl_attr_get_type(a) & NLA_TYPE_MASK) {
	case WGDEVICE_A_LISTEN_PORT:
		if (mnl_attr_validate(a, MNL_TYPE_U16) == 0)
			w->port = mnl_attr_get_u16(a);
		break;
	case WGDEVICE_A_FWMARK:
		if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			w->fwmark = mnl_attr_get_u32(a);
		break;
	case WGDEVICE_A_PEERS:
		mnl_attr_parse_nested(a, wg_peers_cb, w);
		break;
	}
	return MNL_CB_OK;
}

static int
wg_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct wg_ctx *wc = arg;

	mnl_attr_parse(nlh, sizeof(struct genlmsghdr), wg_attr_cb, wc->w);
	return MNL_CB_OK;
}

static int
genl_talk(struct mnl_socket *nl, struct nlmsghdr *nlh, char *buf,
    mnl_cb_t cb, void *arg)
{
	unsigned int portid = mnl_socket_get_portid(nl);
	ssize_t n;
	int ret;

	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) == -1)
		return -1;
	do {
		n = mnl_socket_recvfrom(nl, buf, OWNER_BUFSZ);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		ret = nl_run(buf, n, nlh->nlmsg_seq, portid, cb, arg);
	} while (ret > MNL_CB_STOP);
	return ret == -1 ? -1 : 0;
}

/*
 * Kernel WireGuard's listen port, fwmark and peer endpoints, from its
 * generic netlink family: 0, or -1 with errno (ENOENT: no such family,
 * the module is not loaded; EPERM: CAP_NET_ADMIN is needed).
 */
int
owner_wireguard(unsigned int ifindex, struct wgdev *w)
{
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	struct genlmsghdr *g;
	struct wg_ctx wc = { w, 0 };
	char *buf;
	int e = 0, ret = 0;

	memset(w, 0, sizeof(*w));
	if ((buf = malloc(OWNER_BUFSZ)) == NULL)
		return -1;
	if ((nl = mnl_socket_open2(NETLINK_GENERIC, SOCK_CLOEXEC)) == NULL) {
		free(buf);
		return -1;
	}
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) == -1) {
		e = errno;
		ret = -1;
		goto out;
	}
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = GENL_ID_CTRL;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = 1;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = CTRL_CMD_GETFAMILY;
	g->version = 1;
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, WG_GENL_NAME);
	errno = 0;
	if (genl_talk(nl, nlh, buf, ctrl_cb, &wc) == -1 || wc.id == 0) {
		e = errno != 0 ? errno : ENOENT;
		ret = -1;
		goto out;
	}
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = wc.id;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = 2;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = WG_CMD_GET_DEVICE;
	g->version = WG_GENL_VERSION;
	mnl_attr_put_u32(nlh, WGDEVICE_A_IFINDEX, ifindex);
	if (genl_talk(nl, nlh, buf, wg_cb, &wc) == -1) {
		e = errno;
		ret = -1;
	}
out:
	mnl_socket_close(nl);
	free(buf);
	errno = e;
	return ret;
}

#endif /* __linux__ */
