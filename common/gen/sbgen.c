/* ISC license: see LICENSE. */
/*
 * sbgen: the seccomp filters of sandbox.h (SB_FILTERS), built by
 * libseccomp when the tools are built, and printed as C for sandbox.c.
 * A tool then installs its filter with one prctl(2) and neither links
 * libseccomp nor waits for it at startup.  The filters are for the
 * architecture this runs on: the machine that builds the tools.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <linux/filter.h>
#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sandbox.h"

/* What every sandboxed process needs: its fds, memory, time, signals. */
static const int base[] = {
	SCMP_SYS(read), SCMP_SYS(readv), SCMP_SYS(write), SCMP_SYS(writev),
	SCMP_SYS(close), SCMP_SYS(close_range), SCMP_SYS(poll),
	SCMP_SYS(ppoll),
	SCMP_SYS(fcntl), SCMP_SYS(ioctl), SCMP_SYS(fstat),
	SCMP_SYS(newfstatat), SCMP_SYS(lseek),
	SCMP_SYS(brk), SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap),
	SCMP_SYS(madvise), SCMP_SYS(mprotect),
	SCMP_SYS(exit), SCMP_SYS(exit_group),
	SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(rt_sigreturn), SCMP_SYS(sigaltstack),
	SCMP_SYS(restart_syscall), SCMP_SYS(tgkill),
	SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(getuid),
	SCMP_SYS(geteuid), SCMP_SYS(getgid), SCMP_SYS(getegid),
	SCMP_SYS(clock_gettime), SCMP_SYS(clock_getres),
	SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep),
	SCMP_SYS(gettimeofday), SCMP_SYS(setitimer), SCMP_SYS(futex),
	SCMP_SYS(sched_yield),
	SCMP_SYS(getrandom), SCMP_SYS(prlimit64),
};

static const int sockets[] = {
	SCMP_SYS(accept), SCMP_SYS(accept4), SCMP_SYS(recvmsg),
	SCMP_SYS(sendmsg), SCMP_SYS(recvfrom), SCMP_SYS(sendto),
	SCMP_SYS(getsockopt), SCMP_SYS(setsockopt), SCMP_SYS(shutdown),
	SCMP_SYS(getsockname), SCMP_SYS(getpeername),
};

static const int splice_[] = {
	SCMP_SYS(splice), SCMP_SYS(tee), SCMP_SYS(pwrite64),
	SCMP_SYS(ftruncate),
};

static const int unlink_[] = {
	SCMP_SYS(unlink), SCMP_SYS(unlinkat), SCMP_SYS(stat),
	SCMP_SYS(lstat), SCMP_SYS(statx),
};

static const int fdstore[] = {
	SCMP_SYS(socketpair), SCMP_SYS(pipe), SCMP_SYS(pipe2),
};

static const int netlink[] = {
	SCMP_SYS(bind), SCMP_SYS(getsockname), SCMP_SYS(sendto),
	SCMP_SYS(recvfrom), SCMP_SYS(sendmsg), SCMP_SYS(recvmsg),
	SCMP_SYS(setsockopt), SCMP_SYS(getsockopt),
};


static int
allow(scmp_filter_ctx ctx, const int *calls, size_t n)
{
	size_t i;

	/* A call this architecture lacks has a negative number: skip it. */
	for (i = 0; i < n; i++)
		if (calls[i] >= 0 &&
		    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, calls[i], 0) < 0)
			return -1;
	return 0;
}

#define ALLOW(ctx, a)	allow((ctx), (a), sizeof(a) / sizeof((a)[0]))

/* socket(2) for the families a netlink client needs (glibc names
 * interfaces through an AF_UNIX or AF_INET socket's ioctl). */
static int
allow_socket(scmp_filter_ctx ctx)
{
	static const int families[] = { AF_NETLINK, AF_UNIX, AF_INET,
	    AF_INET6 };
	struct scmp_arg_cmp cmp;
	size_t i;

	for (i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		cmp.arg = 0;
		cmp.op = SCMP_CMP_EQ;
		cmp.datum_a = families[i];
		cmp.datum_b = 0;
		if (seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW,
		    SCMP_SYS(socket), 1, &cmp) < 0)
			return -1;
	}
	return 0;
}

/* cpu_defer(): sched_setscheduler of this process (pid 0) to the normal
 * or the batch policy, and nothing else (not real-time). */
static int
allow_defer(scmp_filter_ctx ctx)
{
	static const int policies[] = { SCHED_OTHER, SCHED_BATCH };
	struct scmp_arg_cmp cmp[2];
	size_t i;

	memset(cmp, 0, sizeof(cmp));
	cmp[0].arg = 0;
	cmp[0].op = SCMP_CMP_EQ;
	cmp[0].datum_a = 0;
	if (seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW,
	    SCMP_SYS(sched_getscheduler), 1, cmp) < 0)
		return -1;
	for (i = 0; i < sizeof(policies) / sizeof(policies[0]); i++) {
		cmp[1].arg = 1;
		cmp[1].op = SCMP_CMP_EQ;
		cmp[1].datum_a = policies[i];
		if (seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW,
		    SCMP_SYS(sched_setscheduler), 2, cmp) < 0)
			return -1;
	}
	return 0;
}

/* The filter for what, as the kernel takes it: *np instructions. */
static struct sock_filter *
build(unsigned what, size_t *np)
{
	scmp_filter_ctx ctx;
	struct sock_filter *p = NULL;
	struct stat st;
	int fd = -1;

	if ((ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM))) == NULL)
		return NULL;
	/* A binary tree: the kernel checks and caches it in about half
	 * the time of a list (prctl: 90 us to 50 us here). */
	if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2) < 0 ||
	    ALLOW(ctx, base) == -1 ||
	    ((what & SB_SOCKETS) && ALLOW(ctx, sockets) == -1) ||
	    ((what & SB_SPLICE) && ALLOW(ctx, splice_) == -1) ||
	    ((what & SB_UNLINK) && ALLOW(ctx, unlink_) == -1) ||
	    ((what & SB_FDSTORE) && ALLOW(ctx, fdstore) == -1) ||
	    ((what & SB_DEFER) && allow_defer(ctx) == -1) ||
	    ((what & SB_NETLINK) && (ALLOW(ctx, netlink) == -1 ||
	    allow_socket(ctx) == -1)))
		goto out;
	if ((fd = memfd_create("seccomp", MFD_CLOEXEC)) == -1 ||
	    seccomp_export_bpf(ctx, fd) < 0 || fstat(fd, &st) == -1 ||
	    st.st_size == 0 || st.st_size % sizeof(*p) != 0 ||
	    st.st_size / sizeof(*p) > BPF_MAXINSNS ||
	    (p = malloc(st.st_size)) == NULL)
		goto out;
	if (pread(fd, p, st.st_size, 0) != st.st_size) {
		free(p);
		p = NULL;
		goto out;
	}
	*np = st.st_size / sizeof(*p);
out:
	if (fd != -1)
		close(fd);
	seccomp_release(ctx);
	return p;
}

int
main(void)
{
	static const unsigned filters[] = SB_FILTERS;
	const struct scmp_version *v = seccomp_version();
	struct sock_filter *p;
	size_t i, j, n = sizeof(filters) / sizeof(filters[0]);
	size_t len[sizeof(filters) / sizeof(filters[0])];

	printf("/* Made by common/gen/sbgen.c with libseccomp %u.%u.%u: do "
	    "not edit. */\n", v->major, v->minor, v->micro);
	for (i = 0; i < n; i++) {
		if ((p = build(filters[i], &len[i])) == NULL) {
			fprintf(stderr, "sbgen: filter 0x%x: libseccomp "
			    "failed\n", filters[i]);
			return 1;
		}
		printf("static const struct sock_filter sb_insns_%zu[] = {\n",
		    i);
		for (j = 0; j < len[i]; j++)
			printf("\t{ 0x%04x, %u, %u, 0x%08x },\n", p[j].code,
			    p[j].jt, p[j].jf, p[j].k);
		printf("};\n");
		free(p);
	}
	printf("static const struct sb_filter sb_filters[] = {\n");
	for (i = 0; i < n; i++)
		printf("\t{ 0x%x, %zu, sb_insns_%zu },\n", filters[i], len[i],
		    i);
	printf("};\n");
	return 0;
}
