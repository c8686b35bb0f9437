/* ISC license: see LICENSE. */
/*
 * sandbox(): see sandbox.h.  On Linux the filter is built with
 * libseccomp; elsewhere sandbox() is no_new_privs() (nnp.c) alone.
 */
#include <sys/types.h>

#include <errno.h>
#include <stddef.h>

#ifdef __linux__
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#endif

#include "sandbox.h"

#ifndef __has_feature
#define __has_feature(x) 0
#endif
/*
 * LeakSanitizer stops the world at exit with clone, ptrace and /proc,
 * which no filter of ours should allow: an ASan build (a test build) has
 * no_new_privs() only.  The plain build is the one that ships.
 */
#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
#define SB_ASAN 1
#endif


#if defined(__linux__) && !defined(SB_ASAN)
/* What every sandboxed process needs: its fds, memory, time, signals. */
static const int base[] = {
	SCMP_SYS(read), SCMP_SYS(readv), SCMP_SYS(write), SCMP_SYS(writev),
	SCMP_SYS(close), SCMP_SYS(poll), SCMP_SYS(ppoll),
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
	SCMP_SYS(gettimeofday), SCMP_SYS(futex), SCMP_SYS(sched_yield),
	SCMP_SYS(getrandom), SCMP_SYS(prlimit64),
};

static const int sockets[] = {
	SCMP_SYS(accept), SCMP_SYS(accept4), SCMP_SYS(recvmsg),
	SCMP_SYS(sendmsg), SCMP_SYS(recvfrom), SCMP_SYS(sendto),
	SCMP_SYS(getsockopt), SCMP_SYS(setsockopt), SCMP_SYS(shutdown),
	SCMP_SYS(getsockname), SCMP_SYS(getpeername),
};

static const int splice_[] = {
	SCMP_SYS(splice),
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
#endif

#if defined(__linux__) && !defined(SB_ASAN)
/* The filter that sandbox_prepare() built, for sandbox_enter(). */
static struct sock_fprog prog;

/* libseccomp's program for what, as the kernel takes it: built in memory
 * (seccomp_export_bpf to a memfd) so that installing it is one call. */
static int
build(unsigned what)
{
	scmp_filter_ctx ctx;
	struct stat st;
	void *p = NULL;
	int fd = -1, r = -EINVAL;

	if ((ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM))) == NULL)
		return -ENOMEM;
	if (ALLOW(ctx, base) == -1 ||
	    ((what & SB_SOCKETS) && ALLOW(ctx, sockets) == -1) ||
	    ((what & SB_SPLICE) && ALLOW(ctx, splice_) == -1) ||
	    ((what & SB_UNLINK) && ALLOW(ctx, unlink_) == -1) ||
	    ((what & SB_FDSTORE) && ALLOW(ctx, fdstore) == -1) ||
	    ((what & SB_DEFER) && allow_defer(ctx) == -1) ||
	    ((what & SB_NETLINK) && (ALLOW(ctx, netlink) == -1 ||
	    allow_socket(ctx) == -1)))
		goto out;
	if ((fd = memfd_create("seccomp", MFD_CLOEXEC)) == -1) {
		r = -errno;
		goto out;
	}
	if ((r = seccomp_export_bpf(ctx, fd)) < 0)
		goto out;
	r = -EINVAL;
	if (fstat(fd, &st) == -1 || st.st_size == 0 ||
	    st.st_size % sizeof(struct sock_filter) != 0 ||
	    st.st_size / sizeof(struct sock_filter) > BPF_MAXINSNS)
		goto out;
	if ((p = malloc(st.st_size)) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	if (pread(fd, p, st.st_size, 0) != st.st_size)
		goto out;
	free(prog.filter);
	prog.filter = p;
	prog.len = st.st_size / sizeof(struct sock_filter);
	p = NULL;
	r = 0;
out:
	free(p);
	if (fd != -1)
		close(fd);
	seccomp_release(ctx);
	return r;
}
#endif

/*
 * Build the filter for what, without installing it: the work a process
 * can do before a time-critical step (a handoff), so that sandbox_enter()
 * after it is a single system call.  Returns 0, or -1 with errno set.
 */
int
sandbox_prepare(unsigned what)
{
#if defined(__linux__) && !defined(SB_ASAN)
	int r;

	if ((r = build(what)) < 0) {
		errno = -r;
		return -1;
	}
#else
	(void)what;
#endif
	return 0;
}

/*
 * From now on, only the system calls of the filter sandbox_prepare()
 * built.  Returns 0, or -1 with errno set; a process that cannot sandbox
 * itself should say so and stop, rather than run unconfined believing it
 * is not.
 */
int
sandbox_enter(void)
{
	if (no_new_privs() == -1)
		return -1;
#if defined(__linux__) && !defined(SB_ASAN)
	if (prog.filter == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == -1)
		return -1;
	free(prog.filter);
	prog.filter = NULL;
#endif
	return 0;
}

/* sandbox_prepare(what), then sandbox_enter(). */
int
sandbox(unsigned what)
{
	if (sandbox_prepare(what) == -1)
		return -1;
	return sandbox_enter();
}
