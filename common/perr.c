/* ISC license: see LICENSE. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "esc.h"
#include "frame.h"
#include "perr.h"
#include "wire.h"

void
perr_set(struct perr *pe, int code, const char *fmt, ...)
{
	va_list ap;

	pe->code = code;
	pe->errnum = 0;
	pe->remote = 0;
	va_start(ap, fmt);
	vsnprintf(pe->msg, sizeof(pe->msg), fmt, ap);
	va_end(ap);
}

void
perr_sys(struct perr *pe, const char *what)
{
	int e = errno;

	perr_set(pe, PE_SYS, "%s: %s", what, strerror(e));
	pe->errnum = e;
}

/* An F_ERROR frame from the peer, as a perr. */
int
perr_remote(struct perr *pe, const struct frame *f)
{
	char text[sizeof(pe->msg)];
	const char *msg;
	int code, n;

	if (error_get(f, &code, &msg, &n) == -1) {
		perr_set(pe, PE_PROTO, "unexpected frame type %u", f->type);
		return -1;
	}
	/* The peer's words, shown escaped: we print them. */
	perr_set(pe, code, "%s", esc_bytes(text, sizeof(text), msg, n));
	pe->remote = 1;
	return 0;
}

/*
 * Sending failed with EPIPE or ECONNRESET: a peer that refused us may have
 * hung up before our frame was out, its F_ERROR already queued for us.
 * If so, its reason replaces ours.
 */
void
perr_why(int s, struct perr *pe)
{
	struct deadline dl;
	struct frame f;
	struct perr why;

	if (pe->remote || (pe->errnum != EPIPE && pe->errnum != ECONNRESET))
		return;
	deadline_in(&dl, 100);
	if (frame_recv(s, &f, &dl, &why) != 1)
		return;
	if (f.type == F_ERROR && f.nfds == 0 && perr_remote(&why, &f) == 0)
		*pe = why;
	frame_free(&f);
}
