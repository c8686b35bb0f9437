/* ISC license: see LICENSE. */
#ifndef LISTENERS_H
#define LISTENERS_H

#include <sys/types.h>
#include <sys/un.h>

enum lkind { L_TCP, L_UDP, L_UNIX };

/* A listening socket of a process: tcp:PORT, udp:PORT or unix:PATH. */
struct lsock {
	int		 fd;		/* its number in that process */
	int		 copy;		/* ours: the same, or a duplicate */
	enum lkind	 kind;
	unsigned	 port;
	char		 path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
};

/* What an operand tcp:PORT[=name], udp:PORT or unix:PATH selects. */
struct lsel {
	enum lkind	 kind;
	unsigned	 port;
	char		 path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
	const char	*name;
};

int	lsel_parse(const char *, struct lsel *);
int	lsel_match(const struct lsel *, const struct lsock *);
int	lsock_list(pid_t, int *pidfd, struct lsock **, size_t *);
char	*lsock_str(const struct lsock *, char *, size_t);

#endif
