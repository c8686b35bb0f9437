/* ISC license: see LICENSE. */
/*
 * source BYTES PORTFILE: listen on 127.0.0.1 (a free port, written to
 * PORTFILE), accept one client, write BYTES bytes (0: without end) as fast
 * as it takes them, then close.  The stream holds decimal lines 1, 2, ...
 * only in its first megabyte; the rest is that megabyte again.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BUF (1 << 20)

int
main(int argc, char *argv[])
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	long long want = atoll(argv[1]), sent = 0;
	static char buf[BUF];
	int l, c, off = 0, i;
	ssize_t n;
	FILE *fp;

	(void)argc;
	signal(SIGPIPE, SIG_IGN);
	for (i = 1; off < BUF - 16; i++)
		off += snprintf(buf + off, BUF - off, "%d\n", i);
	memset(buf + off, '\n', BUF - off);
	l = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(l, (struct sockaddr *)&sin, sizeof(sin));
	listen(l, 1);
	getsockname(l, (struct sockaddr *)&sin, &len);
	fp = fopen(argv[2], "w");
	fprintf(fp, "%d\n", ntohs(sin.sin_port));
	fclose(fp);
	if ((c = accept(l, NULL, NULL)) == -1)
		return 111;
	close(l);
	while (want == 0 || sent < want) {
		n = write(c, buf, want == 0 || want - sent > BUF ? BUF :
		    (size_t)(want - sent));
		if (n <= 0)
			return 0;
		sent += n;
	}
	close(c);
	return 0;
}
