/* ISC license: see LICENSE. */
/* manyfds N prog [arg ...]: run prog with N more fds open (on /dev/null), 3 up. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

int
main(int argc, char *argv[])
{
	struct rlimit rl;
	int i, n, fd;

	if (argc < 3) {
		fprintf(stderr, "usage: manyfds n prog [arg ...]\n");
		return 100;
	}
	n = atoi(argv[1]);
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	for (i = 0; i < n; i++)
		if ((fd = open("/dev/null", O_RDONLY)) == -1) {
			perror("open");
			return 111;
		}
	execvp(argv[2], argv + 2);
	perror(argv[2]);
	return 127;
}
