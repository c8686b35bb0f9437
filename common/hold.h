/* ISC license: see LICENSE. */
#ifndef HOLD_H
#define HOLD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "addr.h"
#include "deadline.h"
#include "proto.h"

/*
 * fdholder's part of the protocol, fdproto(7): a successor taking over a
 * holder (F_TAKE, F_HANDOFF, F_ACK), and the requests of the store's
 * clients (F_STORE, F_FETCH, F_LIST, F_DELETE).
 */

/* What a holder holds: the first byte of F_TAKE and of F_HANDOFF. */
#define HOLD_CONN	1	/* a connection and the bytes in flight */
#define HOLD_STORE	2	/* named entries of fds */

/* The flags byte of F_HANDOFF. */
#define HF_EOF		0x01	/* the connection's peer closed it */
#define HF_SHUT		0x02	/* its writing side is shut down */
#define HF_PIPE		0x04	/* two more fds: a pipe's read and write end */

/* The flags byte of F_FETCH. */
#define FETCH_REMOVE	0x01	/* remove the entry once the client has it */

/* The state byte of an entry in F_ENTRIES, with FF_STATE. */
#define ENTRY_RESERVED	0x01	/* a take (FETCH_REMOVE) of it is under way */

/* An entry's lifetime that never ends, in F_STORE and F_ENTRIES. */
#define HOLD_FOREVER	UINT32_MAX

/* The kinds of fd that F_ENTRIES names. */
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

/* A payload being built: big endian numbers, names with a length byte. */
struct wbuf {
	unsigned char	*p;
	size_t		 len;
	size_t		 cap;
	int		 oom;
};

/* A payload being read; bad is set once it was short or malformed. */
struct rbuf {
	const unsigned char	*p;
	size_t			 len;
	size_t			 off;
	int			 bad;
};

void		 wb_u8(struct wbuf *, unsigned);
void		 wb_u16(struct wbuf *, unsigned);
void		 wb_u32(struct wbuf *, uint32_t);
void		 wb_u64(struct wbuf *, uint64_t);
void		 wb_bytes(struct wbuf *, const void *, size_t);
void		 wb_name(struct wbuf *, const char *);
void		 wb_free(struct wbuf *);

void		 rb_init(struct rbuf *, const void *, size_t);
unsigned	 rb_u8(struct rbuf *);
unsigned	 rb_u16(struct rbuf *);
uint32_t	 rb_u32(struct rbuf *);
uint64_t	 rb_u64(struct rbuf *);
const void	*rb_bytes(struct rbuf *, size_t);
int		 rb_name(struct rbuf *, char name[PROTO_NAMEMAX + 1]);

int		 fd_kind(int);
const char	*fd_kind_str(int);

struct trust;
int	hold_connect(const struct addr *, const struct trust *,
	    const struct deadline *, struct perr *);
int	hold_store(int, const char *, uint32_t ttl, const struct fdset *,
	    const struct deadline *, struct perr *);
int	hold_fetch(int, const char *, int flags, struct fdset *,
	    const struct deadline *, struct perr *);
int	hold_confirm(int, size_t, const struct deadline *, struct perr *);
int	hold_list(int, FILE *, int json, const struct deadline *,
	    struct perr *);
int	hold_delete(int, const char *, const struct deadline *,
	    struct perr *);

#endif
