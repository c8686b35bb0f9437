/* ISC license: see LICENSE. */
/*
 * Fuzz what an importer (fdholder -X) reads from another host: bytes on
 * the transport, read as frames (pframe_read) and each F_STATE decoded as
 * a connection's record (mrec_get).  No crash, no leak, and a record that
 * decodes re-encodes to the same bytes.
 */
#include <stdlib.h>

#include "mrec.h"

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct frame f;
	struct perr pe;
	struct mrec m;
	struct rbuf r;
	struct wbuf b = { 0 };
	int p[2], before;

	if (size > 60000)
		return 0;
	before = lowest_free();
	if (pipe(p) == -1 || write(p[1], data, size) != (ssize_t)size)
		abort();
	close(p[1]);
	while (pframe_read(p[0], &f, NULL, &pe) == 1) {
		rb_init(&r, f.data, f.len);
		if (f.type == F_STATE && mrec_get(&r, &m, &pe) == 0) {
			mrec_put(&b, &m);
			if (b.oom || b.len != f.len ||
			    memcmp(b.p, f.data, b.len) != 0)
				abort();
			wb_free(&b);
			memset(&b, 0, sizeof(b));
		}
		frame_free(&f);
	}
	close(p[0]);
	if (lowest_free() != before)
		abort();
	return 0;
}
