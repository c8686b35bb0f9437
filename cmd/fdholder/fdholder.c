/*
 * fdholder: hold a TCP connection, or named fds, and hand them over to a
 * successor, so that restarting the holder loses nothing.
 */
#include <sys/types.h>

#include <err.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "exits.h"
#include "fdholder.h"
#include "hold.h"
#include "sock.h"

#define MAXENTRIES	10000
#define MAXFDS		10000

static void __dead2
usage(void)
{
	fprintf(stderr, "usage: %s [-iN] [-g [op:]group] [-t seconds] "
	    "[-u [op:]user] -s ctlsock host port\n", getprogname());
	exit(EXIT_USAGE);
}

/*
 * -u and -g: "op:list" grants the operation op to the users or groups of
 * list, a bare "list" grants every operation.
 */
static void
rights_add(struct trust *rights, const char *arg, int groups)
{
	const char *colon;
	char op[16];
	size_t n;
	int i;

	if ((colon = strchr(arg, ':')) != NULL) {
		n = colon - arg;
		if (n >= sizeof(op))
			n = sizeof(op) - 1;
		memcpy(op, arg, n);
		op[n] = '\0';
		if ((i = op_parse(op)) == -1)
			errx(EXIT_USAGE, "unknown operation %s: %s", op, arg);
		trust_add(&rights[i], colon + 1, groups);
		return;
	}
	for (i = 0; i < OP_N; i++)
		trust_add(&rights[i], arg, groups);
}

static size_t
limit(const char *arg, const char *what)
{
	const char *errstr;
	size_t n;

	n = strtonum(arg, 1, 1000000, &errstr);
	if (errstr != NULL)
		errx(EXIT_USAGE, "%s %s: %s", what, errstr, arg);
	return n;
}

int
main(int argc, char *argv[])
{
	struct trust rights[OP_N];
	struct deadline dl;
	struct addr addr;
	struct ctl ctl;
	const char *sflag = NULL, *tflag = "10";
	size_t maxentries = 0, maxfds = 0;
	int ch, iflag = 0, Nflag = 0;

	memset(rights, 0, sizeof(rights));
	while ((ch = getopt(argc, argv, "f:g:il:Ns:t:u:")) != -1) {
		switch (ch) {
		case 'f':
			maxfds = limit(optarg, "maxfds");
			break;
		case 'g':
			rights_add(rights, optarg, 1);
			break;
		case 'i':
			iflag = 1;
			break;
		case 'l':
			maxentries = limit(optarg, "maxentries");
			break;
		case 'N':
			Nflag = 1;
			break;
		case 's':
			sflag = optarg;
			break;
		case 't':
			tflag = optarg;
			break;
		case 'u':
			rights_add(rights, optarg, 0);
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	/* The store (no host port) is not in this version. */
	if (sflag == NULL || argc != 2)
		usage();
	if (argc == 2 && (maxfds != 0 || maxentries != 0))
		errx(EXIT_USAGE, "-f and -l limit the store, not a connection");
	if (argc == 0 && (iflag || Nflag))
		errx(EXIT_USAGE, "-i and -N need a connection: host port");
	if (addr_parse(&addr, sflag) == -1)
		err(EXIT_USAGE, "%s", sflag);
	deadline_set(&dl, tflag);	/* refuse a bad -t before anything */

	if (argc == 2) {
		ctl_init(&ctl, &addr, HOLD_CONN, rights, tflag);
		relay_run(&ctl, argv[0], argv[1], iflag, Nflag);
	}
	ctl_init(&ctl, &addr, HOLD_STORE, rights, tflag);
	store_run(&ctl, maxentries ? maxentries : MAXENTRIES,
	    maxfds ? maxfds : MAXFDS);
}
