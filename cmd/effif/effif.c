/* ISC license: see LICENSE. */
/*
 * effif: the effective interface of a tunnel, the physical device that
 * really carries its packets, as ifconfig -v prints it on macOS.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deadline.h"
#include "effif.h"
#include "exits.h"
#include "print.h"
#include "sandbox.h"
#include "usage.h"
#include "util.h"

/*
 * From the first event of a burst to the recompute: short enough that a
 * change prints within 20 ms and a state of 50 ms still shows, long
 * enough that the notices of one change (a link and its routes) are one
 * round.
 */
#define DEBOUNCE_MS	10
#define OPT_METHOD	0x100	/* --method: no letter */

/* What was printed for one interface and family, to print only changes. */
struct entry {
	char	*name;
	int	 pass;
	int	 status;
	char	*text;
};

struct entries {
	struct entry	*e;
	size_t		 n;
	size_t		 cap;
};

static const char *const method_names[M_COUNT] = {
	"none", "link", "peer", "mark", "scan", "delegate", "route", "socket"
};

static int sigfd[2] = { -1, -1 };

const char *
method_name(enum method m)
{
	return m < M_COUNT ? method_names[m] : "none";
}

/* -h: the usage and a line per option on standard output, exit 0. */
static const char options[] =
    "  -4          address family IPv4\n"
    "  -6          address family IPv6\n"
    "  -a          every tunnel\n"
    "  -h          this help on standard output, exit 0\n"
    "  -I          print interface indexes\n"
    "  -j          JSON output\n"
    "  -M mark     firewall mark\n"
    "  -P peer     the tunnel's peer address\n"
    "  -v          how the answer was found\n"
    "  -w          watch\n"
    "  --method name  the method\n"
    "  --version   the version on standard output, exit 0\n";

/* The usage: the SYNOPSIS of the man page, a line a form. */
static const char *const forms[] = {
    "[-46Ijv] [-w] [-M mark] [-P peer] [--method name] iface ...",
    "-a [-46Ijv] [-w]",
    "-h",
    NULL
};

/*
 * A mark as ip-rule(8) reads it: strtoul in base 0 (decimal, 0x hex, 0
 * octal), 32 bits.  Not strtonum, which reads decimal only.
 */
static uint32_t
parse_mark(const char *arg)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(arg, &end, 0);
	if (end == arg || *end != '\0')
		errx(EXIT_USAGE, "mark invalid: %s", arg);
	if ((v == ULONG_MAX && errno == ERANGE) || v > UINT32_MAX)
		errx(EXIT_USAGE, "mark too large: %s", arg);
	return (uint32_t)v;
}

static void
parse_peer(const char *arg, struct ipaddr *ip)
{
	memset(ip, 0, sizeof(*ip));
	if (inet_pton(AF_INET, arg, ip->a) == 1)
		ip->family = AF_INET;
	else if (inet_pton(AF_INET6, arg, ip->a) == 1)
		ip->family = AF_INET6;
	else
		errx(EXIT_USAGE, "peer %s: not an IP address", arg);
}

static enum method
parse_method(const char *arg)
{
	int m;

	for (m = M_LINK; m < M_COUNT; m++)
		if (strcmp(arg, method_names[m]) == 0)
			break;
	if (m == M_COUNT)
		errx(EXIT_USAGE, "method %s: unknown", arg);
	if (!sys_method(m))
		errx(EXIT_USAGE, "method %s: not on this system", arg);
	return m;
}

static void
entry_add(struct entries *t, const char *name, int pass, int status,
    char *text)
{
	struct entry *e;

	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 8;
		if (t->cap > SIZE_MAX / sizeof(*e) ||
		    (e = realloc(t->e, t->cap * sizeof(*e))) == NULL)
			err(EXIT_SYS, NULL);
		t->e = e;
	}
	e = &t->e[t->n++];
	if ((e->name = strdup(name)) == NULL)
		err(EXIT_SYS, NULL);
	e->pass = pass;
	e->status = status;
	e->text = text;
}

static const struct entry *
entry_find(const struct entries *t, const char *name, int pass)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (t->e[i].pass == pass && strcmp(t->e[i].name, name) == 0)
			return &t->e[i];
	return NULL;
}

static void
entries_free(struct entries *t)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		free(t->e[i].name);
		free(t->e[i].text);
	}
	free(t->e);
	memset(t, 0, sizeof(*t));
}

/* Print an answer (in watch mode, only if it changed) and its message. */
static void
report(const struct answer *a, const char *name, int pass,
    const struct opts *o, struct entries *prev, struct entries *cur)
{
	const struct entry *old;
	char *text;

	text = render(a, name, pass, o);
	old = entry_find(prev, name, pass);
	if (!o->wflag || old == NULL || strcmp(old->text, text) != 0) {
		fputs(text, stdout);
		if (a->status > EXIT_REFUSED && o->npass > 1)
			warnx("%s (%s)", a->error, family_name(o->pass[pass]));
		else if (a->status > EXIT_REFUSED)
			warnx("%s", a->error);
		else if (a->warn[0] != '\0')
			warnx("%s", a->warn);
	}
	entry_add(cur, name, pass, a->status, text);
}

/*
 * One computation from scratch: every interface, every family asked.
 * Returns the first status that is not EXIT_OK.
 */
static int
compute(struct sys *s, struct query *q, const struct opts *o, char **names,
    size_t n, struct entries *prev)
{
	struct entries cur = { NULL, 0, 0 };
	struct answer a;
	size_t i;
	int p, status = EXIT_OK;

	sys_refresh(s);
	/* In watch mode a failure is this round's, and the next may pass. */
	if (o->aflag && (names = sys_list(s, &n)) == NULL) {
		warnx("%s", sys_error());
		return EXIT_SYS;
	}
	for (i = 0; i < n; i++) {
		for (p = 0; p < o->npass; p++) {
			q->name = names[i];
			q->family = o->pass[p];
			sys_resolve(s, q, &a);
			report(&a, names[i], p, o, prev, &cur);
			if (status == EXIT_OK)
				status = a.status;
		}
	}
	/*
	 * -a: an interface that left the list is answered for once more, so
	 * that its change shows; it is dropped once gone or not a tunnel.
	 */
	for (i = 0; i < prev->n; i++) {
		if (prev->e[i].status == EXIT_NOIF ||
		    prev->e[i].status == EXIT_REFUSED ||
		    entry_find(&cur, prev->e[i].name, prev->e[i].pass) != NULL)
			continue;
		q->name = prev->e[i].name;
		q->family = o->pass[prev->e[i].pass];
		sys_resolve(s, q, &a);
		report(&a, prev->e[i].name, prev->e[i].pass, o, prev, &cur);
	}
	if (o->aflag) {
		for (i = 0; i < n; i++)
			free(names[i]);
		free(names);
	}
	entries_free(prev);
	*prev = cur;
	if (fflush(stdout) == EOF)
		err(EXIT_SYS, "stdout");
	return status;
}

static void
on_signal(int sig)
{
	int saved = errno;

	(void)sig;
	if (write(sigfd[1], "", 1) == -1) {
		/* The pipe is full: a wakeup is pending already. */
	}
	errno = saved;
}

static void
signals_catch(void)
{
	int i;

	if (pipe(sigfd) == -1)
		err(EXIT_SYS, "pipe");
	for (i = 0; i < 2; i++)
		if (fcntl(sigfd[i], F_SETFD, FD_CLOEXEC) == -1 ||
		    fcntl(sigfd[i], F_SETFL, O_NONBLOCK) == -1)
			err(EXIT_SYS, "fcntl");
	if (sig_catch(SIGINT, on_signal) == -1 ||
	    sig_catch(SIGTERM, on_signal) == -1)
		err(EXIT_SYS, "sigaction");
}

/*
 * Wait for events or a signal: 1 for events, 0 for a signal.  With a
 * deadline, keep draining events until it passes.
 */
static int
wait_events(struct sys *s, struct pollfd *pfd, const struct deadline *dl)
{
	int any = 0, n, r;

	for (;;) {
		n = poll(pfd, 2, deadline_ms(dl));
		if (n == -1 && errno != EINTR)
			err(EXIT_SYS, "poll");
		if (n > 0 && (pfd[1].revents & POLLIN))
			return 0;
		if (n > 0 && (pfd[0].revents & (POLLIN | POLLERR))) {
			/* A failed read may have lost events: compute. */
			if ((r = sys_watch_read(s)) == -1)
				warnx("%s", sys_error());
			any |= r != 0;
		}
		if (dl == NULL ? any : deadline_ms(dl) == 0)
			return 1;
	}
}

/*
 * -w: the kernel does not report every change it makes (IPv4 routes go
 * with their link without RTM_DELROUTE), so every event means a
 * computation from scratch, once things have been quiet for a moment.
 */
static void __dead2
watch(struct sys *s, struct query *q, const struct opts *o, char **names,
    size_t n)
{
	struct entries prev = { NULL, 0, 0 };
	struct pollfd pfd[2];
	struct deadline dl;

	if ((pfd[0].fd = sys_watch(s)) == -1)
		errx(EXIT_SYS, "%s", sys_error());
	pfd[0].events = POLLIN;
	signals_catch();
	pfd[1].fd = sigfd[0];
	pfd[1].events = POLLIN;
	/* A watcher runs for long: from here on, netlink and our fds only. */
	if (sandbox(SB_EFFIF) == -1)
		err(EXIT_SYS, "sandbox");
	compute(s, q, o, names, n, &prev);
	for (;;) {
		if (!wait_events(s, pfd, NULL))
			break;
		deadline_in(&dl, DEBOUNCE_MS);
		if (!wait_events(s, pfd, &dl))
			break;
		compute(s, q, o, names, n, &prev);
	}
	entries_free(&prev);
	sys_close(s);
	exit(EXIT_OK);
}

/* Options that do not go together; then the families asked, a pass each. */
static void
opts_check(struct opts *o, const struct query *q, int argc)
{
	if (o->aflag && (argc != 0 || q->hasmark || q->peer.family != 0 ||
	    q->method != M_NONE))
		usage_exit(0);
	if (!o->aflag && argc == 0)
		missing_exit("iface operand (or -a)");
	if (o->wflag && q->method == M_SOCKET)
		errx(EXIT_USAGE, "cannot use --method socket with -w");
	if (q->hasmark && !sys_method(M_MARK))
		errx(EXIT_USAGE, "marks: not on this system");
	if (q->peer.family != 0 && o->fflag4 != o->fflag6 &&
	    q->peer.family != (o->fflag4 ? AF_INET : AF_INET6))
		errx(EXIT_USAGE, "peer %s: not an %s address", o->peer,
		    o->fflag4 ? "IPv4" : "IPv6");
	if (o->fflag4)
		o->pass[o->npass++] = AF_INET;
	if (o->fflag6)
		o->pass[o->npass++] = AF_INET6;
	if (o->npass == 0)
		o->pass[o->npass++] = AF_UNSPEC;
	o->several = o->aflag || argc > 1;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "method", required_argument, NULL, OPT_METHOD },
		{ NULL, 0, NULL, 0 }
	};
	struct entries prev = { NULL, 0, 0 };
	struct opts o = { .aflag = 0 };
	struct query q = { .name = NULL };
	struct sys *s;
	int ch, status;

	if (stdio_fix() == -1)
		exit(EXIT_SYS);
	usage_init(forms, options);
	version_exit(argc, argv);
	/* It runs no program: it need never gain privileges. */
	(void)no_new_privs();
	while ((ch = getopt_long(argc, argv, "46ahIjM:P:vw", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case '4':
			o.fflag4 = 1;
			break;
		case '6':
			o.fflag6 = 1;
			break;
		case 'a':
			o.aflag = 1;
			break;
		case 'h':
			usage_exit(1);
		case 'I':
			o.Iflag = 1;
			break;
		case 'j':
			o.jflag = 1;
			break;
		case 'M':
			q.mark = parse_mark(optarg);
			q.hasmark = 1;
			break;
		case 'P':
			parse_peer(optarg, &q.peer);
			o.peer = optarg;
			break;
		case 'v':
			o.vflag = 1;
			break;
		case 'w':
			o.wflag = 1;
			break;
		case OPT_METHOD:
			q.method = parse_method(optarg);
			break;
		default:
			usage_exit(0);
		}
	}
	argc -= optind;
	argv += optind;
	opts_check(&o, &q, argc);

	if ((s = sys_open()) == NULL)
		errx(EXIT_SYS, "%s", sys_error());
	if (o.wflag)
		watch(s, &q, &o, argv, argc);
	status = compute(s, &q, &o, argv, argc, &prev);
	entries_free(&prev);
	sys_close(s);
	return status;
}
