/* ISC license: see LICENSE. */
#ifndef FRAME_H
#define FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "deadline.h"
#include "perr.h"

/*
 * The wire protocol, fdproto(7): frames of a 12-byte header and a payload,
 * the fds of a frame riding on its first byte.  Their bytes are written
 * and read in wire.c, the names of F_OFFER in offer.c (fdset_send,
 * fdset_take); here, how frames go over a socket.
 *
 *	0	'F' 'D'		magic
 *	2	version		PROTO_VERSION
 *	3	type		enum frame_type
 *	4	nfds		fds attached, 0..PROTO_MAXFDS (big endian)
 *	6	flags		FF_* (big endian)
 *	8	length		of the payload, 0..PROTO_MAXLEN (big endian)
 */
#define PROTO_VERSION	1
#define PROTO_HDRLEN	12
#define PROTO_MAXFDS	253		/* SCM_MAX_FD on Linux */
#define PROTO_MAXLEN	(1 << 20)
#define PROTO_NAMEMAX	255

enum frame_type {
	F_OFFER = 1,		/* fds and their names */
	F_ACK = 2,		/* the fds are held: u32 count */
	F_ERROR = 3,		/* u16 code, then text */
	/* fdholder, fdproto(7) */
	F_TAKE = 16,		/* successor to holder: hand me what you hold */
	F_HANDOFF = 17,		/* holder to successor: its state and fds */
	F_STORE = 18,		/* client to store: keep the offer that follows */
	F_FETCH = 19,		/* client to store: send me an entry */
	F_LIST = 20,		/* client to store: what do you hold? */
	F_ENTRIES = 21,		/* store to client: the answer to F_LIST */
	F_DELETE = 22,		/* client to store: close an entry */
	F_EXPORT = 23,		/* exporter to holder: freeze, send your state */
	F_STATE = 24		/* holder to exporter to importer: that state */
};

#define FF_MORE		0x0001	/* another F_OFFER of the same set follows */
#define FF_STATE	0x0002	/* F_LIST asks, F_ENTRIES has: entries' state */
#define FF_SINCE	0x0004	/* F_TAKE asks, F_HANDOFF has: a store's
				   records carry since (hrec_put) */

struct frame {
	uint8_t		 version;
	uint8_t		 type;
	uint16_t	 flags;
	uint32_t	 len;
	unsigned char	*data;		/* len bytes and a NUL */
	int		 nfds;
	int		 fds[PROTO_MAXFDS];
};

/*
 * A frame to send (frame_send, outq_frame): its header's type and flags,
 * len bytes of payload, and the fds that ride on its first byte.
 */
struct frout {
	int		 type;
	int		 flags;
	const void	*data;
	size_t		 len;
	const int	*fds;
	int		 nfds;
};

/*
 * A frame being decoded as its bytes come (frame_step), on a socket that
 * others share a poll loop with; zeroed, it is empty.
 */
struct frdec {
	struct frame	 f;		/* what came so far */
	unsigned char	 hdr[PROTO_HDRLEN];
	size_t		 got;		/* bytes of the frame read */
	int		 want;		/* fds its header announces */
	int		 ctrunc;	/* the kernel cut fds (MSG_CTRUNC) */
};

#define FRAME_AGAIN	(-2)	/* frame_step: the rest has not come yet */

int	frame_send(int, const struct frout *, const struct deadline *,
	    struct perr *);
int	frame_step(int, struct frdec *, struct frame *, struct perr *);
void	frdec_free(struct frdec *);
int	frame_recv(int, struct frame *, const struct deadline *,
	    struct perr *);
void	frame_free(struct frame *);
void	frame_error(int, const struct perr *, const struct deadline *);

#endif
