/* ISC license: see LICENSE. */
/*
 * sbcheck: prove that sandbox() of common/ confines a process.  It
 * sandboxes itself as fdholder does, then makes calls the filter must
 * refuse and calls it must let through, and says what happened to each.
 * Exits 0 only if every refused call failed with EPERM and every allowed
 * one worked.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sandbox.h"

static int bad;

static void
expect(const char *what, int r, int want_eperm)
{
	int e = errno;

	if (want_eperm && !(r == -1 && e == EPERM)) {
		printf("%s: not refused (%s)\n", what, r == -1 ? strerror(e) :
		    "it worked");
		bad = 1;
	} else if (!want_eperm && r == -1) {
		printf("%s: refused: %s\n", what, strerror(e));
		bad = 1;
	} else
		printf("%s: %s\n", what, want_eperm ? "refused" : "allowed");
}

int
main(void)
{
	char *const argv[] = { "true", NULL };
	struct sched_param sp;
	int sv[2], fd;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		return 2;
	if (sandbox(SB_RELAY) == -1) {
		printf("sandbox: %s\n", strerror(errno));
		return 2;
	}
	expect("socket", socket(AF_INET, SOCK_STREAM, 0), 1);
	expect("open", fd = open("/etc/passwd", O_RDONLY), 1);
	/* Refused: EPERM; let through, ENOENT. */
	expect("execve", execve("/nonexistent/true", argv, NULL), 1);
	expect("connect", connect(sv[0], NULL, 0), 1);
	expect("write", (int)write(sv[0], "x", 1), 0);
	/* cpu_defer(): batch and back, never real-time (root may). */
	sp.sched_priority = 1;
	expect("sched_setscheduler fifo", sched_setscheduler(0, SCHED_FIFO,
	    &sp), 1);
	sp.sched_priority = 0;
	expect("sched_setscheduler batch", sched_setscheduler(0, SCHED_BATCH,
	    &sp), 0);
	expect("sched_setscheduler other", sched_setscheduler(0, SCHED_OTHER,
	    &sp), 0);
	expect("shutdown", shutdown(sv[0], SHUT_WR), 0);
	return bad;
}
