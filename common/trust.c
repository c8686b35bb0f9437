/* ISC license: see LICENSE. */
/*
 * Who may talk to us: trust lists from -u and -g, and the credentials of
 * the peer on a UNIX socket, as DESIGN's "Trust" says.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <err.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exits.h"
#include "trust.h"
#include "util.h"

/* Add a comma-separated list of users or groups, names or numbers. */
void
etrust_add(struct trust *t, const char *list, int groups)
{
	char *copy, *s, *tok;
	const char *errstr;
	struct passwd *pw;
	struct group *gr;
	long long id;

	if ((copy = s = strdup(list)) == NULL)
		err(EXIT_SYS, "strdup");
	while ((tok = strsep(&s, ",")) != NULL) {
		if (*tok == '\0')
			errx(EXIT_USAGE, "empty %s in list: %s",
			    groups ? "group" : "user", list);
		id = strtonum(tok, 0, UINT_MAX - 1, &errstr);
		if (errstr != NULL && groups) {
			if ((gr = getgrnam(tok)) == NULL)
				errx(EXIT_USAGE, "unknown group: %s", tok);
			id = gr->gr_gid;
		} else if (errstr != NULL) {
			if ((pw = getpwnam(tok)) == NULL)
				errx(EXIT_USAGE, "unknown user: %s", tok);
			id = pw->pw_uid;
		}
		if (groups) {
			t->gids = reallocarray(t->gids, t->ngids + 1,
			    sizeof(gid_t));
			if (t->gids == NULL)
				err(EXIT_SYS, "reallocarray");
			t->gids[t->ngids++] = (gid_t)id;
		} else {
			t->uids = reallocarray(t->uids, t->nuids + 1,
			    sizeof(uid_t));
			if (t->uids == NULL)
				err(EXIT_SYS, "reallocarray");
			t->uids[t->nuids++] = (uid_t)id;
		}
	}
	free(copy);
}

void
trust_free(struct trust *t)
{
	free(t->uids);
	free(t->gids);
	memset(t, 0, sizeof(*t));
}

int
trust_widened(const struct trust *t)
{
	return t->nuids > 0 || t->ngids > 0;
}

/* The peer's credentials: on Linux one SO_PEERCRED gives all three. */
int
peer_get(int fd, struct peer *p)
{
#if defined(SO_PEERCRED) && defined(__linux__)
	struct ucred uc;
	socklen_t len = sizeof(uc);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) == -1)
		return -1;
	p->uid = uc.uid;
	p->gid = uc.gid;
	p->pid = uc.pid;
#else
	p->pid = -1;
	if (getpeereid(fd, &p->uid, &p->gid) == -1)
		return -1;
#if defined(LOCAL_PEERPID)
	{
		pid_t pid;
		socklen_t len = sizeof(pid);

		if (getsockopt(fd, SOL_LOCAL, LOCAL_PEERPID, &pid, &len) == 0)
			p->pid = pid;
	}
#endif
#endif
	return 0;
}

int
peer_trusted(const struct peer *p, const struct trust *t)
{
	size_t i;

	if (p->uid == 0 || p->uid == geteuid())
		return 1;
	for (i = 0; i < t->nuids; i++)
		if (t->uids[i] == p->uid)
			return 1;
	for (i = 0; i < t->ngids; i++)
		if (t->gids[i] == p->gid)
			return 1;
	return 0;
}

/* "uid 1000 gid 1000 pid 42", for log lines. */
const char *
peer_str(const struct peer *p)
{
	static char buf[80];

	if (p->pid > 0)
		snprintf(buf, sizeof(buf), "uid %u gid %u pid %ld",
		    (unsigned)p->uid, (unsigned)p->gid, (long)p->pid);
	else
		snprintf(buf, sizeof(buf), "uid %u gid %u",
		    (unsigned)p->uid, (unsigned)p->gid);
	return buf;
}
