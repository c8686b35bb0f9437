/* ISC license: see LICENSE. */
/*
 * fdrecv: receive fds over a UNIX socket, then exec a program on them or
 * copy the one received to standard output.
 */
#include <sys/types.h>

#include <err.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "deadline.h"
#include "deliver.h"
#include "esc.h"
#include "exits.h"
#include "fdmap.h"
#include "hold.h"
#include "notify.h"
#include "peeropts.h"
#include "proto.h"
#include "scm.h"
#include "sock.h"
#include "trust.h"
#include "usage.h"
#include "util.h"

/* -h: the usage and a line per option on standard output, exit 0. */
static const char options[] =
    "  -c          connect to the socket (default: listen)\n"
    "  -D          with -n: take the entry and delete it from the store\n"
    "  -g group    also trust a sender of this group\n"
    "  -h          this help on standard output, exit 0\n"
    "  -m fd,...   place the received fds on these numbers\n"
    "  -n name     fetch entry name from an fdholder store\n"
    "  -r          raw mode (no fdproto)\n"
    "  -S name,... take these fds from LISTEN_FDS\n"
    "  -t seconds  bound on each wait\n"
    "  -u user     also trust a sender of this user\n"
    "  --version   the version on standard output, exit 0\n";

/* The usage: the SYNOPSIS of the man page, a line a form. */
static const char *const forms[] = {
    "[-chr] [-g group] [-m fd[,fd...]] [-t seconds] [-u user] "
	"socket [prog [arg ...]]",
    "-n name [-D] [-g group] [-m fd[,fd...]] [-t seconds] [-u user] "
	"socket [prog [arg ...]]",
    "-S name[,name...] [-m fd[,fd...]] [prog [arg ...]]",
    NULL
};

enum verb { RECEIVE, FETCH, LISTEN_FDS };

/* The command line: its options, and the socket operand once parsed. */
struct opts {
	enum verb	 verb;
	int		 form;		/* the option that picked it: n, S */
	const char	*nflag;		/* -n: the entry */
	const char	*Sflag;		/* -S: the names */
	int		 cflag;
	int		 Dflag;
	struct peeropts	 po;		/* -g, -r, -t, -u */
	struct addr	 addr;		/* the socket operand */
	struct deadline	 dl;		/* from -t */
};

/*
 * -n: fetch the entry from the fdholder store at the socket and deliver
 * it.  With -D, confirm to the store only once we know the set fits, and
 * keep the connection until the exec: the store removes the entry when it
 * closes without an error, and keeps it on a refusal or a failed exec.
 */
static int
retrieve(struct opts *o, struct job *j)
{
	struct fdset set = { 0 };
	struct perr pe;
	const char *a = o->addr.str;
	int s;

	if ((s = hold_connect(&o->addr, &o->po.trust, &o->dl, &pe)) == -1)
		errx(exit_for(&pe), "%s", pe.msg);
	trust_free(&o->po.trust);
	if (hold_fetch(&s, o->nflag, o->Dflag ? FETCH_REMOVE : 0, &set,
	    &o->dl, &pe) == -1)
		errx(exit_for(&pe), "%s: %s", a, pe.msg);
	if (!set_fits(&set, j, &pe))
		errx(EXIT_REFUSED, "%s: %s: %s", a, o->nflag, pe.msg);
	if (j->argv[0] != NULL && prog_check(j->argv[0], &pe) == -1)
		errx(pe.errnum == ENOENT ? EXIT_NOTFOUND : EXIT_NOEXEC, "%s",
		    pe.msg);
	if (o->Dflag && hold_confirm(s, set.n, &o->dl, &pe) == -1)
		errx(exit_for(&pe), "%s: %s", a, pe.msg);
	if (!o->Dflag) {
		close(s);
		s = -1;
	}
	return deliver(j, &set, s, &o->dl);
}

/* -S: the fds the service manager passed us, by name. */
static int
listen_fds(const char *names, struct job *j)
{
	struct fdset set = { 0 };
	struct perr pe;

	nofile_raise(&j->nofile);
	if (listen_take(names, &set, &pe) == -1)
		errx(exit_for(&pe), "%s", pe.msg);
	if (!set_fits(&set, j, &pe))
		errx(EXIT_USAGE, "-S %s: %s", esc(names), pe.msg);
	return deliver(j, &set, -1, NULL);
}

/* Where the first form meets its senders: listening at the socket, or -c. */
static void
senders_open(struct endpoint *ep, const struct opts *o)
{
	const struct addr *a = &o->addr;

	if (o->cflag && a->kind != ADDR_FD) {
		if (ep_connect(ep, a, &o->dl) == 0)
			return;
		if (errno == ETIMEDOUT)
			errx(EXIT_TIMEOUT, "connect %s: timed out", a->str);
		err(EXIT_SYS, "connect %s", a->str);
	}
	ep_unlink_on_signal(ep);
	if (ep_listen(ep, a, trust_widened(&o->po.trust), &o->dl) == -1)
		errx(errno == ETIMEDOUT ? EXIT_TIMEOUT : EXIT_SYS, "listen %s",
		    ep_error());
}

/* The next sender and its credentials; failing that, we exit. */
static int
sender_next(struct endpoint *ep, const struct opts *o, struct peer *peer)
{
	int s;

	if ((s = ep_next(ep, &o->dl)) == -1) {
		ep_close(ep);
		if (errno == ETIMEDOUT)
			errx(EXIT_TIMEOUT, "%s: timed out waiting for a sender",
			    o->addr.str);
		err(EXIT_SYS, "accept %s", o->addr.str);
	}
	if (peer_get(s, peer) == -1) {
		ep_close(ep);
		err(EXIT_SYS, "%s: peer credentials", o->addr.str);
	}
	return s;
}

/*
 * What the sender on s offers, into set, if we can deliver it: 1.  0 when
 * it closed before a byte (a probe for a live socket); -1 with pe set and
 * said, when it was refused, failed, or sent what we cannot deliver.
 */
static int
sender_take(int *s, const struct peer *peer, const struct opts *o,
    const struct job *j, struct fdset *set, struct perr *pe)
{
	const char *a = o->addr.str;
	int r;

	if (!peer_trusted(peer, &o->po.trust)) {
		perr_set(pe, PE_REFUSED, "uid %u not allowed by the receiver",
		    (unsigned)peer->uid);
		warnx("%s: refused sender %s", a, peer_str(peer));
		return -1;
	}
	if (o->po.rflag && fd_lift(s, 3 + PROTO_MAXFDS) == -1) {
		perr_sys(pe, "move the connection");
		return -1;
	}
	r = o->po.rflag ? raw_recv(*s, set, &o->dl, pe) :
	    fdset_recv(s, set, &o->dl, pe);
	if (r == 1) {
		if (set_fits(set, j, pe) && (j->argv[0] == NULL ||
		    prog_check(j->argv[0], pe) == 0))
			return 1;
		fdset_close(set);
	}
	if (r == 0)
		return 0;
	if (pe->remote)
		warnx("%s: refused by sender: %s", a, pe->msg);
	else
		warnx("%s: sender %s: %s", a, peer_str(peer), pe->msg);
	return -1;
}

/*
 * Confirm the set to its sender, which waits for the exec: keep s open
 * until then.  Returns s, or -1 once it is closed (raw mode, or the
 * sender is gone: the set is ours all the same).
 */
static int
sender_confirm(int s, const struct peer *peer, const struct opts *o,
    const struct fdset *set)
{
	struct perr pe;

	if (o->po.rflag) {
		close(s);
		return -1;
	}
	if (ack_send(s, set->n, &o->dl, &pe) == -1) {
		warnx("%s: sender %s: %s", o->addr.str, peer_str(peer),
		    pe.msg);
		close(s);
		return -1;
	}
	return s;
}

/*
 * The first form: take a set from a sender, listening at the socket or
 * connected to it (-c), and deliver it.  A listener serves the next
 * sender after one that failed.
 */
static int
receive(struct opts *o, struct job *j)
{
	struct fdset set = { 0 };
	struct endpoint ep;
	struct peer peer;
	struct perr pe;
	int r, s;

	wait_note(&o->dl, "waiting for a sender on %s", o->addr.str);
	senders_open(&ep, o);
	fd_lift_also(&ep.lfd);
	for (;;) {
		s = sender_next(&ep, o, &peer);
		wait_note_off();
		if ((r = sender_take(&s, &peer, o, j, &set, &pe)) == 1)
			break;
		if (r == -1 && !o->po.rflag && !pe.remote)
			frame_error(s, &pe, &o->dl);
		close(s);
		if (r == 0 && ep.lfd != -1)
			continue;
		if (r == 0) {
			ep_close(&ep);
			errx(EXIT_SYS, "%s: sender closed before sending",
			    o->addr.str);
		}
		if (pe.code == PE_EXEC && !pe.remote) {
			ep_close(&ep);
			return pe.errnum == ENOENT ? EXIT_NOTFOUND : EXIT_NOEXEC;
		}
		if (ep.lfd == -1) {
			ep_close(&ep);
			return exit_for(&pe);
		}
	}
	s = sender_confirm(s, &peer, o, &set);
	ep_close(&ep);
	trust_free(&o->po.trust);
	return deliver(j, &set, s, &o->dl);
}

/* Options that the form picked does not take: named, as nc does. */
static void
conflicts(const struct opts *o)
{
	if (o->verb == LISTEN_FDS) {
		if (o->cflag)
			errx(EXIT_USAGE, "cannot use -c with -S");
		if (o->po.rflag)
			errx(EXIT_USAGE, "cannot use -r with -S");
		if (o->po.tms != -1)
			errx(EXIT_USAGE, "cannot use -t with -S");
		if (trust_widened(&o->po.trust))
			errx(EXIT_USAGE, "cannot use -u or -g with -S");
	}
	if (o->verb == FETCH && o->cflag)
		errx(EXIT_USAGE, "cannot use -c with -n");
	if (o->verb == FETCH && o->po.rflag)
		errx(EXIT_USAGE, "cannot use -r with -n");
	if (o->verb != FETCH && o->Dflag)
		errx(EXIT_USAGE, "cannot use -D without -n");
}

/* The operands the form wants: argc of them are left after the options. */
static void
operands_check(const struct opts *o, const struct job *j, int argc)
{
	/* -S has no socket operand: the program starts at argv[0]. */
	int prog = o->verb == LISTEN_FDS ? 0 : 1;

	if (prog == 1 && argc < 1)
		missing_exit("socket operand");
	if (o->nflag != NULL && (*o->nflag == '\0' ||
	    !name_valid(o->nflag, strlen(o->nflag))))
		errx(EXIT_USAGE, "invalid entry name: %s", esc(o->nflag));
	if (j->nmap > 0 && argc < prog + 1)
		errx(EXIT_USAGE, "-m needs a program to run");
}

/* The options, into o; returns how many arguments they took. */
static int
opts_parse(struct opts *o, struct job *j, int argc, char *argv[])
{
	int ch;

	while ((ch = getopt(argc, argv, OPTS_STOP "cDg:hm:n:rS:t:u:")) != -1) {
		switch (ch) {
		case 'D':
			o->Dflag = 1;
			break;
		case 'n':
			eform_pick(&o->form, ch);
			o->nflag = optarg;
			break;
		case 'S':
			eform_pick(&o->form, ch);
			o->Sflag = optarg;
			break;
		case 'c':
			o->cflag = 1;
			break;
		case 'm':
			free(j->map);
			if (fdlist_parse(optarg, &j->map, &j->nmap) == -1)
				errx(EXIT_USAGE, "invalid fd list: %s",
				    esc(optarg));
			break;
		default:
			if (!epeer_opt(&o->po, ch, optarg))
				usage_exit(0);
		}
	}
	o->verb = o->form == 'n' ? FETCH : o->form == 'S' ? LISTEN_FDS :
	    RECEIVE;
	return optind;
}

int
main(int argc, char *argv[])
{
	struct opts o = { .po.tms = -1 };
	struct job j = { .map = NULL };
	int n;

	/* Before anything is opened: no socket may land on 0, 1 or 2. */
	if (stdio_fix() == -1)
		exit(EXIT_SYS);
	usage_init(forms, options);
	version_exit(argc, argv);
	n = opts_parse(&o, &j, argc, argv);
	argc -= n;
	argv += n;
	conflicts(&o);
	operands_check(&o, &j, argc);
	if (o.verb == LISTEN_FDS) {
		j.argv = argv;
		return listen_fds(o.Sflag, &j);
	}
	j.argv = argv + 1;
	/* Every fd received is for prog, or closed before any exec. */
	scm_exec_fds();
	j.received = 1;
	eaddr_parse(&o.addr, argv[0]);
	deadline_in(&o.dl, o.po.tms);
	nofile_raise(&j.nofile);
	return o.verb == FETCH ? retrieve(&o, &j) : receive(&o, &j);
}
