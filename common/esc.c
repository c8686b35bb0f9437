/* ISC license: see LICENSE. */
/*
 * Bytes from a peer, or from an argument, as an error message shows them:
 * never raw on a terminal (DESIGN's "The process's edges").
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
/* libbsd's strnvis is OpenBSD's unless told; macOS has NetBSD's. */
#define LIBBSD_NETBSD_VIS
#include <vis.h>

#include "esc.h"

/*
 * n bytes of s as strvis(3) shows them, in buf of len bytes (cut to fit):
 * every byte but printable ASCII and the space is escaped, in octal or as
 * C does (\033, \200, \n, \t, \\), so that a message stays one line of
 * text and reads back unambiguously.
 */
const char *
esc_bytes(char *buf, size_t len, const char *s, size_t n)
{
	char *v;

	if (n > (SIZE_MAX - 1) / 4 || (v = malloc(4 * n + 1)) == NULL) {
		strlcpy(buf, "(bytes not shown: out of memory)", len);
		return buf;
	}
	strvisx(v, s, n, VIS_OCTAL | VIS_CSTYLE | VIS_TAB | VIS_NL);
	strlcpy(buf, v, len);
	free(v);
	return buf;
}

/* The same for a string, in a buffer of ours, for one message at a time. */
const char *
esc(const char *s)
{
	static char buf[1024];

	return esc_bytes(buf, sizeof(buf), s, strlen(s));
}
