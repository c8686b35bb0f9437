/* ISC license: see LICENSE. */
/*
 * fdholder host port: hold a TCP connection and copy it to standard output
 * (and, with -i, standard input to it), handing it over to a successor.
 *
 * On Linux the bytes move from the socket into a pipe and from the pipe to
 * standard output with splice(2); what sits in the pipe at a handoff moves
 * as the pipe itself.  Bytes in user memory (read from the pipe where
 * standard output takes no splice, or read from the socket where there is
 * no splice at all) go in the F_HANDOFF payload, and are written before
 * those in the pipe.
 *
 * Where each part lives: the data pump, with the O_APPEND writer
 * (relay_pump.c); the handoff to and from a successor (relay_handoff.c);
 * the service manager's fd store under -S (relay_sd.c); the start and the
 * loop (relay.c).
 */
#ifndef RELAY_H
#define RELAY_H

#include <sys/types.h>

#include <netdb.h>
#include <poll.h>

#include "fdholder.h"

struct buf {
	char		*p;
	size_t		 off;
	size_t		 len;
	size_t		 cap;
};

struct relay {
	struct ctl	*ctl;
	const char	*host;
	const char	*port;
	struct addrinfo	*res;		/* host port resolved, or NULL */
	int		 gai;		/* getaddrinfo's error, or 0 */
	int		 conn;
	int		 out;
	int		 in;		/* -1 without -i, or once done */
	int		 infd;		/* standard input, our own description */
	int		 pr, pw;	/* the pipe, or -1 */
	size_t		 inpipe;
	size_t		 pipecap;
	int		 pipefull;	/* wait for room, not for the socket */
	int		 splice_out;
	int		 appending;	/* O_APPEND file: peek, append, consume */
	int		 app;		/* the record of the last append, or -1 */
	int		 spr, spw;	/* the pipe a peek goes through, or -1 */
	char		*abuf;		/* one append, as large as the pipe */
	int		 stalled;	/* the output failed: try again at retry */
	struct deadline	 retry;
	struct buf	 ob;		/* for standard output, before the pipe */
	struct buf	 ib;		/* from standard input, for conn */
	int		 eof;		/* conn's peer closed it */
	int		 broke;		/* conn broke, here or before */
	int		 broke_before;	/* before the handoff to us */
	int		 shut;		/* conn's writing side is shut down */
	int		 cut;		/* our holder sent HF_CUT */
	int		 iflag;
	int		 Nflag;
	int		 Sflag;
	int		 sd;		/* -S: $NOTIFY_SOCKET, or -1 */
	int		 status;
	int		 outfl, infl;	/* flags to restore, or -1 */
	int		 outsock;	/* out is a socket: send, never splice */
	int		 insock;	/* in is a socket: recv */
	int		 pi_conn, pi_out, pi_in, pi_pw;
	int		 nhanded;	/* fds the handoff brought */
	int		 frozen;	/* conn in repair mode: an export runs */
	char *const	*import;	/* -X: the exporter's command, or NULL */
};
void	buf_init(struct buf *, size_t cap);
void	buf_set(struct buf *, const void *, size_t);
void	pipe_open(struct relay *);
void	pipe_close(struct relay *);
void	out_prepare(struct relay *);
int	data_pending(const struct relay *);
int	data_pollfds(struct relay *, struct pollfd *);
void	data_events(struct relay *, const struct pollfd *);

void	relay_handoff(struct relay *);
int	relay_take(void *, int);

int	sd_take(struct relay *);
void	sd_store(struct relay *);
void	sd_forget(struct relay *);

const struct addrinfo *eresolved(const struct relay *);

#endif
