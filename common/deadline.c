/* ISC license: see LICENSE. */
#include <err.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deadline.h"
#include "exits.h"

/*
 * Parse the argument of -t: seconds, with an optional fraction of up to
 * nanoseconds ("2", "0.25"), into milliseconds, rounded up.  NULL means no
 * bound: -1.  As strtonum(3): 0 with *errstr set when seconds is no good.
 */
int
timeout_parse(const char *seconds, const char **errstr)
{
	char buf[32], *dot;
	long long sec, nsec = 0, ms;
	size_t i, n;

	*errstr = NULL;
	if (seconds == NULL)
		return -1;
	if (strlcpy(buf, seconds, sizeof(buf)) >= sizeof(buf)) {
		*errstr = "too long";
		return 0;
	}
	if ((dot = strchr(buf, '.')) != NULL) {
		*dot++ = '\0';
		n = strlen(dot);
		if (n == 0 || n > 9 || strspn(dot, "0123456789") != n) {
			*errstr = "invalid";
			return 0;
		}
		nsec = strtonum(dot, 0, 999999999, errstr);
		for (i = n; i < 9; i++)
			nsec *= 10;
	}
	sec = strtonum(buf, 0, INT_MAX / 1000, errstr);
	if (*errstr != NULL)
		return 0;
	ms = sec * 1000 + (nsec + 999999) / 1000000;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* The deadline ms milliseconds from now; never for ms < 0. */
void
deadline_in(struct deadline *dl, int ms)
{
	memset(dl, 0, sizeof(*dl));
	dl->ms = ms;
	if (ms < 0) {
		dl->never = 1;
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &dl->end);
	dl->end.tv_sec += ms / 1000;
	dl->end.tv_nsec += (long)(ms % 1000) * 1000000;
	if (dl->end.tv_nsec >= 1000000000) {
		dl->end.tv_sec++;
		dl->end.tv_nsec -= 1000000000;
	}
}

/* The argument of -t in milliseconds, or exit with a usage error. */
int
etimeout_parse(const char *seconds)
{
	const char *errstr;
	int ms;

	ms = timeout_parse(seconds, &errstr);
	if (errstr != NULL)
		errx(EXIT_USAGE, "timeout %s: %s", errstr, seconds);
	return ms;
}

/* Milliseconds left, rounded up; -1 for no bound. */
int
deadline_ms(const struct deadline *dl)
{
	struct timespec now;
	long long ms;

	if (dl == NULL || dl->never)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(dl->end.tv_sec - now.tv_sec) * 1000 +
	    (dl->end.tv_nsec - now.tv_nsec + 999999) / 1000000;
	if (ms < 0)
		return 0;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

/*
 * A wait for a peer looks like a hang to a person (a socket's name
 * mistyped, a peer late): once it has lasted a second, it is said, once,
 * on standard error, by the waits below.  Quiet when the peer comes first.
 */
static struct {
	struct deadline	due;
	char		msg[PATH_MAX + 128];
	int		armed;
} note;

/* Say, after a second of waiting under dl, that we wait for what fmt says. */
void
wait_note(const struct deadline *dl, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	/* A bound of a second or less ends the wait before it is said. */
	if (dl != NULL && !dl->never && dl->ms <= 1000)
		return;
	va_start(ap, fmt);
	vsnprintf(note.msg, sizeof(note.msg), fmt, ap);
	va_end(ap);
	n = strlen(note.msg);
	if (dl == NULL || dl->never)
		snprintf(note.msg + n, sizeof(note.msg) - n,
		    "; -t bounds the wait");
	else
		snprintf(note.msg + n, sizeof(note.msg) - n,
		    "; -t gives up after %g s", dl->ms / 1000.0);
	deadline_in(&note.due, 1000);
	note.armed = 1;
}

/* The peer came: nothing to say. */
void
wait_note_off(void)
{
	note.armed = 0;
}

/* Milliseconds until the note is due; -1 when there is none. */
static int
note_ms(void)
{
	return note.armed ? deadline_ms(&note.due) : -1;
}

static void
note_say(void)
{
	if (note.armed && deadline_ms(&note.due) == 0) {
		note.armed = 0;
		warnx("%s", note.msg);
	}
}

/*
 * Wait until fd is ready for events.  Returns 0 when it is, -1 with errno
 * ETIMEDOUT when the deadline passed first.
 */
int
deadline_poll(int fd, short events, const struct deadline *dl)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int n;

	for (;;) {
		if ((n = poll(&pfd, 1, poll_ms(deadline_ms(dl), note_ms()))) > 0)
			return 0;
		if (n == 0) {
			note_say();
			if (deadline_ms(dl) != 0)
				continue;
			errno = ETIMEDOUT;
			return -1;
		}
		if (errno != EINTR)
			return -1;
	}
}

/* Sleep for ms milliseconds, or until the deadline if that comes first. */
void
deadline_sleep(int ms, const struct deadline *dl)
{
	deadline_usleep((long)ms * 1000, dl);
}

/* Sleep us microseconds, or until the deadline if that comes first. */
void
deadline_usleep(long us, const struct deadline *dl)
{
	struct timespec ts;
	int left = deadline_ms(dl);

	if (left >= 0 && (long)left * 1000 < us)
		us = (long)left * 1000;
	ts.tv_sec = us / 1000000;
	ts.tv_nsec = us % 1000000 * 1000;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
	note_say();
}

/* The smaller of two poll(2) timeouts, -1 meaning none. */
int
poll_ms(int a, int b)
{
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return a < b ? a : b;
}
