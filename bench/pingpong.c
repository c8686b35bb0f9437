/* ISC license: see LICENSE. */
/*
 * pingpong ROUNDS: the floor of a handoff: two running processes, one
 * passes an fd and a byte over a UNIX socket, the other takes it, closes
 * it and answers a byte.  Prints median, p99 and worst round trip in ns.
 */
#include <sys/socket.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"


int
main(int argc, char *argv[])
{
	union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int))]; } c;
	struct msghdr m;
	struct iovec iov;
	char byte = 0;
	int rounds = atoi(argv[1]), sv[2], fd, r;
	long long *t, t0;

	(void)argc;
	t = calloc(rounds, sizeof(*t));
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	fd = open("/dev/null", O_RDONLY);
	if (fork() == 0) {
		close(sv[0]);
		for (;;) {
			memset(&m, 0, sizeof(m));
			iov.iov_base = &byte;
			iov.iov_len = 1;
			m.msg_iov = &iov;
			m.msg_iovlen = 1;
			m.msg_control = c.b;
			m.msg_controllen = sizeof(c.b);
			if (recvmsg(sv[1], &m, MSG_CMSG_CLOEXEC) <= 0)
				_exit(0);
			close(*(int *)CMSG_DATA(CMSG_FIRSTHDR(&m)));
			write(sv[1], &byte, 1);
		}
	}
	close(sv[1]);
	for (r = 0; r < rounds; r++) {
		t0 = now();
		memset(&m, 0, sizeof(m));
		iov.iov_base = &byte;
		iov.iov_len = 1;
		m.msg_iov = &iov;
		m.msg_iovlen = 1;
		m.msg_control = c.b;
		m.msg_controllen = sizeof(c.b);
		CMSG_FIRSTHDR(&m)->cmsg_level = SOL_SOCKET;
		CMSG_FIRSTHDR(&m)->cmsg_type = SCM_RIGHTS;
		CMSG_FIRSTHDR(&m)->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(CMSG_FIRSTHDR(&m)), &fd, sizeof(int));
		sendmsg(sv[0], &m, 0);
		read(sv[0], &byte, 1);
		t[r] = now() - t0;
	}
	close(sv[0]);
	wait(NULL);
	qsort(t, rounds, sizeof(*t), cmp);
	printf("%lld %lld %lld\n", t[rounds / 2], t[rounds * 99 / 100],
	    t[rounds - 1]);
	return 0;
}
