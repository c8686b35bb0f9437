/* ISC license: see LICENSE. */
#ifndef FD_H
#define FD_H

#include <sys/types.h>

#include <stddef.h>

/* The kinds of fd, as F_ENTRIES names them (fdproto(7)). */
enum fd_kind {
	FK_OTHER = 0,
	FK_STREAM = 1,		/* a connected or unconnected stream socket */
	FK_LISTEN = 2,		/* a listening socket */
	FK_DGRAM = 3,
	FK_SEQPACKET = 4,
	FK_FIFO = 5,
	FK_FILE = 6,
	FK_CHAR = 7,
	FK_DIR = 8,
	FK_BLOCK = 9
};

int		 fd_kind(int);
const char	*fd_kind_str(int);
int		 fd_cloexec(int, int on);
int		 fd_nonblock(int, int on);
void		 fds_close(const int *, size_t);
int		 fds_closed(const int *, size_t);
int		 fd_drain(int, void *, size_t,
		    int (*)(const void *, size_t, void *), void *);
ssize_t		 fd_readat(int, const char *, char *, size_t);

#endif
