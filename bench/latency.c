/* ISC license: see LICENSE. */
/*
 * latency [-i US] [-k KIB] SECONDS PORTFILE FIFO RECORDS: the stream as its
 * reader sees it.  Listens on 127.0.0.1 (a free port, written to
 * PORTFILE) and accepts one client, the holder; every US microseconds
 * (default 100) writes KIB KiB (default 16) to it in 4 KiB blocks, each
 * beginning with its sequence number and the CLOCK_MONOTONIC time its
 * writing began (two u64, host order); with -i 0, as fast as the holder
 * takes them.  Meanwhile reads FIFO, where the holder writes what it
 * relays, and for each whole block appends to RECORDS its stamp and its
 * delivery latency (two u64: ns), in the order received.  Stops after
 * SECONDS of stream (0: at SIGTERM), printing "SENT RECEIVED" blocks, or
 * when a block comes back out of order (exit 1: a byte lost or repeated).
 * One thread, one ppoll(2) loop, which sleeps between ticks: paced, the
 * CPUs stay mostly idle, as under a chat or a log stream.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BLOCK	4096

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int
listen_any(const char *portfile)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	FILE *fp;
	char tmp[4096];
	int l;

	if ((l = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		err(1, "socket");
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(l, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(l, 1) == -1 ||
	    getsockname(l, (struct sockaddr *)&sin, &len) == -1)
		err(1, "listen");
	snprintf(tmp, sizeof(tmp), "%s.tmp", portfile);
	if ((fp = fopen(tmp, "w")) == NULL)
		err(1, "%s", tmp);
	fprintf(fp, "%d\n", ntohs(sin.sin_port));
	if (fclose(fp) == EOF || rename(tmp, portfile) == -1)
		err(1, "%s", portfile);
	return l;
}

static volatile sig_atomic_t stop;

static void
on_term(int sig)
{
	(void)sig;
	stop = 1;
}

int
main(int argc, char *argv[])
{
	static unsigned char out[BLOCK], in[BLOCK];
	struct pollfd pfd[2];
	struct timespec ts;
	uint64_t seq = 0, want = 0, end = 0, next, rec[2], t, tick = 100000;
	size_t have = 0, off = 0, kib = 16, due = 0;
	ssize_t n;
	FILE *rf;
	int c, l, s, r, w, big = 4 << 20;

	while ((c = getopt(argc, argv, "i:k:")) != -1) {
		switch (c) {
		case 'i':
			tick = strtoull(optarg, NULL, 10) * 1000;
			break;
		case 'k':
			kib = strtoul(optarg, NULL, 10);
			break;
		default:
			return 2;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 4 || kib % 4 != 0 || kib == 0)
		errx(2, "usage: latency [-i us] [-k kib] seconds portfile "
		    "fifo records");
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_term);
	/* Ours too, so the fifo never reaches its end between holders. */
	if ((r = open(argv[2], O_RDONLY | O_NONBLOCK)) == -1 ||
	    (w = open(argv[2], O_WRONLY)) == -1)
		err(1, "%s", argv[2]);
	if ((rf = fopen(argv[3], "w")) == NULL)
		err(1, "%s", argv[3]);
	l = listen_any(argv[1]);
	if ((s = accept(l, NULL, NULL)) == -1)
		err(1, "accept");
	close(l);
	setsockopt(s, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	fcntl(s, F_SETFL, O_NONBLOCK);
	/* Wake on time, not up to 50 us late: the pacing is in us. */
	prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0);
	next = now_ns();
	if (strtoull(argv[0], NULL, 10) > 0)
		end = next + strtoull(argv[0], NULL, 10) * 1000000000u;
	while (!stop) {
		t = now_ns();
		if (end != 0 && t >= end)
			break;
		if (tick == 0)
			due = 1;
		else if (t >= next) {
			due += kib / 4;
			next += tick;
		}
		/* Write what is due, as far as the socket takes it. */
		while (due > 0) {
			if (off == 0) {
				t = now_ns();
				memcpy(out, &seq, 8);
				memcpy(out + 8, &t, 8);
			}
			if ((n = write(s, out + off, BLOCK - off)) == -1) {
				if (errno != EAGAIN)
					err(1, "write");
				break;
			}
			off += (size_t)n;
			if (off == BLOCK) {
				off = 0;
				seq++;
				if (tick != 0)
					due--;
			}
		}
		while ((n = read(r, in + have, BLOCK - have)) > 0) {
			have += (size_t)n;
			if (have < BLOCK)
				continue;
			t = now_ns();
			memcpy(&rec[0], in, 8);
			if (rec[0] != want)
				errx(1, "block %llu came after %llu",
				    (unsigned long long)rec[0],
				    (unsigned long long)want - 1);
			want++;
			memcpy(&rec[0], in + 8, 8);
			rec[1] = t - rec[0];
			fwrite(rec, sizeof(rec), 1, rf);
			have = 0;
		}
		if (n == -1 && errno != EAGAIN)
			err(1, "read %s", argv[2]);
		pfd[0].fd = r;
		pfd[0].events = POLLIN;
		pfd[1].fd = s;
		pfd[1].events = due > 0 ? POLLOUT : 0;
		t = now_ns();
		if (tick != 0 && due == 0 && next > t) {
			ts.tv_sec = (time_t)((next - t) / 1000000000u);
			ts.tv_nsec = (long)((next - t) % 1000000000u);
		} else if (due == 0) {
			ts.tv_sec = 0;
			ts.tv_nsec = 0;
		} else {
			ts.tv_sec = 0;
			ts.tv_nsec = 100000000;
		}
		if (ppoll(pfd, 2, &ts, NULL) == -1 && errno != EINTR)
			err(1, "ppoll");
	}
	if (fclose(rf) == EOF)
		err(1, "%s", argv[3]);
	close(s);
	close(w);
	printf("%llu %llu\n", (unsigned long long)seq,
	    (unsigned long long)want);
	return 0;
}
