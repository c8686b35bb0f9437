/* ISC license: see LICENSE. */
#ifndef FDHOLDER_H
#define FDHOLDER_H

#include <poll.h>

#include "addr.h"
#include "deadline.h"
#include "fd.h"
#include "proto.h"
#include "sock.h"
#include "trust.h"
#include "util.h"

/* What a peer may ask of us; -u and -g grant them by uid and gid. */
enum op {
	OP_TAKE,		/* take over as our successor */
	OP_STORE,
	OP_RETRIEVE,
	OP_LIST,
	OP_DELETE,
	OP_N
};

/*
 * The control socket: where successors take over from us, and where the
 * store's clients talk to it.  One successor at a time.
 */
struct ctl {
	struct endpoint	 ep;
	struct trust	*rights;	/* OP_N of them */
	int		 tms;		/* -t: the bound of each step, ms */
	int		 kind;		/* HOLD_CONN or HOLD_STORE */
	int		 succ;		/* the successor's connection, or -1 */
	int		 state;		/* CS_* */
	struct deadline	 until;		/* of the successor's current step */
	struct peer	 peer;		/* the successor */
	int		 created;	/* ep.created, while a handoff runs */
	size_t		 nsent;		/* fds sent, for the F_ACK */
	int		 exporting;	/* the state went to an exporter
					   (F_STATE): the path stays ours */
	int		 pi_l, pi_s;	/* their places in the poll array */
	int		 spare;		/* given up to accept at the fd limit */
	struct deadline	 pause;		/* no spare: accept nothing until */
	struct loglimit	 limitlog;	/* what ctl_accept refused */
	struct loglimit	 trustlog;
	struct frdec	 in;		/* the successor's frame, as it comes */
};

/* Rounds of asking a live holder, or claiming the socket, before we give up. */
#define CTL_TRIES	8

enum {
	CS_IDLE,		/* nobody is taking over */
	CS_ASKING,		/* a successor connected: wait for F_TAKE */
	CS_SENT			/* F_HANDOFF sent: wait for F_ACK */
};

/* What ctl_events saw. */
enum {
	CTL_NONE,
	CTL_TAKE,		/* send the successor our state, then ctl_sent */
	CTL_EXPORT,		/* freeze, send the exporter our state, then
				   ctl_exported */
	CTL_COMMIT,		/* it confirmed: close everything, exit 0 */
	CTL_RESUME		/* it went away before confirming: go on */
};


const char	*op_name(int);
int		 op_parse(const char *);

void	ctl_init(struct ctl *, const struct addr *, int kind,
	    struct trust *, int tms);
int	ctl_listen(struct ctl *);
int	ctl_start(struct ctl *, int (*)(void *, int), void *);
void	ctl_claim(struct ctl *);
void	ctl_foreign(struct ctl *, const struct perr *) __dead2;
int	ctl_ask(struct ctl *);
int	ctl_confirm(struct ctl *, int, size_t, int);
int	ctl_can_cut(void);
void	ctl_adopt(struct ctl *, int lfd, uint64_t dev, uint64_t ino);
void	ctl_path_id(const struct ctl *, uint64_t *dev, uint64_t *ino);
int	ctl_pollfds(struct ctl *, struct pollfd *, int n, int listening);
int	ctl_timeout(const struct ctl *);
int	ctl_events(struct ctl *, const struct pollfd *);
int	ctl_begin(struct ctl *, int, const struct peer *);
void	ctl_sent(struct ctl *, size_t nfds);
void	ctl_exported(struct ctl *);
void	ctl_drop(struct ctl *, const struct perr *);
void	ctl_commit(struct ctl *);
int	ctl_accept(struct ctl *, struct peer *);
int	ctl_accepting(const struct ctl *);
void	ctl_refuse(int, int code, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

void	relay_run(struct ctl *, const char *host, const char *port,
	    int iflag, int Nflag, int Sflag) __dead2;
void	relay_import(struct ctl *, char *const cmd[], int iflag, int Nflag)
	    __dead2;
void	export_run(struct ctl *) __dead2;
void	store_run(struct ctl *, size_t maxentries, size_t maxfds, int Sflag)
	    __dead2;

#endif
