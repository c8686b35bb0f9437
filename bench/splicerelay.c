/* ISC license: see LICENSE. */
/*
 * splicerelay HOST PORT: the limit of a relay: connect, then splice the
 * socket into a pipe and the pipe into standard output until end of file.
 */
#define _GNU_SOURCE
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
main(int argc, char *argv[])
{
	struct sockaddr_in sin;
	int s, p[2];
	ssize_t n, m;

	(void)argc;
	s = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(atoi(argv[2]));
	inet_pton(AF_INET, argv[1], &sin.sin_addr);
	if (connect(s, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		perror("connect");
		return 111;
	}
	pipe(p);
	fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
	for (;;) {
		n = splice(s, NULL, p[1], NULL, 1 << 20, SPLICE_F_MOVE);
		if (n <= 0)
			return n == 0 ? 0 : 111;
		while (n > 0) {
			m = splice(p[0], NULL, 1, NULL, n, SPLICE_F_MOVE);
			if (m <= 0)
				return 111;
			n -= m;
		}
	}
}
