/* ISC license: see LICENSE. */
/*
 * Fuzz the store's request handling (cmd/fdholder/store_*.c, included whole
 * with the control socket's ctl.c): what one client sends, as segments of
 * bytes, each sent by its own sendmsg with 0 to 3 fds riding on it.  A
 * segment is a byte (its fd count, low two bits), a big endian 16-bit
 * length, the bytes.  Then the client hangs up, and the store serves it to
 * the end.  No crash, no leak: once the store is emptied, every fd it took
 * is closed, and no reservation is left behind.
 */
#include "../../cmd/fdholder/ctl.c"
#include "../../cmd/fdholder/ctl_handoff.c"
#include "../../cmd/fdholder/ops.c"
#include "../../cmd/fdholder/store_entry.c"
#include "../../cmd/fdholder/store_due.c"
#include "../../cmd/fdholder/store_client.c"
#include "../../cmd/fdholder/store_request.c"
#include "../../cmd/fdholder/store_handoff.c"
#include "../../cmd/fdholder/store_loop.c"
#include "../../cmd/fdholder/sdstore.c"

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct trust rights[OP_N];
	static struct store st;
	struct addr a;
	struct ctl c;
	struct client *cl;
	size_t off = 0, n;
	int sv[2], before, rounds;

	if (size > 16384)
		return 0;
	signal(SIGPIPE, SIG_IGN);
	before = lowest_free();
	if (addr_parse(&a, "@fdtools-fuzz-store") == -1)
		abort();
	ctl_init(&c, &a, HOLD_STORE, rights, 1000);
	memset(&st, 0, sizeof(st));
	st.ctl = &c;
	st.maxentries = 8;
	st.maxfds = 16;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		abort();
	while (size - off >= 3) {
		n = (size_t)data[off + 1] << 8 | data[off + 2];
		if (n > size - off - 3)
			n = size - off - 3;
		send_with_fds(sv[0], data + off + 3, n, data[off] & 3);
		off += 3 + n;
	}
	close(sv[0]);		/* the store sees the end: no waiting */
	cl = &st.cl[st.ncl++];
	cl->fd = sv[1];
	cl->peer.uid = geteuid();
	cl->peer.gid = getegid();
	cl->peer.pid = getpid();
	cl->pi = -1;
	client_next(&st, cl);
	/* As poll would say it: readable, writable, the peer gone. */
	for (rounds = 0; st.ncl > 0 && rounds < 256; rounds++)
		client_event(&st, 0, POLLIN | POLLOUT | POLLHUP);
	while (st.ncl > 0)
		client_close(&st, 0);
	if (c.succ != -1)
		ctl_drop(&c, NULL);
	store_clear(&st);
	if (st.nfds != 0 || st.nentries != 0 || st.nreserved != 0 ||
	    lowest_free() != before)
		abort();	/* an fd leaked, or the counts lie */
	return 0;
}
