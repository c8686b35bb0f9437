/* ISC license: see LICENSE. */
#ifndef TRUST_H
#define TRUST_H

#include <sys/types.h>

/* Who may talk to us: our uid and root always, and these. */
struct trust {
	uid_t		*uids;
	size_t		 nuids;
	gid_t		*gids;
	size_t		 ngids;
};

struct peer {
	uid_t		uid;
	gid_t		gid;
	pid_t		pid;		/* -1 where the system does not say */
};

void	etrust_add(struct trust *, const char *list, int groups);
int	trust_widened(const struct trust *);
void	trust_free(struct trust *);
int	peer_get(int, struct peer *);
int	peer_trusted(const struct peer *, const struct trust *);
const char *peer_str(const struct peer *);

#endif
