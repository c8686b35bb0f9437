/* ISC license: see LICENSE. */
/*
 * JSON strings, for effif -j and fdholder -L -j.
 */
#include <stdio.h>

#include "json.h"

/*
 * s as a JSON string, or null.  Names are bytes, not UTF-8: every byte
 * above 0x7e, like every control byte, is written as \u00XX, so that the
 * output is always JSON and the string's code points are the name's bytes
 * (Python: s.encode("latin-1")).
 */
void
json_str(FILE *f, const char *s)
{
	const unsigned char *p;

	if (s == NULL) {
		fputs("null", f);
		return;
	}
	putc('"', f);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			putc(*p, f);
	}
	putc('"', f);
}
