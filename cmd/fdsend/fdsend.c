/* ISC license: see LICENSE. */
/*
 * fdsend: send open fds of ours to a receiver over a UNIX socket.
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
#include "deadline.h"
#include "esc.h"
#include "exits.h"
#include "hold.h"
#include "notify.h"
#include "operands.h"
#include "peeropts.h"
#include "pidfd.h"
#include "proto.h"
#include "sandbox.h"
#include "sock.h"
#include "trust.h"
#include "usage.h"
#include "util.h"

/* -h: the usage and a line per option on standard output, exit 0. */
static const char options[] =
    "  -D          with -S: drop the names from the service manager's store\n"
    "  -e seconds  the entry's expiry, with -n\n"
    "  -g group    also trust a receiver of this group\n"
    "  -h          this help on standard output, exit 0\n"
    "  -l          listen on the socket (default: connect)\n"
    "  -n name     store the fds in an fdholder store as entry name\n"
    "  -p pid      the fd operands are fds of process pid\n"
    "  -r          raw mode (no fdproto)\n"
    "  -S          store the fds in the service manager's fd store\n"
    "  -t seconds  bound on each wait\n"
    "  -u user     also trust a receiver of this user\n"
    "  --version   the version on standard output, exit 0\n";

/* The usage: the SYNOPSIS of the man page, a line a form. */
static const char *const forms[] = {
    "[-hlr] [-g group] [-p pid] [-t seconds] [-u user] socket "
	"fd[=name] ...",
    "-n name [-e seconds] [-g group] [-p pid] [-t seconds] [-u "
	"user] socket fd[=name] ...",
    "-S [-p pid] [-t seconds] fd[=name] ...",
    "-S -D [-t seconds] name ...",
    NULL
};

enum verb { SEND, STORE, NOTIFY_STORE, NOTIFY_REMOVE };

/* The command line: its options, and the socket operand once parsed. */
struct opts {
	enum verb	 verb;
	int		 form;		/* the option that picked it: n, S */
	const char	*nflag;		/* -n: the entry */
	uint32_t	 ttl;		/* -e, or HOLD_FOREVER */
	pid_t		 pid;		/* -p, or 0: ours */
	int		 Dflag;
	int		 lflag;
	struct peeropts	 po;		/* -g, -r, -t, -u */
	struct addr	 addr;		/* the socket operand */
	struct deadline	 dl;		/* from -t */
};

/* -S: the service manager's fd store, opened or exited. */
static int
notify_or_exit(void)
{
	struct perr pe;
	int s;

	if ((s = notify_open(&pe)) == -1)
		errx(EXIT_USAGE, "%s", pe.msg);
	return s;
}

/* Wait on a barrier until the service manager has taken it all. */
static void
notify_done(int s, const struct deadline *dl)
{
	struct perr pe;

	wait_note(dl, "waiting for the service manager on %s to take the fds",
	    getenv("NOTIFY_SOCKET"));
	if (notify_barrier(s, dl, &pe) == -1)
		errx(exit_for(&pe), "%s", pe.msg);
	close(s);
}

/*
 * -S: store the fds of the operands in the service manager's fd store,
 * the fds of one name in messages of at most PROTO_MAXFDS.
 */
static int
notify_store(const struct opts *o, char *argv[], int argc)
{
	char state[64 + PROTO_NAMEMAX];
	struct fdset set = { 0 };
	struct perr pe;
	size_t i, k;
	int s;

	operands_set(&set, argv, argc, o->pid, 0);
	s = notify_or_exit();
	for (i = 0; i < set.n; i += k) {
		for (k = 1; i + k < set.n && k < PROTO_MAXFDS &&
		    strcmp(set.names[i], set.names[i + k]) == 0; k++)
			;
		if (*set.names[i] != '\0')
			snprintf(state, sizeof(state), "FDSTORE=1\nFDNAME=%s",
			    set.names[i]);
		else
			strlcpy(state, "FDSTORE=1", sizeof(state));
		if (notify_send(s, state, set.fds + i, k, &o->dl, &pe) == -1)
			errx(exit_for(&pe), "%s", pe.msg);
	}
	notify_done(s, &o->dl);
	fdset_free(&set);
	return EXIT_OK;
}

/* -S -D: remove the fds of each name from the service manager's store. */
static int
notify_remove(const struct opts *o, char *names[], int n)
{
	char state[64 + PROTO_NAMEMAX];
	struct perr pe;
	int i, s;

	s = notify_or_exit();
	for (i = 0; i < n; i++) {
		snprintf(state, sizeof(state), "FDSTOREREMOVE=1\nFDNAME=%s",
		    names[i]);
		if (notify_send(s, state, NULL, 0, &o->dl, &pe) == -1)
			errx(exit_for(&pe), "%s", pe.msg);
	}
	notify_done(s, &o->dl);
	return EXIT_OK;
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

/*
 * The receiver at the socket: the next trusted peer.  A refused one is
 * told why; when we listen, the next one is served instead, otherwise we
 * exit.
 */
static int
receiver(struct endpoint *ep, const struct opts *o, struct peer *peer)
{
	const char *a = o->addr.str;
	struct perr pe;
	int s;

	for (;;) {
		if ((s = ep_next(ep, &o->dl)) == -1) {
			ep_close(ep);
			if (errno == ETIMEDOUT)
				errx(EXIT_TIMEOUT, "%s: timed out waiting for "
				    "a receiver", a);
			err(EXIT_SYS, "accept %s", a);
		}
		if (peer_get(s, peer) == -1) {
			ep_close(ep);
			err(EXIT_SYS, "%s: peer credentials", a);
		}
		if (peer_trusted(peer, &o->po.trust))
			return s;
		perr_set(&pe, PE_REFUSED, "uid %u not allowed by the sender",
		    (unsigned)peer->uid);
		if (!o->po.rflag)
			frame_error(s, &pe, &o->dl);
		close(s);
		warnx("%s: refused receiver %s", a, peer_str(peer));
		if (ep->lfd == -1) {
			ep_close(ep);
			exit(EXIT_REFUSED);
		}
	}
}

static void
connect_or_exit(struct endpoint *ep, const struct addr *a, int now,
    const struct deadline *dl)
{
	if ((now ? ep_connect_now(ep, a, dl) : ep_connect(ep, a, dl)) == 0)
		return;
	if (errno == ETIMEDOUT)
		errx(EXIT_TIMEOUT, "connect %s: timed out", a->str);
	if (now && no_store(errno))
		errx(EXIT_SYS, "connect %s: %s: no fdholder store is there",
		    a->str, strerror(errno));
	err(EXIT_SYS, "connect %s", a->str);
}

/* The set of the operands after the socket operand, and the socket. */
static void
operands_at(struct opts *o, char *argv[], int argc, struct fdset *set)
{
	operands_set(set, argv + 1, argc - 1, o->pid, o->po.rflag);
	eaddr_parse(&o->addr, argv[0]);
}

/* The receiver has the set: none of it is ours to keep. */
static int
sent(struct opts *o, int s, struct fdset *set)
{
	close(s);
	fdset_free(set);
	trust_free(&o->po.trust);
	return EXIT_OK;
}

/*
 * The first form: offer the fds of the operands after the socket to a
 * receiver, at the socket or listening at it.
 */
static int
send_fds(struct opts *o, char *argv[], int argc)
{
	const char *a;
	struct fdset set = { 0 };
	struct endpoint ep;
	struct peer peer;
	struct perr pe;
	int s;

	operands_at(o, argv, argc, &set);
	a = o->addr.str;
	wait_note(&o->dl, "waiting for a receiver on %s", a);
	if (o->lflag) {
		ep_unlink_on_signal(&ep);
		if (ep_listen(&ep, &o->addr, trust_widened(&o->po.trust),
		    &o->dl) == -1)
			errx(errno == ETIMEDOUT ? EXIT_TIMEOUT : EXIT_SYS,
			    "listen %s", ep_error());
	} else
		connect_or_exit(&ep, &o->addr, 0, &o->dl);
	for (;;) {
		s = receiver(&ep, o, &peer);
		wait_note_off();
		if (offer(s, &set, o->po.rflag, &o->dl, &pe) == 0)
			break;
		close(s);
		if (ep.lfd != -1 && pe.errnum != 0 && pe.errnum != ETIMEDOUT) {
			warnx("%s: receiver %s went away: %s", a,
			    peer_str(&peer), pe.msg);
			continue;
		}
		ep_close(&ep);
		if (pe.remote)
			errx(exit_for(&pe), "%s: refused by receiver: %s", a,
			    pe.msg);
		errx(exit_for(&pe), "%s: %s", a, pe.msg);
	}
	ep_close(&ep);
	if (!o->po.rflag)
		wait_exec(s, &o->addr, &o->dl);
	return sent(o, s, &set);
}

/* -n: the store at the socket, connected to at once, if we trust it. */
static int
store_at(const struct opts *o)
{
	struct endpoint ep;
	struct peer peer;
	int s;

	connect_or_exit(&ep, &o->addr, 1, &o->dl);
	s = receiver(&ep, o, &peer);
	/* Connected: closing the endpoint leaves s open, and unlinks none. */
	ep_close(&ep);
	return s;
}

/*
 * -n: store the fds of the operands after the socket in the fdholder
 * store there, as the entry -n names.
 */
static int
store_named(struct opts *o, char *argv[], int argc)
{
	const char *a;
	struct fdset set = { 0 };
	struct perr pe;
	int s;

	operands_at(o, argv, argc, &set);
	a = o->addr.str;
	s = store_at(o);
	if (hold_store(s, o->nflag, o->ttl, &set, &o->dl, &pe) == -1) {
		if (pe.code == PE_EXIST)
			errx(exit_for(&pe), "%s: %s (to replace it, delete it "
			    "first: fdholder -s %s -D %s)", a, pe.msg, a,
			    o->nflag);
		errx(exit_for(&pe), "%s: %s", a, pe.msg);
	}
	return sent(o, s, &set);
}

/*
 * -D makes -S the form that removes; then the options that the form
 * picked does not take are named, as nc does.
 */
static void
conflicts(struct opts *o)
{
	if (o->Dflag && o->verb != NOTIFY_STORE)
		errx(EXIT_USAGE, "cannot use -D without -S");
	if (o->Dflag)
		o->verb = NOTIFY_REMOVE;
	if (o->verb == NOTIFY_STORE || o->verb == NOTIFY_REMOVE) {
		if (o->lflag)
			errx(EXIT_USAGE, "cannot use -l with -S");
		if (o->po.rflag)
			errx(EXIT_USAGE, "cannot use -r with -S");
		if (trust_widened(&o->po.trust))
			errx(EXIT_USAGE, "cannot use -u or -g with -S");
	}
	if (o->verb == NOTIFY_REMOVE && o->pid != 0)
		errx(EXIT_USAGE, "cannot use -p with -D");
	if (o->verb == STORE && o->lflag)
		errx(EXIT_USAGE, "cannot use -l with -n");
	if (o->verb == STORE && o->po.rflag)
		errx(EXIT_USAGE, "cannot use -r with -n");
	if (o->verb != STORE && o->ttl != HOLD_FOREVER)
		errx(EXIT_USAGE, "cannot use -e without -n");
}

/* The operands the form wants: argc of them are left after the options. */
static void
operands_check(const struct opts *o, char *argv[], int argc)
{
	int sock = o->verb == SEND || o->verb == STORE, i;

	/* The forms with a socket operand want an fd after it. */
	if (argc == 0 && sock)
		missing_exit("socket operand");
	if (argc < (sock ? 2 : 1))
		missing_exit(sock ? "fd operand after the socket" :
		    o->verb == NOTIFY_STORE ? "fd operand" : "name operand");
	if (o->nflag != NULL && (*o->nflag == '\0' ||
	    !name_valid(o->nflag, strlen(o->nflag))))
		errx(EXIT_USAGE, "invalid entry name: %s", esc(o->nflag));
	if (o->pid != 0 && !pidfd_can())
		errx(EXIT_USAGE, "-p: taking another process's fd needs "
		    "pidfd_getfd(2): Linux only");
	for (i = 0; o->verb == NOTIFY_REMOVE && i < argc; i++)
		if (*argv[i] == '\0' || !name_valid(argv[i], strlen(argv[i])))
			errx(EXIT_USAGE, "invalid name: %s", esc(argv[i]));
}

/* The options, into o; returns how many arguments they took. */
static int
opts_parse(struct opts *o, int argc, char *argv[])
{
	const char *errstr;
	int ch;

	while ((ch = getopt(argc, argv, "De:g:hln:p:rSt:u:")) != -1) {
		switch (ch) {
		case 'e':
			o->ttl = strtonum(optarg, 1, HOLD_FOREVER - 1, &errstr);
			if (errstr != NULL)
				errx(EXIT_USAGE, "expiry %s: %s", errstr,
				    optarg);
			break;
		case 'n':
			eform_pick(&o->form, ch);
			o->nflag = optarg;
			break;
		case 'D':
			o->Dflag = 1;
			break;
		case 'S':
			eform_pick(&o->form, ch);
			break;
		case 'p':
			o->pid = strtonum(optarg, 1, INT_MAX, &errstr);
			if (errstr != NULL)
				errx(EXIT_USAGE, "pid %s: %s", errstr, optarg);
			break;
		case 'l':
			o->lflag = 1;
			break;
		default:
			if (!epeer_opt(&o->po, ch, optarg))
				usage_exit(0);
		}
	}
	o->verb = o->form == 'n' ? STORE : o->form == 'S' ? NOTIFY_STORE : SEND;
	return optind;
}

int
main(int argc, char *argv[])
{
	struct opts o = { .ttl = HOLD_FOREVER, .po.tms = -1 };
	int n;

	/* Before anything is opened: no socket may land on 0, 1 or 2. */
	if ((closed_std = stdio_fix()) == -1)
		exit(EXIT_SYS);
	usage_init(forms, options);
	version_exit(argc, argv);
	/* It runs no program: it need never gain privileges. */
	(void)no_new_privs();
	n = opts_parse(&o, argc, argv);
	argc -= n;
	argv += n;
	conflicts(&o);
	operands_check(&o, argv, argc);
	deadline_in(&o.dl, o.po.tms);
	switch (o.verb) {
	case NOTIFY_REMOVE:
		return notify_remove(&o, argv, argc);
	case NOTIFY_STORE:
		return notify_store(&o, argv, argc);
	case STORE:
		return store_named(&o, argv, argc);
	case SEND:
	default:
		return send_fds(&o, argv, argc);
	}
}
