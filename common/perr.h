/* ISC license: see LICENSE. */
#ifndef PERR_H
#define PERR_H

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

struct frame;

void	perr_set(struct perr *, int code, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
void	perr_sys(struct perr *, const char *what);
int	perr_remote(struct perr *, const struct frame *);
void	perr_why(int, struct perr *);

#endif
