/* ISC license: see LICENSE. */
/*
 * effif on macOS: the messages of a routing socket (PF_ROUTE), built and
 * read here with xnu's layouts written down as facts, so that this part
 * compiles and is tested on any system (tests/rtsock.t); darwin.c asserts
 * at compile time that the facts are Apple's headers' values.
 */
#ifndef RTSOCK_H
#define RTSOCK_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

#include "deadline.h"
#include "effif.h"

/* xnu bsd/net/route.h */
#define XNU_RTM_VERSION	5
#define XNU_RTM_ADD	0x1
#define XNU_RTM_DELETE	0x2
#define XNU_RTM_CHANGE	0x3
#define XNU_RTM_GET	0x4
#define XNU_RTM_NEWADDR	0xc
#define XNU_RTM_IFINFO	0xe
/* bsd/net/route_private.h: RTM_GET whose reply goes to the asker only. */
#define XNU_RTM_GET_SILENT 0x11
#define XNU_RTF_UP	0x1
#define XNU_RTF_GATEWAY	0x2
#define XNU_RTF_IFSCOPE	0x1000000
#define XNU_RTA_DST	0x1
#define XNU_RTA_GATEWAY	0x2
#define XNU_RTA_NETMASK	0x4
#define XNU_RTA_GENMASK	0x8
#define XNU_RTA_IFP	0x10
#define XNU_RTA_IFA	0x20
#define XNU_RTAX_DST	0
#define XNU_RTAX_GATEWAY 1
#define XNU_RTAX_NETMASK 2
#define XNU_RTAX_GENMASK 3
#define XNU_RTAX_IFP	4
#define XNU_RTAX_IFA	5
#define XNU_RTAX_MAX	8

/* xnu bsd/sys/socket.h: the families differ from Linux's but for INET. */
#define XNU_AF_INET	2
#define XNU_AF_LINK	18
#define XNU_AF_INET6	30

/* Lengths of struct sockaddr_in, sockaddr_in6, sockaddr_dl. */
#define XNU_SIN_LEN	16
#define XNU_SIN6_LEN	28
#define XNU_SDL_LEN	20

/* Where the fields are: sin_addr, sin6_addr, sin6_scope_id, sdl_index. */
#define XNU_SIN_ADDR	4
#define XNU_SIN6_ADDR	8
#define XNU_SIN6_SCOPE	24
#define XNU_SDL_INDEX	2

/*
 * The kernel event socket (PF_SYSTEM, SYSPROTO_EVENT): bsd/sys/kern_event.h,
 * sys_domain.h, net/net_kev.h, which the SDK zig carries lacks in part.
 */
#define XNU_AF_SYSTEM	32
#define XNU_SYSPROTO_EVENT 1
#define XNU_KEV_VENDOR_APPLE 1
#define XNU_KEV_NETWORK_CLASS 1
#define XNU_KEV_DL_SUBCLASS 2
#define XNU_KEV_DL_SIFFLAGS 1
#define XNU_KEV_DL_IF_ATTACHED 9
#define XNU_KEV_DL_IF_DETACHING 10
#define XNU_KEV_DL_IF_DETACHED 11
#define XNU_KEV_DL_LINK_OFF 12
#define XNU_KEV_DL_LINK_ON 13
#define XNU_KEV_DL_IFDELEGATE_CHANGED 25
#define XNU_KEV_HDR_LEN	24	/* KEV_MSG_HEADER_SIZE */
/* _IOR('e', 1, u_int32_t), _IOW('e', 2, struct kev_request) */
#define XNU_SIOCGKEVID	0x40046501UL
#define XNU_SIOCSKEVFILT 0x800c6502UL

/* struct kern_event_msg without its data. */
struct xnu_kev {
	uint32_t	total_size;
	uint32_t	vendor_code;
	uint32_t	kev_class;
	uint32_t	kev_subclass;
	uint32_t	id;
	uint32_t	event_code;
};

/* net/if_media.h, not in that SDK either: ifm_status's bits. */
#define XNU_IFM_AVALID	0x1
#define XNU_IFM_ACTIVE	0x2

/*
 * xnu rtsock.c's ROUNDUP32: a sockaddr in a message takes its length
 * rounded up to 4 bytes, and one of length 0 takes 4.
 */
#define XNU_SA_SPACE(len) \
	((len) > 0 ? 1 + (((size_t)(len) - 1) | 3) : 4)

/* struct rt_msghdr, field for field; struct rt_metrics is 14 words. */
struct xnu_rtm {
	uint16_t	msglen;
	uint8_t		version;
	uint8_t		type;
	uint16_t	index;
	int32_t		flags;
	int32_t		addrs;
	int32_t		pid;
	int32_t		seq;
	int32_t		errnum;
	int32_t		use;
	uint32_t	inits;
	uint32_t	rmx[14];
};

#define XNU_RTM_LEN	92	/* sizeof(struct rt_msghdr) */
#define XNU_RTM_BUFLEN	2048	/* room for any message we read */

/* What an RTM_GET reply says: no route when index is 0. */
struct rtanswer {
	unsigned int	index;
	struct ipaddr	gw;		/* family 0: none, a direct route */
};

/* How to ask: as RTM_GET_SILENT, scoped to an interface (0: unscoped). */
struct rtask {
	int		silent;
	unsigned int	scope;
};

size_t	rtm_get_build(void *, size_t, const struct ipaddr *dst, int seq,
	    const struct rtask *);
int	rtm_reply(const void *, size_t, pid_t, int seq, struct rtanswer *);
int	rtm_wakes(const void *, size_t, pid_t);
int	rtm_await(int fd, pid_t, int seq, const struct deadline *,
	    struct rtanswer *);
int	rtm_drain(int fd, pid_t);
int	kev_wakes(const void *, size_t, uint32_t *next);
int	kev_drain(int fd, uint32_t *next);

#endif
