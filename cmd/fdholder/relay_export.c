/* ISC license: see LICENSE. */
/*
 * The holder's side of a move to another host (migrate.h): an exporter
 * asked (F_EXPORT).  The connection is frozen (TCP_REPAIR) and its state
 * sent, with the bytes read from it not yet written out and what -i has
 * not sent yet; the holder then waits for the verdict as for a successor's
 * F_ACK (ctl_handoff.c), and thaws its socket and resumes without it.
 */
#include <sys/types.h>

#include <err.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "exits.h"
#include "migrate.h"
#include "mrec.h"

/*
 * What the pipe holds, into ob after what ob has: in that order they go
 * out.  A pipe cannot cross hosts, and the bytes, read, stay ours whether
 * the move is made or not.
 */
static int
pipe_drain(struct relay *rl, struct perr *pe)
{
	size_t n = rl->ob.len + rl->inpipe;
	char *p;
	ssize_t r;

	if (rl->inpipe == 0)
		return 0;
	if ((p = malloc(n)) == NULL) {
		perr_sys(pe, "malloc");
		return -1;
	}
	memcpy(p, rl->ob.p + rl->ob.off, rl->ob.len);
	while (rl->inpipe > 0) {
		r = read(rl->pr, p + n - rl->inpipe, rl->inpipe);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			/* What was read is kept, to go out first. */
			buf_set(&rl->ob, p, n - rl->inpipe);
			free(p);
			perr_sys(pe, "read pipe");
			return -1;
		}
		rl->inpipe -= r;
	}
	buf_set(&rl->ob, p, n);
	free(p);
	return 0;
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Freeze, read, send: the exporter has the record, or we resume. */
void
relay_export(struct relay *rl)
{
	struct ctl *c = rl->ctl;
	struct wbuf b = { 0 };
	struct mrec m;
	struct perr pe;

	memset(&m, 0, sizeof(m));
	if (rl->eof || rl->shut || rl->broke) {
		perr_set(&pe, PE_REFUSED, "the connection is ending: nothing "
		    "to move");
		ctl_drop(c, &pe);
		return;
	}
	m.frozen = now_ns();
	if (tcpr_freeze(rl->conn, &pe) == -1) {
		warnx("%s: export: %s", c->ep.addr.str, pe.msg);
		ctl_drop(c, &pe);
		return;
	}
	rl->frozen = 1;
	if (pipe_drain(rl, &pe) == -1 || tcpr_dump(rl->conn, &m.tc, &pe) == -1)
		goto fail;
	m.ob = rl->ob.p + rl->ob.off;
	m.olen = rl->ob.len;
	m.ib = rl->ib.p + rl->ib.off;
	m.ilen = rl->ib.len;
	mrec_put(&b, &m);
	if (b.oom)
		perr_set(&pe, PE_SYS, "out of memory");
	else if (b.len > PROTO_MAXLEN)
		perr_set(&pe, PE_LIMIT, "its state is %zu bytes, more than a "
		    "record's %d: try again when the queues are shorter",
		    b.len, PROTO_MAXLEN);
	else if (frame_send(c->succ, &(struct frout){ .type = F_STATE,
	    .data = b.p, .len = b.len }, &c->until, &pe) == 0) {
		ctl_exported(c);
		goto out;
	}
fail:
	warnx("%s: export: %s; resumed", c->ep.addr.str, pe.msg);
	relay_thaw(rl);
	ctl_drop(c, &pe);
out:
	tcpr_free(&m.tc);
	wb_free(&b);
}

/* The exporter is gone, or the importer could not: go on as before. */
void
relay_thaw(struct relay *rl)
{
	if (!rl->frozen)
		return;
	if (tcpr_thaw(rl->conn) == -1)
		err(EXIT_SYS, "%s port %s: TCP_REPAIR off", rl->host, rl->port);
	rl->frozen = 0;
}
