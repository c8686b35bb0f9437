/* ISC license: see LICENSE. */
/*
 * Fuzz effif's parsers of rtnetlink replies: raw netlink buffers, as the
 * kernel (or something pretending to be it) would answer a dump of links,
 * rules or routes.  The Linux layer's files are included here whole.  The
 * first byte picks the dump.
 */
#include "../../cmd/effif/nl.c"
#include "../../cmd/effif/links.c"
#include "../../cmd/effif/rules.c"
#include "../../cmd/effif/routes.c"
#include "../../cmd/effif/methods.c"
#include "../../cmd/effif/scan.c"
#include "../../cmd/effif/sockets.c"
#include "../../cmd/effif/linux.c"
#include "../../cmd/effif/owner.c"
#include "../../cmd/effif/syserr.c"

/* effif.c has main(); the parsers need only this from it. */
const char *
method_name(enum method m)
{
	(void)m;
	return "method";
}

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sys s;
	struct route rt;
	void *buf;
	int i;

	if (size < 1 || size > 65536)
		return 0;
	/* mnl wants the messages aligned, as a recv buffer would be. */
	if ((buf = malloc(size)) == NULL)
		return 0;
	memcpy(buf, data + 1, size - 1);
	memset(&s, 0, sizeof(s));
	s.links.size = sizeof(struct link);
	s.rules[0].size = s.rules[1].size = sizeof(struct rule);
	s.routes[0].size = s.routes[1].size = sizeof(struct route);
	switch (data[0] % 4) {
	case 0:
		nl_run(buf, size - 1, 0, 0, link_cb, &s);
		break;
	case 1:
		nl_run(buf, size - 1, 0, 0, rule_cb, &s);
		break;
	case 2:
		nl_run(buf, size - 1, 0, 0, route_cb, &s);
		break;
	case 3:
		memset(&rt, 0, sizeof(rt));
		nl_run(buf, size - 1, 0, 0, getroute_cb, &rt);
		break;
	}
	free(s.links.v);
	for (i = 0; i < 2; i++) {
		free(s.rules[i].v);
		free(s.routes[i].v);
	}
	free(buf);
	return 0;
}
