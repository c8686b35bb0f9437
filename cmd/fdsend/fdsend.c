/*
 * fdsend: send open fds of ours to a receiver over a UNIX socket.
 */
#include <sys/types.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "deadline.h"
#include "exits.h"
#include "fdmap.h"
#include "hold.h"
#include "notify.h"
#include "pidfd.h"
#include "proto.h"
#include "sandbox.h"
#include "sock.h"
#include "util.h"

static void __dead2
usage(void)
{
	fprintf(stderr, "usage: %s [-lr] [-g group] [-p pid] [-t seconds] "
	    "[-u user] socket fd[=name] ...\n"
	    "       %s -n name [-e seconds] [-g group] [-p pid] [-t seconds] "
	    "[-u user] socket fd[=name] ...\n"
	    "       %s -N [-p pid] [-t seconds] fd[=name] ...\n"
	    "       %s -N -d [-t seconds] name ...\n",
	    getprogname(), getprogname(), getprogname(), getprogname());
	exit(EXIT_USAGE);
}

/* The fd to send for the operand fd: ours, or a copy of process pid's. */
static int
source_fd(int fd, pid_t pid, int *pidfd)
{
	int copy;

	if (pid == 0) {
		if (fcntl(fd, F_GETFD) == -1)
			err(EXIT_USAGE, "fd %d", fd);
		return fd;
	}
	if ((copy = pidfd_take(pid, fd, pidfd)) != -1)
		return copy;
	if (errno == ESRCH)
		errx(EXIT_USAGE, "pid %ld: %s", (long)pid, strerror(ESRCH));
	if (errno == EBADF)
		err(EXIT_USAGE, "pid %ld: fd %d", (long)pid, fd);
	if (errno == EPERM)
		errx(EXIT_REFUSED, "pid %ld: fd %d: %s (%s)", (long)pid, fd,
		    strerror(EPERM), ptrace_hint());
	if (errno == ENOSYS)
		errx(EXIT_SYS, "pidfd_getfd: %s (Linux 5.6 or later, "
		    "and no seccomp filter against it)", strerror(ENOSYS));
	err(EXIT_SYS, "pid %ld: fd %d", (long)pid, fd);
}

/*
 * -N: store the set in the service manager's fd store, the fds of one name
 * in messages of at most PROTO_MAXFDS, then wait on a barrier until it has
 * taken them all.  With dflag, the operands are names to remove instead.
 */
static void
notify_store(const struct fdset *set, char **names, int n, int dflag,
    const struct deadline *dl)
{
	char state[64 + PROTO_NAMEMAX];
	struct perr pe;
	size_t i, k;
	int s;

	if ((s = notify_open(&pe)) == -1)
		errx(EXIT_USAGE, "%s", pe.msg);
	for (i = 0; dflag && i < (size_t)n; i++) {
		snprintf(state, sizeof(state), "FDSTOREREMOVE=1\nFDNAME=%s",
		    names[i]);
		if (notify_send(s, state, NULL, 0, dl, &pe) == -1)
			errx(exit_for(&pe), "%s", pe.msg);
	}
	for (i = 0; !dflag && i < set->n; i += k) {
		for (k = 1; i + k < set->n && k < PROTO_MAXFDS &&
		    strcmp(set->names[i], set->names[i + k]) == 0; k++)
			;
		if (*set->names[i] != '\0')
			snprintf(state, sizeof(state), "FDSTORE=1\nFDNAME=%s",
			    set->names[i]);
		else
			strlcpy(state, "FDSTORE=1", sizeof(state));
		if (notify_send(s, state, set->fds + i, k, dl, &pe) == -1)
			errx(exit_for(&pe), "%s", pe.msg);
	}
	if (notify_barrier(s, dl, &pe) == -1)
		errx(exit_for(&pe), "%s", pe.msg);
	close(s);
}

/*
 * Offer the set to one receiver and wait for its confirmation.  Returns 0
 * when it holds the fds, -1 with pe set.  Whether its program runs is
 * done_recv's to learn.
 */
static int
offer(int s, const struct fdset *set, int rflag, const struct deadline *dl,
    struct perr *pe)
{
	if (rflag)
		return raw_send(s, set, dl, pe);
	if (fdset_send(s, set, dl, pe) == -1) {
		perr_why(s, pe);
		return -1;
	}
	return ack_recv(s, set->n, dl, pe);
}

/*
 * The receiver confirmed: wait until it closes the connection, which its
 * exec does, or tells us that its program did not run.  Our fds are still
 * ours either way; a failure exits.
 */
static void
wait_exec(int s, const struct addr *a, const struct deadline *dl)
{
	struct perr pe;

	if (done_recv(s, dl, &pe) == 0)
		return;
	if (pe.remote)
		errx(exit_for(&pe), "%s: receiver's program did not run: %s",
		    a->str, pe.msg);
	if (pe.errnum == ETIMEDOUT)
		errx(EXIT_TIMEOUT, "%s: timed out waiting for the receiver's "
		    "program to start", a->str);
	errx(exit_for(&pe), "%s: after confirming: %s", a->str, pe.msg);
}

int
main(int argc, char *argv[])
{
	struct trust trust = { 0 };
	struct fdset set = { 0 };
	struct endpoint ep;
	struct deadline dl;
	struct addr addr;
	struct peer peer;
	struct perr pe;
	const char *errstr, *name, *nflag = NULL, *tflag = NULL;
	uint32_t ttl = HOLD_FOREVER;
	int ch, fd, i, s, dflag = 0, lflag = 0, Nflag = 0, rflag = 0;
	int pidfd = -1;
	pid_t pid = 0;

	/* It runs no program: it need never gain privileges. */
	(void)no_new_privs();
	while ((ch = getopt(argc, argv, "de:g:ln:Np:rt:u:")) != -1) {
		switch (ch) {
		case 'e':
			ttl = strtonum(optarg, 1, HOLD_FOREVER - 1, &errstr);
			if (errstr != NULL)
				errx(EXIT_USAGE, "expiry %s: %s", errstr,
				    optarg);
			break;
		case 'n':
			nflag = optarg;
			break;
		case 'd':
			dflag = 1;
			break;
		case 'N':
			Nflag = 1;
			break;
		case 'p':
			pid = strtonum(optarg, 1, INT_MAX, &errstr);
			if (errstr != NULL)
				errx(EXIT_USAGE, "pid %s: %s", errstr, optarg);
			break;
		case 'g':
			trust_add(&trust, optarg, 1);
			break;
		case 'l':
			lflag = 1;
			break;
		case 'r':
			rflag = 1;
			break;
		case 't':
			tflag = optarg;
			break;
		case 'u':
			trust_add(&trust, optarg, 0);
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (Nflag) {
		/* No socket operand: the operands start at argv[0]. */
		argc++;
		argv--;
	}
	if (argc < 2 || (dflag && (!Nflag || pid != 0)) ||
	    (Nflag && (lflag || rflag || trust_widened(&trust))) ||
	    (nflag != NULL && (Nflag || lflag || rflag)) ||
	    (ttl != HOLD_FOREVER && nflag == NULL))
		usage();
	if (nflag != NULL && (*nflag == '\0' ||
	    !name_valid(nflag, strlen(nflag))))
		errx(EXIT_USAGE, "invalid entry name: %s", nflag);
	if (pid != 0 && !pidfd_can())
		errx(EXIT_USAGE, "-p: taking another process's fd needs "
		    "pidfd_getfd(2): Linux only");
	deadline_set(&dl, tflag);
	if (dflag) {
		for (i = 1; i < argc; i++)
			if (*argv[i] == '\0' || !name_valid(argv[i],
			    strlen(argv[i])))
				errx(EXIT_USAGE, "invalid name: %s", argv[i]);
		notify_store(&set, argv + 1, argc - 1, 1, &dl);
		return EXIT_OK;
	}

	for (i = 1; i < argc; i++) {
		if (fdspec_parse(argv[i], &fd, &name) == -1)
			errx(EXIT_USAGE, "invalid fd[=name]: %s", argv[i]);
		if (rflag && *name != '\0')
			errx(EXIT_USAGE, "raw mode sends no names: %s",
			    argv[i]);
		if (fdset_add(&set, source_fd(fd, pid, &pidfd), name) == -1)
			err(EXIT_SYS, "malloc");
	}
	if (pidfd != -1)
		close(pidfd);
	if (Nflag) {
		notify_store(&set, NULL, 0, 0, &dl);
		fdset_free(&set);
		return EXIT_OK;
	}
	addr_must(&addr, argv[0]);

	if (lflag) {
		ep_unlink_on_signal(&ep);
		if (ep_listen(&ep, &addr, trust_widened(&trust), &dl) == -1)
			errx(errno == ETIMEDOUT ? EXIT_TIMEOUT : EXIT_SYS,
			    "listen %s", ep_error());
	} else if ((nflag != NULL ? ep_connect_now(&ep, &addr, &dl) :
	    ep_connect(&ep, &addr, &dl)) == -1) {
		if (errno == ETIMEDOUT)
			errx(EXIT_TIMEOUT, "connect %s: timed out", addr.str);
		err(EXIT_SYS, "connect %s", addr.str);
	}

	for (;;) {
		if ((s = ep_next(&ep, &dl)) == -1) {
			ep_close(&ep);
			if (errno == ETIMEDOUT)
				errx(EXIT_TIMEOUT, "%s: timed out waiting for "
				    "a receiver", addr.str);
			err(EXIT_SYS, "accept %s", addr.str);
		}
		if (peer_get(s, &peer) == -1) {
			ep_close(&ep);
			err(EXIT_SYS, "%s: peer credentials", addr.str);
		}
		if (!peer_trusted(&peer, &trust)) {
			perr_set(&pe, PE_REFUSED, "uid %u not allowed by the "
			    "sender", (unsigned)peer.uid);
			if (!rflag)
				frame_error(s, &pe, &dl);
			close(s);
			warnx("%s: refused receiver %s", addr.str,
			    peer_str(&peer));
			if (ep.lfd != -1)
				continue;
			ep_close(&ep);
			return EXIT_REFUSED;
		}
		if (nflag != NULL) {
			if (hold_store(s, nflag, ttl, &set, &dl, &pe) == 0)
				break;
			ep_close(&ep);
			errx(exit_for(&pe), "%s: %s", addr.str, pe.msg);
		}
		if (offer(s, &set, rflag, &dl, &pe) == 0)
			break;
		close(s);
		if (ep.lfd != -1 && pe.errnum != 0 && pe.errnum != ETIMEDOUT) {
			warnx("%s: receiver %s went away: %s", addr.str,
			    peer_str(&peer), pe.msg);
			continue;
		}
		ep_close(&ep);
		if (pe.remote)
			errx(exit_for(&pe), "%s: refused by receiver: %s",
			    addr.str, pe.msg);
		errx(exit_for(&pe), "%s: %s", addr.str, pe.msg);
	}
	ep_close(&ep);
	if (nflag == NULL && !rflag)
		wait_exec(s, &addr, &dl);
	close(s);
	fdset_free(&set);
	trust_free(&trust);
	return EXIT_OK;
}
