/* ISC license: see LICENSE. */
/*
 * effif on macOS: the decisions (the delegate or the route, which
 * fallback, what to say), apart from the system calls that gather their
 * facts (darwin.c), so that they compile and are tested on any system
 * (tests/rtsockcheck.c, with a system made up of tables).
 */
#ifndef DELEGATE_H
#define DELEGATE_H

#include "effif.h"
#include "rtsock.h"

/* What ifstate says of an interface. */
#define IFS_GONE	0x1	/* no such interface (any more) */
#define IFS_UP		0x2	/* IFF_UP: the administrator's flag */
#define IFS_NOLINK	0x4	/* the media says it has no link */
#define IFS_TUNNEL	0x8	/* utun, ipsec, gif, stf, ppp, point to point */
#define IFS_LOOPBACK	0x10

#define MAC_IFS_MAX	64	/* interfaces asked by scoped lookups */

/* What the decisions ask of the system; -1 means errno says why. */
struct macsys {
	void		*ctx;
	unsigned int	(*index)(void *, const char *name);
	/* IFNAMSIZ bytes of the name of index: 0 if it names none */
	int		(*name)(void *, unsigned int index, char *);
	int		(*state)(void *, const char *name);
	/* the delegate's index in *del, 0 for none */
	int		(*delegate)(void *, const char *name, unsigned int *del);
	/* the route to dst (scoped unless ask->scope is 0): 1, 0 for none */
	int		(*route)(void *, const struct ipaddr *dst,
			    unsigned int scope, struct rtanswer *);
	/* every interface's index, at most max: how many */
	int		(*list)(void *, unsigned int *, int max);
};

void	mac_resolve(const struct macsys *, const struct query *,
	    struct answer *);

#endif
