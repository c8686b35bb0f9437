/* ISC license: see LICENSE. */
/*
 * effif: what main asks of the system part (linux.c and its files,
 * darwin.c).
 */
#ifndef EFFIF_H
#define EFFIF_H

#include <sys/types.h>
#include <net/if.h>
#include <stdint.h>

#define HOPS_MAX	8	/* devices in a chain, the asked one included */

enum method {
	M_NONE,
	M_LINK,
	M_PEER,
	M_MARK,
	M_SCAN,
	M_DELEGATE,
	M_ROUTE,
	M_SOCKET,
	M_COUNT
};

struct ipaddr {
	int		family;		/* AF_INET, AF_INET6, or 0 for none */
	unsigned char	a[16];
};

struct hop {
	char		name[IF_NAMESIZE];
	unsigned int	index;
	enum method	method;		/* how the next one was found */
};

struct answer {
	int		status;		/* an EXIT_* of exits.h */
	char		error[256];	/* why, when status is 2 or more */
	struct hop	chain[HOPS_MAX];
	int		nchain;		/* the last one is the answer */
	int		family;		/* of the route that answered */
	struct ipaddr	gateway;
	long long	table;		/* -1: no route table involved */
	int		hasmark;
	uint32_t	mark;
	char		note[256];	/* a remark for -v, or empty */
	char		warn[256];	/* why a fallback answered: stderr */
	char		socks[1024];	/* -v: sockets and routes, a line each */
};

struct query {
	const char	*name;
	int		family;		/* AF_INET, AF_INET6 or AF_UNSPEC */
	enum method	method;		/* only this one for the device asked */
	int		hasmark;
	uint32_t	mark;
	struct ipaddr	peer;
};

struct sys;

const char	*method_name(enum method);

/*
 * The system layer never exits: sys_open and sys_list return NULL,
 * sys_watch and sys_watch_read -1, sys_resolve an answer of EXIT_SYS, and
 * sys_error() says what failed.
 */
int		 sys_fail(int, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
const char	*sys_error(void);

struct sys	*sys_open(void);
void		 sys_close(struct sys *);
int		 sys_method(enum method);
void		 sys_refresh(struct sys *);
void		 sys_resolve(struct sys *, const struct query *,
		    struct answer *);
char		**sys_list(struct sys *, size_t *);
int		 sys_watch(struct sys *);
int		 sys_watch_read(struct sys *);

#endif
