/* ISC license: see LICENSE. */
/*
 * rawsend N ROUNDS: the limit of this machine for passing N fds: one
 * process sends them over a socketpair in messages of 253 to a child that
 * receives and closes them; prints the median time of a round in ns.
 */
#include <sys/socket.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define CHUNK 253


int
main(int argc, char *argv[])
{
	union { struct cmsghdr h; char b[CMSG_SPACE(CHUNK * sizeof(int))]; } c;
	struct msghdr m;
	struct iovec iov;
	struct rlimit rl;
	char byte = 0;
	int n = atoi(argv[1]), rounds = atoi(argv[2]), sv[2], *fds, i, k, r, got;
	long long *t, t0;

	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	fds = calloc(n, sizeof(int));
	t = calloc(rounds, sizeof(long long));
	for (i = 0; i < n; i++)
		fds[i] = open("/dev/null", O_RDONLY);
	if (fork() == 0) {
		close(sv[0]);
		for (;;) {
			for (got = 0; got < n;) {
				memset(&m, 0, sizeof(m));
				iov.iov_base = &byte;
				iov.iov_len = 1;
				m.msg_iov = &iov;
				m.msg_iovlen = 1;
				m.msg_control = c.b;
				m.msg_controllen = sizeof(c.b);
				if (recvmsg(sv[1], &m, MSG_CMSG_CLOEXEC) <= 0)
					_exit(0);
				k = (CMSG_FIRSTHDR(&m)->cmsg_len - CMSG_LEN(0)) / sizeof(int);
				for (i = 0; i < k; i++)
					close(((int *)CMSG_DATA(CMSG_FIRSTHDR(&m)))[i]);
				got += k;
			}
			write(sv[1], &byte, 1);
		}
	}
	close(sv[1]);
	for (r = 0; r < rounds; r++) {
		t0 = now();
		for (i = 0; i < n; i += k) {
			k = n - i < CHUNK ? n - i : CHUNK;
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
			sendmsg(sv[0], &m, 0);
		}
		read(sv[0], &byte, 1);
		t[r] = now() - t0;
	}
	close(sv[0]);
	wait(NULL);
	qsort(t, rounds, sizeof(*t), cmp);
	printf("%lld %lld %lld\n", t[rounds / 2], t[0], t[rounds - 1]);
	return 0;
}
