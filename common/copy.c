/* ISC license: see LICENSE. */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "copy.h"

static int
wait_ready(int fd, short ev)
{
	struct pollfd p = { .fd = fd, .events = ev };

	while (poll(&p, 1, -1) == -1)
		if (errno != EINTR)
			return -1;
	return 0;
}

#ifdef __linux__
/* 1 when splice moved it all, 0 when it does not apply here, -1 on error. */
static int
copy_splice(int in, int out, int *side)
{
	ssize_t n;
	int moved = 0;

	for (;;) {
		n = splice(in, NULL, out, NULL, 1 << 20, SPLICE_F_MOVE);
		if (n == 0)
			return 1;
		if (n > 0) {
			moved = 1;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EINVAL && !moved)
			return 0;
		if (errno != EAGAIN) {
			*side = -1;
			return -1;
		}
		/* Which side is not ready?  Wait for both in turn. */
		*side = 0;
		if (wait_ready(in, POLLIN) == -1)
			return -1;
		*side = 1;
		if (wait_ready(out, POLLOUT) == -1)
			return -1;
	}
}
#endif

/*
 * Copy in to out until end of file.  Returns 0, or -1 with errno set and
 * *side 0 when reading failed, 1 when writing did, -1 when either did.
 */
int
fd_copy(int in, int out, int *side)
{
	char buf[65536];
	ssize_t n, w, off;

#ifdef __linux__
	switch (copy_splice(in, out, side)) {
	case 1:
		return 0;
	case -1:
		return -1;
	}
#endif
	for (;;) {
		if ((n = read(in, buf, sizeof(buf))) == 0)
			return 0;
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN && wait_ready(in, POLLIN) == 0)
				continue;
			*side = 0;
			return -1;
		}
		for (off = 0; off < n; off += w) {
			if ((w = write(out, buf + off, n - off)) >= 0)
				continue;
			w = 0;
			if (errno == EINTR ||
			    (errno == EAGAIN && wait_ready(out, POLLOUT) == 0))
				continue;
			*side = 1;
			return -1;
		}
	}
}
