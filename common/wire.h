/* ISC license: see LICENSE. */
#ifndef WIRE_H
#define WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"

/*
 * The bytes of fdproto(7)'s frames, each encoded (put) and decoded (get)
 * here and nowhere else: the header, F_ACK, F_ERROR, and fdholder's
 * F_TAKE, F_HANDOFF, F_STORE, F_FETCH, F_LIST, F_ENTRIES, F_DELETE.
 * F_OFFER's names are the fdset's, in offer.c.  Numbers are big endian.
 */

/* What a holder holds: the first byte of F_TAKE and of F_HANDOFF. */
#define HOLD_CONN	1	/* a connection and the bytes in flight */
#define HOLD_STORE	2	/* named entries of fds */

/* The flags byte of F_HANDOFF. */
#define HF_EOF		0x01	/* the connection's peer closed it */
#define HF_SHUT		0x02	/* its writing side is shut down */
#define HF_PIPE		0x04	/* two more fds: a pipe's read and write end */
#define HF_CUT		0x08	/* a late F_ACK is cut off, never lost: the
				   successor owns everything once its F_ACK
				   is sent (ctl_can_cut) */
#define HF_APPEND	0x10	/* one more fd: the record of the last append
				   to an O_APPEND output (a regular file) */
#define HF_BROKE	0x20	/* the connection broke (reset, timed out):
				   the holder that ends it exits 111 */

/* The flags byte of F_FETCH. */
#define FETCH_REMOVE	0x01	/* remove the entry once the client has it */

/* The state byte of an entry in F_ENTRIES, with FF_STATE. */
#define ENTRY_RESERVED	0x01	/* a take (FETCH_REMOVE) of it is under way */

/* An entry's lifetime that never ends, in F_STORE and F_ENTRIES. */
#define HOLD_FOREVER	UINT32_MAX

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
int		 rb_end(const struct rbuf *);

/* The 12-byte header. */
struct hdr {
	int		magic;		/* 'F' 'D' */
	uint8_t		version;
	uint8_t		type;
	uint16_t	nfds;
	uint16_t	flags;
	uint32_t	len;
};

void	hdr_put(unsigned char[PROTO_HDRLEN], int type, int flags, size_t len,
	    int nfds);
void	hdr_get(const unsigned char[PROTO_HDRLEN], struct hdr *);

#define ACK_LEN	4
void	ack_put(unsigned char[ACK_LEN], uint32_t count);
int	ack_get(const struct frame *, uint32_t *count);

size_t	error_put(unsigned char *, int code, const char *msg);
int	error_get(const struct frame *, int *code, const char **msg,
	    int *msglen);

/* fdholder's requests; each get is 0, or -1 for a malformed payload. */
void	take_put(struct wbuf *, int kind);
int	take_get(struct rbuf *, int *kind);
void	store_put(struct wbuf *, const char *name, uint32_t ttl);
int	store_get(struct rbuf *, char name[PROTO_NAMEMAX + 1], uint32_t *ttl);
void	fetch_put(struct wbuf *, int flags, const char *name);
int	fetch_get(struct rbuf *, int *flags, char name[PROTO_NAMEMAX + 1]);
int	list_get(struct rbuf *);
void	delete_put(struct wbuf *, const char *name);
int	delete_get(struct rbuf *, char name[PROTO_NAMEMAX + 1]);

/*
 * One entry of F_ENTRIES: name, uid, age, time left, the kinds of its fds,
 * and with FF_STATE its state byte.  entry_put writes the kinds of the
 * fds it is given (kinds is not read) and the state byte unless reserved
 * is -1.
 */
struct wentry {
	char			 name[PROTO_NAMEMAX + 1];
	uint32_t		 uid;
	uint32_t		 age;
	uint32_t		 ttl;
	unsigned		 nfds;
	const unsigned char	*kinds;		/* nfds of them */
	int			 reserved;	/* -1: the store did not say */
};

void	entry_put(struct wbuf *, const struct wentry *, const int *fds);
int	entry_get(struct rbuf *, int state, struct wentry *);

/*
 * The payload of F_HANDOFF: what it holds, flags, the control socket's
 * dev and ino, then for HOLD_CONN the bytes in flight (out, then in), for
 * HOLD_STORE a count of records that follow (hrec_put), then the names
 * of the frame's fds.
 */
struct handoff {
	int			 kind;
	int			 flags;
	uint64_t		 dev;
	uint64_t		 ino;
	const void		*ob;
	uint32_t		 olen;
	const void		*ib;
	uint32_t		 ilen;
	unsigned		 nrecs;
};

/*
 * One entry of a store's F_HANDOFF, riding with its first fd.  Its life
 * crosses as it is kept: since when, in ms of CLOCK_MONOTONIC (one clock
 * for every process of the host), and for how many seconds from then.
 * Without FF_SINCE (a holder or successor older than it) the record says
 * whole seconds of age and of time left instead.
 */
struct hrec {
	char		name[PROTO_NAMEMAX + 1];
	uint32_t	uid;
	uint32_t	gid;
	int64_t		since;
	uint32_t	ttl;
	uint32_t	nfds;
};

void	handoff_put(struct wbuf *, const struct handoff *);
int	handoff_get(struct rbuf *, struct handoff *);
void	hrec_put(struct wbuf *, const struct hrec *, int since, int64_t now);
int	hrec_get(struct rbuf *, struct hrec *, int since, int64_t now);

#endif
