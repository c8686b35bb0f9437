/* ISC license: see LICENSE. */
#ifndef SOCK_H
#define SOCK_H

#include <sys/types.h>

#include "addr.h"
#include "deadline.h"

/*
 * One end of the tools' conversations: a socket we listen on (and accept
 * peers from), or a connection (made, or inherited as fd:N).
 */
struct endpoint {
	struct addr	addr;
	int		lfd;		/* listening socket, or -1 */
	int		cfd;		/* connection not yet handed out, or -1 */
	int		created;	/* we bound addr's path: remove it */
	dev_t		dev;
	ino_t		ino;
};

int	ep_listen(struct endpoint *, const struct addr *, int shared,
	    const struct deadline *);
const char *ep_error(void);
int	ep_connect(struct endpoint *, const struct addr *,
	    const struct deadline *);
int	ep_connect_now(struct endpoint *, const struct addr *,
	    const struct deadline *);
int	ep_next(struct endpoint *, const struct deadline *);
void	ep_close(struct endpoint *);
void	ep_unlink_on_signal(struct endpoint *);

int	sock_open(int, int, int);
int	sock_accept(int, const struct deadline *);
int	sock_connect(int, const struct sockaddr *, socklen_t,
	    const struct deadline *);

#endif
