/* ISC license: see LICENSE. */
#ifndef SANDBOX_H
#define SANDBOX_H

/*
 * Least privilege once a tool has set itself up: no new privileges
 * through exec, and a seccomp filter that lets through only the system
 * calls of the job at hand.  A call outside the filter fails with EPERM;
 * it does not kill the process, which may be holding a connection.
 * Where the platform has no seccomp, sandbox() only does what it can.
 */

/* What a sandboxed process may still do, besides memory, time, signals,
 * exiting, and reading, writing, polling and closing the fds it has. */
#define SB_SOCKETS	0x01	/* accept, send and receive (with fds), peer
				   credentials, shutdown on sockets it has */
#define SB_SPLICE	0x02	/* splice(2) and tee(2) between the fds it
				   has; pwrite and ftruncate of them */
#define SB_UNLINK	0x04	/* stat and remove a path (its own socket) */
#define SB_NETLINK	0x08	/* open and bind netlink sockets, name
				   interfaces (if_indextoname) */
#define SB_FDSTORE	0x10	/* socketpair and pipe: fdholder -S keeps
				   entries in systemd's fd store */
#define SB_DEFER	0x20	/* cpu_defer(): its own policy, normal or
				   batch, and no other */

/* The filters there are, one per job, built with the tools by
 * common/gen/sbgen.c: sandbox() of another set fails with EINVAL. */
#define SB_RELAY	(SB_SOCKETS | SB_SPLICE | SB_UNLINK | SB_DEFER)
#define SB_STORE	(SB_SOCKETS | SB_UNLINK | SB_DEFER)
#define SB_STORE_SD	(SB_STORE | SB_FDSTORE)
#define SB_EFFIF	(SB_NETLINK)
#define SB_FILTERS	{ SB_RELAY, SB_STORE, SB_STORE_SD, SB_EFFIF }

int	no_new_privs(void);
int	sandbox(unsigned);
int	sandbox_prepare(unsigned);
int	sandbox_enter(void);

#endif
