/* ISC license: see LICENSE. */
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
#include "esc.h"
#include "exits.h"
#include "fdholder.h"
#include "hold.h"
#include "sandbox.h"
#include "sock.h"
#include "util.h"

#define MAXENTRIES	10000
#define MAXFDS		10000

/* -h: the usage and a line per option on standard output, exit 0. */
static const char options[] =
    "  -D          delete the entries named\n"
    "  -E maxentries  the store's entry limit\n"
    "  -f maxfds   the store's fd limit\n"
    "  -g [op:]group  also trust this group (for operation op)\n"
    "  -h          this help on standard output, exit 0\n"
    "  -i          copy standard input to the connection\n"
    "  -j          with -L: JSON output\n"
    "  -L          list a store\n"
    "  -N          shut down the write side at the end of standard input\n"
    "  -S          keep in, and take back from, the service manager's "
    "fd store\n"
    "  -s ctlsock  the control socket\n"
    "  -t seconds  bound on each wait\n"
    "  -u [op:]user  also trust this user (for operation op)\n"
    "  --version   the version on standard output, exit 0\n";

/* -h: on standard output, exit 0; bad usage: on standard error. */
static void __dead2
usage(int help)
{
	fprintf(help ? stdout : stderr, "usage: %s [-hiNS] [-g [op:]group] "
	    "[-t seconds] [-u [op:]user] -s ctlsock host port\n"
	    "       %s [-S] [-E maxentries] [-f maxfds] [-g [op:]group] "
	    "[-t seconds] [-u [op:]user] -s ctlsock\n"
	    "       %s -L [-j] [-g group] [-t seconds] [-u user] -s ctlsock\n"
	    "       %s -D [-g group] [-t seconds] [-u user] -s ctlsock "
	    "name ...\n",
	    getprogname(), getprogname(), getprogname(), getprogname());
	if (help)
		fputs(options, stdout);
	exit(help ? EXIT_OK : EXIT_USAGE);
}

/* Bad usage that is only something left out: named, then the usage. */
static void __dead2
missing(const char *what)
{
	warnx("missing %s", what);
	usage(0);
}

/*
 * -u and -g: "op:list" grants the operation op to the users or groups of
 * list, a bare "list" grants every operation.  Returns 1 for "op:list".
 */
static int
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
		etrust_add(&rights[i], colon + 1, groups);
		return 1;
	}
	for (i = 0; i < OP_N; i++)
		etrust_add(&rights[i], arg, groups);
	return 0;
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

/*
 * Connect to the store, as its client: it must be ours or root's, or of a
 * user or group that -u or -g trust.
 */
static int
client_connect(const struct addr *a, const struct trust *trust,
    const struct deadline *dl)
{
	struct perr pe;
	int s;

	if ((s = hold_connect(a, trust, dl, &pe)) == -1)
		errx(exit_for(&pe), "%s", pe.msg);
	return s;
}

/* -L: print what the store holds, with -j as JSON. */
static int
client_list(const struct addr *a, const struct trust *trust, int jflag,
    int tms)
{
	struct deadline dl;
	struct perr pe;
	int s;

	deadline_in(&dl, tms);
	s = client_connect(a, trust, &dl);
	if (hold_list(s, stdout, jflag, &dl, &pe) == -1)
		errx(exit_for(&pe), "%s: %s", a->str, pe.msg);
	close(s);
	if (fflush(stdout) == EOF || ferror(stdout))
		err(EXIT_SYS, "standard output");
	return EXIT_OK;
}

/* -D: delete entries, each on its own; exit 1 if any was not there. */
static int
client_delete(const struct addr *a, const struct trust *trust,
    char *names[], int n, int tms)
{
	struct deadline dl;
	struct perr pe;
	int i, s, rc = EXIT_OK;

	for (i = 0; i < n; i++)
		if (!name_valid(names[i], strlen(names[i])) ||
		    *names[i] == '\0')
			errx(EXIT_USAGE, "invalid name: %s", esc(names[i]));
	deadline_in(&dl, tms);
	for (i = 0; i < n; i++) {
		s = client_connect(a, trust, &dl);
		if (hold_delete(s, names[i], &dl, &pe) == -1) {
			if (pe.code != PE_NOENT)
				errx(exit_for(&pe), "%s: %s", a->str, pe.msg);
			warnx("%s: %s", a->str, pe.msg);
			rc = EXIT_REFUSED;
		}
		close(s);
	}
	return rc;
}

int
main(int argc, char *argv[])
{
	struct trust rights[OP_N];
	struct addr addr;
	struct ctl ctl;
	const char *sflag = NULL, *oparg = NULL;
	size_t maxentries = 0, maxfds = 0;
	int ch, i, rc, iflag = 0, jflag = 0, Dflag = 0, Lflag = 0, Nflag = 0;
	int Sflag = 0;
	int tms = 10000, closed;

	/* Before anything is opened: no socket may land on 0, 1 or 2. */
	if ((closed = stdio_fix()) == -1)
		exit(EXIT_SYS);
	version_exit(argc, argv);
	memset(rights, 0, sizeof(rights));
	/* It runs no program: it need never gain privileges. */
	(void)no_new_privs();
	while ((ch = getopt(argc, argv, "DE:f:g:hijLNSs:t:u:")) != -1) {
		switch (ch) {
		case 'D':
			Dflag = 1;
			break;
		case 'L':
			Lflag = 1;
			break;
		case 'E':
			maxentries = limit(optarg, "maxentries");
			break;
		case 'f':
			maxfds = limit(optarg, "maxfds");
			break;
		case 'g':
			if (rights_add(rights, optarg, 1) && oparg == NULL)
				oparg = optarg;
			break;
		case 'h':
			usage(1);
		case 'i':
			iflag = 1;
			break;
		case 'j':
			jflag = 1;
			break;
		case 'N':
			Nflag = 1;
			break;
		case 'S':
			Sflag = 1;
			break;
		case 's':
			sflag = optarg;
			break;
		case 't':
			tms = etimeout_parse(optarg);
			break;
		case 'u':
			if (rights_add(rights, optarg, 0) && oparg == NULL)
				oparg = optarg;
			break;
		default:
			usage(0);
		}
	}
	argc -= optind;
	argv += optind;
	if (jflag && !Lflag)
		errx(EXIT_USAGE, "cannot use -j without -L");
	if (sflag == NULL)
		missing("-s ctlsock");
	if (Dflag && Lflag)
		usage(0);
	if (Dflag && argc == 0) {
		warnx("-D: missing name operand");
		usage(0);
	}
	if (Dflag || Lflag) {
		if ((Lflag && argc != 0) || (Dflag && argc == 0) || iflag ||
		    Nflag || Sflag || maxfds != 0 || maxentries != 0)
			usage(0);
		/* A client trusts the store's user, for whatever it asks. */
		if (oparg != NULL)
			errx(EXIT_USAGE, "%s: -L and -D trust a store's user or "
			    "group, not an operation", esc(oparg));
		eaddr_parse(&addr, sflag);
		rc = Lflag ? client_list(&addr, &rights[OP_LIST], jflag, tms) :
		    client_delete(&addr, &rights[OP_DELETE], argv, argc, tms);
		for (i = 0; i < OP_N; i++)
			trust_free(&rights[i]);
		return rc;
	}
	if (argc == 1) {
		warnx("%s: missing port operand", esc(argv[0]));
		usage(0);
	}
	if (argc > 2)
		usage(0);
	if (argc == 2 && (maxfds != 0 || maxentries != 0))
		errx(EXIT_USAGE, "-E and -f limit the store, not a connection");
	if (argc == 0 && (iflag || Nflag))
		errx(EXIT_USAGE, "-i and -N need a connection: host port");
	eaddr_parse(&addr, sflag);

	if (argc == 2) {
		/* Where would the connection's bytes go, or come from? */
		if (closed & 1 << STDOUT_FILENO)
			errx(EXIT_USAGE, "standard output is closed: nowhere "
			    "to write the connection to");
		if (iflag && closed & 1 << STDIN_FILENO)
			errx(EXIT_USAGE, "-i: standard input is closed: "
			    "nothing to send");
		ctl_init(&ctl, &addr, HOLD_CONN, rights, tms);
		relay_run(&ctl, argv[0], argv[1], iflag, Nflag, Sflag);
	}
	ctl_init(&ctl, &addr, HOLD_STORE, rights, tms);
	store_run(&ctl, maxentries ? maxentries : MAXENTRIES,
	    maxfds ? maxfds : MAXFDS, Sflag);
}
