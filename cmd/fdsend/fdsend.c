/*
 * fdsend: send open fds of ours to a receiver over a UNIX socket.
 */
#include <sys/types.h>

#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "deadline.h"
#include "exits.h"
#include "fdmap.h"
#include "proto.h"
#include "sock.h"
#include "util.h"

static void __dead2
usage(void)
{
	fprintf(stderr, "usage: %s [-lr] [-g group] [-t seconds] [-u user] "
	    "socket fd[=name] ...\n", getprogname());
	exit(EXIT_USAGE);
}

/*
 * Offer the set to one receiver and wait for its confirmation.  Returns 0
 * when it holds the fds, -1 with pe set.
 */
static int
offer(int s, const struct fdset *set, int rflag, const struct deadline *dl,
    struct perr *pe)
{
	if (rflag)
		return raw_send(s, set, dl, pe);
	if (fdset_send(s, set, dl, pe) == -1)
		return -1;
	return ack_recv(s, set->n, dl, pe);
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
	const char *name, *tflag = NULL;
	int ch, fd, i, s, lflag = 0, rflag = 0;

	while ((ch = getopt(argc, argv, "g:lrt:u:")) != -1) {
		switch (ch) {
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
	if (argc < 2)
		usage();

	for (i = 1; i < argc; i++) {
		if (fdspec_parse(argv[i], &fd, &name) == -1) {
			if (errno == EBADF)
				err(EXIT_USAGE, "fd %d", fd);
			errx(EXIT_USAGE, "invalid fd[=name]: %s", argv[i]);
		}
		if (rflag && *name != '\0')
			errx(EXIT_USAGE, "raw mode sends no names: %s",
			    argv[i]);
		if (fdset_add(&set, fd, name) == -1)
			err(EXIT_SYS, "malloc");
	}
	addr_must(&addr, argv[0]);
	deadline_set(&dl, tflag);

	if (lflag) {
		if (ep_listen(&ep, &addr, trust_widened(&trust)) == -1)
			err(EXIT_SYS, "listen %s", addr.str);
		ep_unlink_on_signal(&ep);
	} else if (ep_connect(&ep, &addr, &dl) == -1) {
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
	close(s);
	ep_close(&ep);
	fdset_free(&set);
	trust_free(&trust);
	return EXIT_OK;
}
