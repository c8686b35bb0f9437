/* ISC license: see LICENSE. */
#ifndef PROTO_H
#define PROTO_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#include "deadline.h"

/*
 * The wire protocol, fdproto(7): frames of a 12-byte header and a payload,
 * the fds of a frame riding on its first byte.  Their bytes are written
 * and read in wire.c, the names of F_OFFER in proto.c (fdset_send,
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
	F_DELETE = 22		/* client to store: close an entry */
};

#define FF_MORE		0x0001	/* another F_OFFER of the same set follows */
#define FF_STATE	0x0002	/* F_LIST asks, F_ENTRIES has: entries' state */
#define FF_SINCE	0x0004	/* F_TAKE asks, F_HANDOFF has: a store's
				   records carry since (hrec_put) */

/* The codes of F_ERROR, so that a program can tell refusals apart. */
enum proto_code {
	PE_NONE = 0,
	PE_REFUSED = 1,		/* peer credentials not allowed */
	PE_PROTO = 2,		/* a malformed frame */
	PE_VERSION = 3,		/* a protocol version we do not speak */
	PE_TRUNC = 4,		/* fds lost in transit (MSG_CTRUNC) */
	PE_COUNT = 5,		/* not the number of fds the receiver wants */
	PE_LIMIT = 6,		/* a limit of the receiver reached */
	PE_BUSY = 7,		/* someone else is already being served */
	PE_NOENT = 8,		/* no such entry */
	PE_EXEC = 9,		/* the program cannot be executed */
	PE_SYS = 10,		/* a system call failed on the receiver */
	PE_EXIST = 11,		/* fdholder: an entry of that name exists */
	PE_KIND = 12		/* fdholder: the holder holds another kind */
};

/* What went wrong, to print and to tell the peer. */
struct perr {
	int		code;		/* enum proto_code; PE_SYS: see errnum */
	int		errnum;
	int		remote;		/* the peer said so in an F_ERROR */
	char		msg[256];
};

struct frame {
	uint8_t		 version;
	uint8_t		 type;
	uint16_t	 flags;
	uint32_t	 len;
	unsigned char	*data;		/* len bytes and a NUL */
	int		 nfds;
	int		 fds[PROTO_MAXFDS];
};

/* A set of fds and their names ("" for none), as offered and received. */
struct fdset {
	int		*fds;
	char		**names;
	size_t		 n;
	size_t		 cap;
};

/*
 * Frames waiting for a non-blocking socket to take them (outq_flush on
 * POLLOUT).  The fds of one frame at a time wait with it, to ride on its
 * first byte.
 */
struct outq {
	unsigned char	*p;
	size_t		 len;		/* bytes queued */
	size_t		 off;		/* of them sent */
	size_t		 cap;
	size_t		 fdat;		/* the byte the fds ride on */
	int		 nfds;		/* fds waiting for it */
	int		 owned;		/* copies of ours (outq_keep) */
	int		 fds[PROTO_MAXFDS];
};

int	frame_send(int, int type, int flags, const void *, size_t,
	    const int *fds, int nfds, const struct deadline *, struct perr *);
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

int	frame_step(int, struct frdec *, struct frame *, int flags,
	    struct perr *);
void	frdec_free(struct frdec *);
int	frame_recv(int, struct frame *, const struct deadline *,
	    struct perr *);
void	frame_free(struct frame *);
void	frame_error(int, const struct perr *, const struct deadline *);
void	perr_set(struct perr *, int code, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
void	perr_sys(struct perr *, const char *what);
int	perr_remote(struct perr *, const struct frame *);
void	perr_why(int, struct perr *);

int	fdset_add(struct fdset *, int fd, const char *name);
void	fdset_close(struct fdset *);
void	fdset_free(struct fdset *);
int	fdset_send(int, const struct fdset *, const struct deadline *,
	    struct perr *);
int	fdset_take(struct fdset *, struct frame *, struct perr *);
int	fdset_recv(int, struct fdset *, const struct deadline *,
	    struct perr *);
int	ack_send(int, uint32_t, const struct deadline *, struct perr *);
int	ack_recv(int, uint32_t, const struct deadline *, struct perr *);
int	done_recv(int, const struct deadline *, struct perr *);
int	raw_send(int, const struct fdset *, const struct deadline *,
	    struct perr *);
int	raw_recv(int, struct fdset *, const struct deadline *,
	    struct perr *);

int	outq_frame(struct outq *, int type, int flags, const void *, size_t,
	    const int *fds, int nfds, struct perr *);
int	outq_ack(struct outq *, uint32_t, struct perr *);
int	outq_error(struct outq *, const struct perr *);
int	outq_offer(struct outq *, const struct fdset *, size_t,
	    struct perr *);
int	outq_keep(struct outq *, struct perr *);
int	outq_flush(int, struct outq *, struct perr *);
int	outq_empty(const struct outq *);
void	outq_free(struct outq *);

int	name_valid(const char *, size_t);

/*
 * Room for the largest control message a peer may send.  Linux caps a
 * message at SCM_MAX_FD fds; the BSDs and macOS neither cap it as low nor
 * shrink cmsg_len on truncation, so reserve more there.
 */
#ifdef __linux__
#define CTL_FDS		PROTO_MAXFDS
#else
#define CTL_FDS		1024
#endif

union ctlbuf {
	struct cmsghdr	hdr;
	char		buf[CMSG_SPACE(CTL_FDS * sizeof(int))];
};

void	rights_put(struct msghdr *, union ctlbuf *, const int *, int);
int	take_fds(struct msghdr *, int *, int, struct perr *);

#endif
