/* ISC license: see LICENSE. */
/*
 * The floor of fdsend to an fdrecv that execs: the same whole processes
 * doing only what cannot be left out.
 *
 *   rawpass recv PATH prog [arg ...]
 *	listen at PATH, take the fds of one sender (messages of at most 253,
 *	each with one byte: 1 while more follow, 0 on the last), leave them
 *	where the kernel put them, answer one byte and exec prog.
 *   rawpass send PATH N
 *	connect to PATH (waiting for it), send fds 3 to N + 2 as above, then
 *	wait for the answer and for the end of the connection (the exec).
 *   rawpass hold PATH
 *	a store of one set, the floor of fdholder's: a sender's fds replace
 *	what it holds (closed); a connection that sends nothing first is a
 *	fetch and delete: it gets them as recv takes them, and they are
 *	closed here, a run of numbers at a time, as the store closes them.
 *   rawpass fetch PATH prog [arg ...]
 *	connect to PATH, shut down its writing side (a fetch), take the
 *	fds as recv does and exec prog.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 253

union ctl {
	struct cmsghdr	h;
	char		b[CMSG_SPACE(CHUNK * sizeof(int))];
};

static int
addr(struct sockaddr_un *sun, const char *path)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	return strlen(path) < sizeof(sun->sun_path) ?
	    (strcpy(sun->sun_path, path), 0) : -1;
}

static int
listening(const char *path)
{
	struct sockaddr_un sun;
	int l;

	if (addr(&sun, path) == -1)
		return -1;
	unlink(path);
	if ((l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(l, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(l, 16) == -1) {
		perror("rawpass listen");
		return -1;
	}
	return l;
}

static int
connected(const char *path)
{
	struct sockaddr_un sun;
	struct timespec ms = { 0, 1000000 };
	int s;

	if (addr(&sun, path) == -1 ||
	    (s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	while (connect(s, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		if (errno != ENOENT && errno != ECONNREFUSED)
			return -1;
		nanosleep(&ms, NULL);
	}
	return s;
}

/*
 * Take fds from s until the last message, into fds (room n, kept
 * close-on-exec), or left where they land for the program we exec.
 */
static int
take(int s, int *fds, int n)
{
	union ctl c;
	struct msghdr m;
	struct iovec iov;
	char more = 1;
	int got = 0, k;

	while (more) {
		memset(&m, 0, sizeof(m));
		iov.iov_base = &more;
		iov.iov_len = 1;
		m.msg_iov = &iov;
		m.msg_iovlen = 1;
		m.msg_control = c.b;
		m.msg_controllen = sizeof(c.b);
		if (recvmsg(s, &m, fds ? MSG_CMSG_CLOEXEC : 0) != 1)
			return -1;
		if (fds == NULL || CMSG_FIRSTHDR(&m) == NULL)
			continue;
		k = (CMSG_FIRSTHDR(&m)->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		if (got + k <= n)
			memcpy(fds + got, CMSG_DATA(CMSG_FIRSTHDR(&m)),
			    k * sizeof(int));
		got += k;
	}
	return got;
}

/* Send n fds over s in messages of CHUNK. */
static int
give(int s, const int *fds, int n)
{
	union ctl c;
	struct msghdr m;
	struct iovec iov;
	char byte;
	int i, k;

	for (i = 0; i == 0 || i < n; i += k) {
		k = n - i < CHUNK ? n - i : CHUNK;
		byte = i + k < n;
		memset(&m, 0, sizeof(m));
		iov.iov_base = &byte;
		iov.iov_len = 1;
		m.msg_iov = &iov;
		m.msg_iovlen = 1;
		m.msg_control = c.b;
		m.msg_controllen = CMSG_SPACE(k * sizeof(int));
		CMSG_FIRSTHDR(&m)->cmsg_level = SOL_SOCKET;
		CMSG_FIRSTHDR(&m)->cmsg_type = SCM_RIGHTS;
		CMSG_FIRSTHDR(&m)->cmsg_len = CMSG_LEN(k * sizeof(int));
		memcpy(CMSG_DATA(CMSG_FIRSTHDR(&m)), fds + i, k * sizeof(int));
		if (sendmsg(s, &m, MSG_NOSIGNAL) != 1)
			return -1;
	}
	return 0;
}

static int
recv_side(const char *path, char **argv)
{
	char byte = 0;
	int l, s;

	if ((l = listening(path)) == -1 ||
	    (s = accept4(l, NULL, NULL, SOCK_CLOEXEC)) == -1)
		return 111;
	close(l);
	unlink(path);
	if (take(s, NULL, 0) == -1 || write(s, &byte, 1) != 1)
		return 111;
	execvp(argv[0], argv);
	perror(argv[0]);
	return 127;
}

static int
fetch_side(const char *path, char **argv)
{
	int s;

	if ((s = connected(path)) == -1 || shutdown(s, SHUT_WR) == -1 ||
	    take(s, NULL, 0) == -1)
		return 111;
	execvp(argv[0], argv);
	perror(argv[0]);
	return 127;
}

/*
 * Close the n fds of a set as the store does: a run of consecutive numbers
 * at a time (close_range(2) on Linux), not a close(2) a fd.
 */
static void
close_set(const int *fds, int n)
{
	int i, j;

	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && fds[j] == fds[i] + (j - i); j++)
			;
#ifdef __linux__
		if (j - i > 1 && close_range(fds[i], fds[j - 1], 0) == 0)
			continue;
#endif
		for (; i < j; i++)
			close(fds[i]);
	}
}

static int
hold_side(const char *path)
{
	int l, s, n = 0, k, cap = 1 << 16, *fds, *in;
	char byte;

	if ((l = listening(path)) == -1 || (fds = calloc(cap, sizeof(int))) ==
	    NULL || (in = calloc(cap, sizeof(int))) == NULL)
		return 111;
	for (;;) {
		if ((s = accept4(l, NULL, NULL, SOCK_CLOEXEC)) == -1)
			return 111;
		if (recv(s, &byte, 1, MSG_PEEK) == 0) {
			give(s, fds, n);
			close_set(fds, n);
			n = 0;
		}
		else if ((k = take(s, in, cap)) >= 0 && k <= cap) {
			close_set(fds, n);
			memcpy(fds, in, k * sizeof(int));
			n = k;
			write(s, &byte, 1);
		}
		close(s);
	}
}

static int
send_side(const char *path, int n)
{
	char byte;
	int s, i, *fds;

	if ((fds = calloc(n, sizeof(int))) == NULL)
		return 100;
	for (i = 0; i < n; i++)
		fds[i] = 3 + i;
	if ((s = connected(path)) == -1 || give(s, fds, n) == -1 ||
	    read(s, &byte, 1) != 1 || read(s, &byte, 1) != 0)
		return 111;
	return 0;
}

int
main(int argc, char *argv[])
{
	struct rlimit rl;

	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (argc >= 4 && strcmp(argv[1], "recv") == 0)
		return recv_side(argv[2], argv + 3);
	if (argc == 4 && strcmp(argv[1], "send") == 0)
		return send_side(argv[2], atoi(argv[3]));
	if (argc == 3 && strcmp(argv[1], "hold") == 0)
		return hold_side(argv[2]);
	if (argc >= 4 && strcmp(argv[1], "fetch") == 0)
		return fetch_side(argv[2], argv + 3);
	fprintf(stderr, "usage: rawpass recv path prog [arg ...]\n"
	    "       rawpass send path n\n       rawpass hold path\n"
	    "       rawpass fetch path prog [arg ...]\n");
	return 100;
}
