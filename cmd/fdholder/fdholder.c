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
#include "tcprepair.h"
#include "usage.h"
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
    "  -X          take the connection from the exporter command runs\n"
    "  -x          hand the holder's connection to an importer (another "
    "host)\n"
    "  --version   the version on standard output, exit 0\n";

/* The usage: the SYNOPSIS of the man page, a line a form. */
static const char *const forms[] = {
    "[-hiNS] [-g [op:]group] [-t seconds] [-u [op:]user] -s ctlsock "
	"host port",
    "[-S] [-E maxentries] [-f maxfds] [-g [op:]group] [-t seconds] "
	"[-u [op:]user] -s ctlsock",
    "-L [-j] [-g group] [-t seconds] [-u user] -s ctlsock",
    "-D [-g group] [-t seconds] [-u user] -s ctlsock name ...",
    "-X [-hiN] [-g [op:]group] [-t seconds] [-u [op:]user] -s ctlsock "
	"command [arg ...]",
    "-x [-g group] [-t seconds] [-u user] -s ctlsock",
    NULL
};

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

/*
 * The six forms of the SYNOPSIS: hold a connection, be a store, list
 * one, delete from one, import a connection from another host, export
 * one to it.  -D, -L, -X and -x pick theirs, the operands the others.
 */
enum verb { RELAY, STORE, LIST, DELETE, IMPORT, EXPORT };

/* The option that picks each verb, for "cannot use -E with -x". */
static const char verbopt[] = { 0, 0, 'L', 'D', 'X', 'x' };

#define VERB(v)		(1u << (v))
#define CLIENTS		(VERB(LIST) | VERB(DELETE) | VERB(EXPORT))
#define OPTS		"EfijNS"	/* the options a form may refuse */
#define OPT(ch)		(1u << (strchr(OPTS, (ch)) - OPTS))

/* -D, -L, -X or -x, after vch (0 or one of them): a second is a conflict. */
static int
verb_opt(int vch, int ch)
{
	static const char order[] = "DLXx";
	int t;

	if (vch == 0 || vch == ch)
		return ch;
	if (strchr(order, vch) > strchr(order, ch)) {
		t = vch;
		vch = ch;
		ch = t;
	}
	warnx("cannot use -%c with -%c", vch, ch);
	usage_exit(0);
}

/* The form: the option that picks it, or the operands. */
static enum verb
verb_pick(int vch, int argc)
{
	enum verb v;

	for (v = LIST; v <= EXPORT; v++)
		if (verbopt[v] == vch)
			return v;
	return argc == 0 ? STORE : RELAY;
}

/* Each option and the forms that do not take it, named, as nc does. */
static const struct conflict {
	int		 ch;
	unsigned	 verbs;
	const char	*why;	/* NULL: "cannot use -ch with -L" (or -D) */
} conflicts[] = {
	{ 'j', VERB(RELAY) | VERB(STORE) | VERB(DELETE),
	    "cannot use -j without -L" },
	{ 'i', VERB(STORE), "-i and -N need a connection: host port" },
	{ 'N', VERB(STORE), "-i and -N need a connection: host port" },
	{ 'E', VERB(RELAY) | VERB(IMPORT),
	    "-E and -f limit the store, not a connection" },
	{ 'f', VERB(RELAY) | VERB(IMPORT),
	    "-E and -f limit the store, not a connection" },
	{ 'j', VERB(IMPORT) | VERB(EXPORT), NULL },
	{ 'S', VERB(IMPORT), NULL },
	{ 'E', CLIENTS, NULL },
	{ 'f', CLIENTS, NULL },
	{ 'i', CLIENTS, NULL },
	{ 'N', CLIENTS, NULL },
	{ 'S', CLIENTS, NULL },
};

/* What the command line said, once parsed. */
struct opts {
	struct trust	 rights[OP_N];
	struct addr	 addr;
	const char	*oparg;		/* the first -u or -g op:list */
	size_t		 maxentries;
	size_t		 maxfds;
	unsigned	 given;		/* OPT() of each of OPTS given */
	int		 tms;
	int		 closed;	/* what stdio_fix found closed */
};

/* Each option, and the operands, checked against the form picked. */
static void
check(enum verb verb, const struct opts *o, int argc, char *argv[])
{
	const struct conflict *c;
	size_t i;

	for (i = 0; i < sizeof(conflicts) / sizeof(conflicts[0]); i++) {
		c = &conflicts[i];
		if (!(o->given & OPT(c->ch)) || !(c->verbs & VERB(verb)))
			continue;
		if (c->why != NULL)
			errx(EXIT_USAGE, "%s", c->why);
		warnx("cannot use -%c with -%c", c->ch, verbopt[verb]);
		usage_exit(0);
	}
	/* A client trusts the store's user, for whatever it asks. */
	if ((CLIENTS & VERB(verb)) && o->oparg != NULL)
		errx(EXIT_USAGE, "%s: %s user or group, not an operation",
		    esc(o->oparg), verb == EXPORT ? "-x trusts a holder's" :
		    "-L and -D trust a store's");
	if (verb == IMPORT && argc == 0) {
		warnx("-X: missing command operand");
		usage_exit(0);
	}
	if (verb == IMPORT)
		return;
	if (verb == DELETE && argc == 0) {
		warnx("-D: missing name operand");
		usage_exit(0);
	}
	if (verb == RELAY && argc == 1) {
		warnx("%s: missing port operand", esc(argv[0]));
		usage_exit(0);
	}
	if (((verb == LIST || verb == EXPORT) && argc != 0) || argc > 2)
		usage_exit(0);
}

/* -L or -D: the store's client. */
static int
client(enum verb verb, struct opts *o, int argc, char *argv[])
{
	int i, rc;

	rc = verb == LIST ? client_list(&o->addr, &o->rights[OP_LIST],
	    (o->given & OPT('j')) != 0, o->tms) :
	    client_delete(&o->addr, &o->rights[OP_DELETE], argv, argc, o->tms);
	for (i = 0; i < OP_N; i++)
		trust_free(&o->rights[i]);
	return rc;
}

/* Where would the connection's bytes go, or come from? */
static void
stdio_usable(const struct opts *o)
{
	if (o->closed & 1 << STDOUT_FILENO)
		errx(EXIT_USAGE, "standard output is closed: nowhere to write "
		    "the connection to");
	if ((o->given & OPT('i')) && o->closed & 1 << STDIN_FILENO)
		errx(EXIT_USAGE, "-i: standard input is closed: nothing to "
		    "send");
}

/* host port: hold the connection, and hand it over. */
static void __dead2
relay(struct opts *o, char *argv[])
{
	struct ctl ctl;

	stdio_usable(o);
	ctl_init(&ctl, &o->addr, HOLD_CONN, o->rights, o->tms);
	relay_run(&ctl, argv[0], argv[1], (o->given & OPT('i')) != 0,
	    (o->given & OPT('N')) != 0, (o->given & OPT('S')) != 0);
}

/* -X: the connection from another host, held from then on. */
static void __dead2
import(struct opts *o, char *argv[])
{
	struct ctl ctl;

	if (!tcpr_supported())
		errx(EXIT_USAGE, "-X: not supported on this system (moving a "
		    "connection needs Linux's TCP_REPAIR)");
	stdio_usable(o);
	ctl_init(&ctl, &o->addr, HOLD_CONN, o->rights, o->tms);
	relay_import(&ctl, argv, (o->given & OPT('i')) != 0,
	    (o->given & OPT('N')) != 0);
}

/* -x: the holder's connection, to the importer on standard output. */
static void __dead2
export(struct opts *o)
{
	struct ctl ctl;

	if (!tcpr_supported())
		errx(EXIT_USAGE, "-x: not supported on this system (moving a "
		    "connection needs Linux's TCP_REPAIR)");
	if (o->closed & (1 << STDOUT_FILENO | 1 << STDIN_FILENO))
		errx(EXIT_USAGE, "standard input or output is closed: -x talks "
		    "to the importer over them");
	ctl_init(&ctl, &o->addr, HOLD_CONN, o->rights, o->tms);
	export_run(&ctl);
}

/* No operand: be the store of named fds. */
static void __dead2
store(struct opts *o)
{
	struct ctl ctl;

	ctl_init(&ctl, &o->addr, HOLD_STORE, o->rights, o->tms);
	store_run(&ctl, o->maxentries ? o->maxentries : MAXENTRIES,
	    o->maxfds ? o->maxfds : MAXFDS, (o->given & OPT('S')) != 0);
}

int
main(int argc, char *argv[])
{
	static struct opts o;
	const char *sflag = NULL;
	enum verb verb;
	int ch, vch = 0;

	/* Before anything is opened: no socket may land on 0, 1 or 2. */
	if ((o.closed = stdio_fix()) == -1)
		exit(EXIT_SYS);
	usage_init(forms, options);
	version_exit(argc, argv);
	o.tms = 10000;
	/* It runs no program but -X's (ssh, which needs none it could gain
	 * by exec): it need never gain privileges. */
	(void)no_new_privs();
	while ((ch = getopt(argc, argv, "DE:f:g:hijLNSs:t:u:xX")) != -1) {
		switch (ch) {
		case 'D':
		case 'L':
		case 'X':
		case 'x':
			vch = verb_opt(vch, ch);
			break;
		case 'E':
			o.maxentries = limit(optarg, "maxentries");
			o.given |= OPT(ch);
			break;
		case 'f':
			o.maxfds = limit(optarg, "maxfds");
			o.given |= OPT(ch);
			break;
		case 'g':
		case 'u':
			if (rights_add(o.rights, optarg, ch == 'g') &&
			    o.oparg == NULL)
				o.oparg = optarg;
			break;
		case 'h':
			usage_exit(1);
		case 'i':
		case 'j':
		case 'N':
		case 'S':
			o.given |= OPT(ch);
			break;
		case 's':
			sflag = optarg;
			break;
		case 't':
			o.tms = etimeout_parse(optarg);
			break;
		default:
			usage_exit(0);
		}
	}
	argc -= optind;
	argv += optind;
	if (sflag == NULL)
		missing_exit("-s ctlsock");
	verb = verb_pick(vch, argc);
	check(verb, &o, argc, argv);
	eaddr_parse(&o.addr, sflag);
	switch (verb) {
	case RELAY:
		relay(&o, argv);
	case STORE:
		store(&o);
	case IMPORT:
		import(&o, argv);
	case EXPORT:
		export(&o);
	default:
		return client(verb, &o, argc, argv);
	}
}
