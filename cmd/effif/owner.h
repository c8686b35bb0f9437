/* ISC license: see LICENSE. */
/*
 * effif on Linux: the sockets of a tunnel's owner (owner.c), for the
 * socket method of sockets.c.
 */
#ifndef OWNER_H
#define OWNER_H

#include <sys/types.h>
#include <stdint.h>

#include "effif.h"

#define WG_PEERS_MAX	16

/* One socket of a process that holds the tunnel open. */
struct osock {
	pid_t		pid;
	unsigned long long inode;
	int		proto;		/* IPPROTO_UDP or _TCP; 0: not inet */
	int		family;
	struct ipaddr	src;		/* family 0: the wildcard */
	struct ipaddr	dst;		/* family 0: not connected */
	uint16_t	sport;
	uint16_t	dport;
	unsigned int	oif;		/* SO_BINDTODEVICE, or 0 */
	int		hasmark;	/* the kernel told it */
	uint32_t	mark;
	uid_t		uid;		/* the socket's, which routing sees */
};

struct osocks {
	struct osock	*v;
	size_t		 n;
	size_t		 cap;
};

/* What kernel WireGuard says of a device. */
struct wgdev {
	uint16_t	port;
	uint32_t	fwmark;
	struct ipaddr	peers[WG_PEERS_MAX];	/* their endpoints */
	size_t		npeers;
};

size_t	owner_kthreads(int, const char *, pid_t **);
int	pid_in(pid_t, const pid_t *, size_t);
ssize_t	owner_find(const char *, long, pid_t *, size_t, struct osocks *);
ssize_t	owner_diag(struct osocks *, int, int);
int	owner_wireguard(unsigned int, struct wgdev *);

#endif
