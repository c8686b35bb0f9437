/* ISC license: see LICENSE. */
/*
 * The store: named entries of fds that clients (fdsend -n, fdrecv -n)
 * store, retrieve, list and delete, as fdproto(7) says, handed whole to a
 * successor like the connection of relay.c.
 *
 * One process, one poll loop, and nothing in it waits for one client: a
 * request is read as its bytes come (frame_step) and served once whole,
 * and every reply goes into the client's queue (struct outq), sent as its
 * socket takes it.  A long reply, a list or an entry of many fds, is made
 * a frame at a time, the next once the last is out, so that a client that
 * does not read costs about one frame.  Each client has -t seconds for
 * each step, then is dropped: a slow or hostile client holds up nobody.
 *
 * A fetch with removal reserves its entry from the first frame until the
 * outcome: after the client's F_ACK, the end of its connection with no
 * other frame means its program runs (the connection was close-on-exec),
 * and the entry goes; an F_ERROR, or -t, and the entry stays.  Meanwhile
 * nobody else can take it.  A successor waits for every reservation to
 * end, so that each entry ends up in exactly one place.
 *
 * Where each part lives: the entries (store_entry.c) and when they expire
 * (store_due.c), the clients and
 * their requests (store_client.c), the store's own handoff to a successor
 * (store_handoff.c), the loop that polls them all (store_loop.c).
 */
#ifndef STORE_H
#define STORE_H

#include <sys/types.h>

#include <stdint.h>

#include "fdholder.h"
#include "sdstore.h"

#define MAXCLIENTS	32		/* served at once; the rest wait */
#define UIDSLOTS(n)	((n) / 4 > 0 ? (n) / 4 : 1)	/* one uid's share */
#define IDLE_MS		1000		/* for a whole request, if -t is more */
#define ENTRYMAXFDS	65535		/* F_ENTRIES counts them in 16 bits */
#define LISTFRAME	65536		/* bytes of entries in an F_ENTRIES */
#define TURN		4		/* frames made for a client per turn */
#define FAREWELL_MS	1000		/* for a last error to go out */
#define FDMARGIN	4		/* fds opened for a moment (-S, notify) */

/* An entry: as small as it can be, as a store may hold many (-E). */
struct entry {
	uid_t		 uid;		/* who stored it */
	gid_t		 gid;
	int64_t		 since;		/* ms, CLOCK_MONOTONIC */
	uint32_t	 ttl;		/* seconds, or HOLD_FOREVER */
	int		 taken;		/* reserved by a fetch with removal */
	uint64_t	 gen;		/* tells a replaced entry apart */
	size_t		 duei;		/* its place in the store's due */
	char		*sd;		/* its name in the fd store (-S), or NULL */
	struct fdset	 set;
	char		 name[];
};

enum {
	CL_REQ,			/* waiting for a request */
	CL_OFFER,		/* F_STORE read: receiving its offer */
	CL_SEND,		/* replying: its queue, then state then */
	CL_CONFIRM,		/* entry sent for removal: waiting for F_ACK */
	CL_OUTCOME,		/* F_ACK read: waiting for end of file */
	CL_GONE			/* then: hang up */
};

/* What fills the queue of a client in CL_SEND each time it drained. */
enum {
	FILL_NONE,
	FILL_LIST,		/* the entries after name */
	FILL_OFFER		/* the fds of entry name (gen) from nsent on */
};

struct client {
	int		 fd;
	int		 state;
	int		 fill;		/* CL_SEND: FILL_* */
	int		 then;		/* CL_SEND: the state once all is out */
	int		 reserved;	/* entry name (gen) is ours to take */
	int		 rflags;	/* of the request being served */
	int		 liststate;	/* FILL_LIST: with FF_STATE */
	struct peer	 peer;
	struct deadline	 until;		/* of the current step */
	struct outq	 q;		/* what we said and it did not read */
	struct fdset	 set;		/* CL_OFFER: what came so far */
	char		 name[PROTO_NAMEMAX + 1];
	uint32_t	 ttl;
	uint64_t	 gen;		/* of the entry sent */
	size_t		 nsent;		/* of its fds */
	int		 pi;		/* its place in the poll array */
	struct frdec	 in;		/* the frame coming from it */
};

struct store {
	struct ctl	*ctl;
	struct entry	**ent;		/* sorted by name */
	size_t		 nentries;
	size_t		 capentries;
	struct entry	**due;		/* those that expire, a heap by when */
	size_t		 ndue;
	size_t		 capdue;
	size_t		 nfds;		/* held in all entries */
	size_t		 maxentries;
	size_t		 maxfds;
	size_t		 nreserved;	/* clients holding an entry */
	uint64_t	 gen;
	int		 since;		/* the successor asked FF_SINCE */
	int		 deferring;	/* cpu_defer(1): a taker's program starts */
	struct client	 cl[MAXCLIENTS];
	int		 ncl;
	int		 maxcl;		/* slots, MAXCLIENTS unless fds are few */
	size_t		 rlim;		/* RLIMIT_NOFILE, if it set maxfds */
	struct loglimit	 idlelog;	/* dropped for no request */
	struct loglimit	 uidlog;	/* refused for the uid's share */
};
int64_t	now_ms(void);

size_t	entry_at(const struct store *, const char *);
struct entry *entry_find(struct store *, const char *);
struct entry *entry_sent(struct store *, const struct client *);
struct entry *entry_add(struct store *, const char *, const struct peer *,
	    int64_t since, uint32_t ttl, struct fdset *);
void	entry_remove(struct store *, struct entry *);
int	entry_keep(struct entry *, struct perr *);
int	entry_restored(void *, const struct sdmeta *, struct fdset *);
int	entry_expire(struct store *);
uint32_t entry_age(const struct entry *, int64_t now);
uint32_t entry_ttl(const struct entry *, int64_t now);
void	store_clear(struct store *);

int	due_add(struct store *, struct entry *);
void	due_remove(struct store *, struct entry *);
struct entry *due_next(const struct store *);

void	client_next(struct store *, struct client *);
void	client_send(struct store *, struct client *, int fill, int then);
void	client_release(struct store *, struct client *, int took);
void	client_fail(struct store *, int, const struct perr *);
void	client_close(struct store *, int);
int	client_polled(const struct store *, const struct client *);
void	client_event(struct store *, int, int ev);
void	clients_accept(struct store *);

int	req_room(struct store *, int, struct perr *);
int	req_offer(struct store *, int, struct frame *, struct perr *);
int	req_confirm(struct store *, int, struct frame *, struct perr *);
int	req_serve(struct store *, int, const struct frame *, struct perr *);
void	req_outcome(struct store *, int, int rc, const struct frame *);

void	store_start(struct store *);
void	handoff_send(struct store *);

#endif
