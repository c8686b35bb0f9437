/* ISC license: see LICENSE. */
#ifndef ADDR_H
#define ADDR_H

#include <sys/socket.h>
#include <sys/un.h>

enum addr_kind {
	ADDR_PATH,		/* a socket in the file system */
	ADDR_ABSTRACT,		/* @name: a Linux abstract socket */
	ADDR_FD			/* fd:N: a socket we inherited */
};

struct addr {
	enum addr_kind		kind;
	const char		*str;	/* as the user wrote it, for messages */
	struct sockaddr_un	sun;
	socklen_t		len;
	int			fd;
};

int	addr_parse(struct addr *, const char *);
void	eaddr_parse(struct addr *, const char *);

#endif
