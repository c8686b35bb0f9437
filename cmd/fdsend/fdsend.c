/* ISC license: see LICENSE. */
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
#include "esc.h"
#include "exits.h"
#include "fdmap.h"
#include "hold.h"
#include "listeners.h"
#include "notify.h"
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

/* Fds 0-2 that were closed when we started (stdio_fix put /dev/null). */
static int closed_std;

/* Taking fd of process pid failed: say why, and exit. */
static void __dead2
take_failed(pid_t pid, int fd)
{
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

/* The fd to send for the operand fd: ours, or a copy of process pid's. */
static int
source_fd(int fd, pid_t pid, int *pidfd)
{
	int copy;

	if (pid == 0) {
		if ((fd <= 2 && closed_std & 1 << fd) ||
		    (fcntl(fd, F_GETFD) == -1 && errno == EBADF))
			errx(EXIT_USAGE, "fd %d: not open in the calling process "
			    "(fdsend sends the fds it inherits; -p pid takes "
			    "another process's)", fd);
		if (fcntl(fd, F_GETFD) == -1)
			err(EXIT_USAGE, "fd %d", fd);
		return fd;
	}
	if ((copy = pidfd_take(pid, fd, pidfd)) == -1)
		take_failed(pid, fd);
	return copy;
}

/* No listener matched spec: say what the process does listen on. */
static void __dead2
no_listener(pid_t pid, const char *spec, const struct lsock *ls, size_t n)
{
	char *list = NULL, *nl, one[160], who[32];
	size_t i;

	if (pid != 0)
		snprintf(who, sizeof(who), "pid %ld: ", (long)pid);
	else
		*who = '\0';
	for (i = 0; i < n; i++) {
		lsock_str(&ls[i], one, sizeof(one));
		if (asprintf(&nl, "%s%s%s (fd %d)", list ? list : "",
		    list ? ", " : "", esc(one), ls[i].fd) == -1)
			err(EXIT_SYS, "asprintf");
		free(list);
		list = nl;
	}
	errx(EXIT_USAGE, "%sno listening socket %s; %s listens on %s", who,
	    esc(spec), pid ? "it" : "this process", list ? list : "nothing");
}

/*
 * The operand tcp:PORT, udp:PORT or unix:PATH: every listener of process
 * pid (0: ours) it matches, IPv4 and IPv6 alike, in the order of their fds.
 */
static void
listeners_add(struct fdset *set, const char *spec, const struct lsel *sel,
    pid_t pid, struct lsock *ls, size_t n)
{
	size_t i, found = 0;

	for (i = 0; i < n; i++) {
		if (!lsel_match(sel, &ls[i]))
			continue;
		if (fdset_add(set, ls[i].copy, sel->name) == -1)
			err(EXIT_SYS, "malloc");
		found++;
	}
	if (found == 0)
		no_listener(pid, spec, ls, n);
}

/*
 * The set named by the operands fd[=name] or tcp:PORT[=name] (udp:,
 * unix:), ours or process pid's.  The listeners are looked up once.
 */
static void
operands_set(struct fdset *set, char **argv, int argc, pid_t pid, int rflag)
{
	struct lsock *ls = NULL;
	struct lsel sel;
	const char *name;
	size_t i, n = 0;
	int fd, k, r, pidfd = -1;

	for (k = 0; k < argc; k++) {
		if ((r = lsel_parse(argv[k], &sel)) == -1)
			errx(EXIT_USAGE, "invalid %s: %s", errno == EDOM ?
			    "port" : "fd[=name]", esc(argv[k]));
		name = sel.name;
		if (r == 0 && fdspec_parse(argv[k], &fd, &name) == -1)
			errx(EXIT_USAGE, "invalid fd[=name]: %s",
			    esc(argv[k]));
		if (rflag && *name != '\0')
			errx(EXIT_USAGE, "raw mode sends no names: %s",
			    esc(argv[k]));
		if (r == 0) {
			if (fdset_add(set, source_fd(fd, pid, &pidfd),
			    name) == -1)
				err(EXIT_SYS, "malloc");
			continue;
		}
		if (ls == NULL && lsock_list(pid, &pidfd, &ls, &n) == -1)
			take_failed(pid, -1);
		listeners_add(set, argv[k], &sel, pid, ls, n);
	}
	/* The copies of listeners that no operand took. */
	for (i = 0; pid != 0 && i < n; i++) {
		for (k = 0; k < (int)set->n && set->fds[k] != ls[i].copy; k++)
			;
		if (k == (int)set->n)
			close(ls[i].copy);
	}
	free(ls);
	if (pidfd != -1)
		close(pidfd);
}

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

	operands_set(&set, argv + 1, argc - 1, o->pid, o->po.rflag);
	eaddr_parse(&o->addr, argv[0]);
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
	close(s);
	fdset_free(&set);
	trust_free(&o->po.trust);
	return EXIT_OK;
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
	struct endpoint ep;
	struct peer peer;
	struct perr pe;
	int s;

	operands_set(&set, argv + 1, argc - 1, o->pid, 0);
	eaddr_parse(&o->addr, argv[0]);
	a = o->addr.str;
	connect_or_exit(&ep, &o->addr, 1, &o->dl);
	s = receiver(&ep, o, &peer);
	if (hold_store(s, o->nflag, o->ttl, &set, &o->dl, &pe) == -1) {
		ep_close(&ep);
		if (pe.code == PE_EXIST)
			errx(exit_for(&pe), "%s: %s (to replace it, delete it "
			    "first: fdholder -s %s -D %s)", a, pe.msg, a,
			    o->nflag);
		errx(exit_for(&pe), "%s: %s", a, pe.msg);
	}
	ep_close(&ep);
	close(s);
	fdset_free(&set);
	trust_free(&o->po.trust);
	return EXIT_OK;
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
