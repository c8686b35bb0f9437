/* ISC license: see LICENSE. */
/*
 * A real consumer of socket activation for the tests: asks libsystemd's
 * sd_listen_fds_with_names(3) what it was given and prints it, a line per
 * fd: "fd name type".  Exits 1 when libsystemd sees no fds.
 */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

static const char *
kind(int fd)
{
	struct stat st;

	if (fstat(fd, &st) == -1)
		return "closed";
	if (S_ISFIFO(st.st_mode))
		return "fifo";
	if (S_ISSOCK(st.st_mode))
		return "socket";
	if (S_ISREG(st.st_mode))
		return "file";
	if (S_ISCHR(st.st_mode))
		return "char";
	return "other";
}

int
main(void)
{
	char **names = NULL;
	int i, n;

	if ((n = sd_listen_fds_with_names(1, &names)) <= 0) {
		printf("sd_listen_fds_with_names: %d\n", n);
		return 1;
	}
	printf("%d\n", n);
	for (i = 0; i < n; i++)
		printf("%d %s %s\n", SD_LISTEN_FDS_START + i, names[i],
		    kind(SD_LISTEN_FDS_START + i));
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return 0;
}
