/* ISC license: see LICENSE. */
/*
 * effif on Linux: rtnetlink through libmnl, and the attributes of its
 * replies.
 */
#ifdef __linux__

#include <sys/types.h>
#include <sys/socket.h>
#include <net/if.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "effif.h"
#include "exits.h"
#include "nl.h"

void *
vec_add(struct vec *v)
{
	void *p;

	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 16;
		if ((p = reallocarray(v->v, v->cap, v->size)) == NULL) {
			v->cap = v->n;
			return NULL;
		}
		v->v = p;
	}
	p = (char *)v->v + v->n++ * v->size;
	memset(p, 0, v->size);
	return p;
}

int
attrs_cb(const struct nlattr *a, void *arg)
{
	struct attrs *at = arg;
	uint16_t type = mnl_attr_get_type(a);

	if (type > at->max || type >= sizeof(at->tb) / sizeof(at->tb[0]))
		at->unknown = 1;
	else
		at->tb[type] = a;
	return MNL_CB_OK;
}

void
attrs_nested(const struct nlattr *a, unsigned int max, struct attrs *at)
{
	memset(at, 0, sizeof(*at));
	at->max = max;
	if (a != NULL)
		mnl_attr_parse_nested(a, attrs_cb, at);
}

int
attr_u32(const struct nlattr *a, uint32_t *v)
{
	if (a == NULL || mnl_attr_validate(a, MNL_TYPE_U32) < 0)
		return 0;
	*v = mnl_attr_get_u32(a);
	return 1;
}

int
attr_str(const struct nlattr *a, char *buf, size_t len)
{
	if (a == NULL || mnl_attr_validate(a, MNL_TYPE_NUL_STRING) < 0)
		return 0;
	return strlcpy(buf, mnl_attr_get_str(a), len) < len;
}

/* An address attribute: its length says the family. */
int
attr_ip(const struct nlattr *a, struct ipaddr *ip)
{
	uint16_t len;

	if (a == NULL)
		return 0;
	len = mnl_attr_get_payload_len(a);
	if (len != 4 && len != 16)
		return 0;
	memset(ip, 0, sizeof(*ip));
	ip->family = len == 4 ? AF_INET : AF_INET6;
	memcpy(ip->a, mnl_attr_get_payload(a), len);
	return 1;
}

/* The same, an all-zero address being none. */
int
attr_addr(const struct nlattr *a, struct ipaddr *ip)
{
	static const unsigned char zero[16];
	struct ipaddr x;

	if (!attr_ip(a, &x) ||
	    memcmp(x.a, zero, x.family == AF_INET ? 4 : 16) == 0)
		return 0;
	*ip = x;
	return 1;
}

int
ip_multicast(const struct ipaddr *ip)
{
	if (ip->family == AF_INET)
		return (ip->a[0] & 0xf0) == 0xe0;
	return ip->a[0] == 0xff;
}

int
famidx(int family)
{
	return family == AF_INET6;
}

/*
 * mnl_cb_run over a reply, once every message in it is whole.  libmnl's
 * mnl_nlmsg_ok compares the length as a signed int, so a message that
 * claims 2 GiB or more passes it and is read far past the buffer: we
 * check each length ourselves first, unsigned.  Whole means with its
 * padding too: libmnl walks a message's attributes up to its aligned
 * end, so an attribute of the last message could run up to 3 bytes past
 * what was received; the kernel pads every message it sends to
 * NLMSG_ALIGNTO, so a reply that does not hold it is malformed.  (Both
 * found by fuzzing.)
 */
int
nl_run(const void *buf, size_t len, unsigned int seq, unsigned int portid,
    mnl_cb_t cb, void *arg)
{
	const struct nlmsghdr *nlh;
	size_t off = 0, n;

	while (off < len && len - off >= sizeof(*nlh)) {
		nlh = (const struct nlmsghdr *)((const char *)buf + off);
		n = nlh->nlmsg_len;
		if (n < sizeof(*nlh) || MNL_ALIGN(n) > len - off) {
			errno = EBADMSG;
			return MNL_CB_ERROR;
		}
		off += MNL_ALIGN(n);
	}
	return mnl_cb_run(buf, len, seq, portid, cb, arg);
}

/*
 * Send one request and run cb on each message of the answer.  Returns what
 * mnl_cb_run returned last: -1 with errno when the kernel said no, or when
 * the request could not be sent or the answer read.
 */
int
nl_talk(struct sys *s, struct nlmsghdr *nlh, mnl_cb_t cb, void *arg)
{
	ssize_t n;
	int ret;

	nlh->nlmsg_seq = ++s->seq;
	s->intr = 0;
	while (mnl_socket_sendto(s->nl, nlh, nlh->nlmsg_len) == -1)
		if (errno != EINTR)
			return -1;
	do {
		n = mnl_socket_recvfrom(s->nl, s->buf, BUFSZ);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		ret = nl_run(s->buf, n, s->seq, s->portid, cb, arg);
	} while (ret > MNL_CB_STOP);
	return ret;
}

/* A dump, again while the kernel says its tables changed under it. */
int
nl_dump(struct sys *s, struct nlmsghdr *nlh, mnl_cb_t cb, struct vec *v,
    const char *what)
{
	int i;

	for (i = 0; i < DUMP_TRIES; i++) {
		v->n = 0;
		if (nl_talk(s, nlh, cb, s) == -1) {
			/* A kernel without IPv6 has none of its tables. */
			if (errno == EAFNOSUPPORT)
				return 0;
			return sys_fail(errno, "dump %s", what);
		}
		if (!s->intr)
			return 0;
	}
	return sys_fail(0, "dump %s: changed under %d tries", what,
	    DUMP_TRIES);
}

/*
 * Begin a dump request of type in buf: the netlink header, then an extra
 * header of len bytes (ifinfomsg, fib_rule_hdr, rtmsg: each begins with
 * the family) zeroed but for family.
 */
struct nlmsghdr *
dump_begin(char *buf, uint16_t type, int family, size_t len)
{
	struct nlmsghdr *nlh;
	unsigned char *h;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	h = mnl_nlmsg_put_extra_header(nlh, len);
	h[0] = (unsigned char)family;
	return nlh;
}

#endif /* __linux__ */
