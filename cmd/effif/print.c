/* ISC license: see LICENSE. */
/*
 * effif's output: an answer as a line, as -v's lines or as -j's JSON
 * object.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <err.h>
#include <stdio.h>
#include <string.h>

#include "effif.h"
#include "exits.h"
#include "json.h"
#include "print.h"

const char *
family_name(int family)
{
	if (family == AF_INET)
		return "inet";
	if (family == AF_INET6)
		return "inet6";
	return NULL;
}

static const char *
gateway_str(const struct answer *a, char *buf, size_t len)
{
	if (a->gateway.family == 0)
		return NULL;
	return inet_ntop(a->gateway.family, a->gateway.a, buf, len);
}

/* The effective interface, or NULL when there is none. */
static const struct hop *
answer_last(const struct answer *a)
{
	if (a->status > EXIT_REFUSED || a->nchain == 0)
		return NULL;
	return &a->chain[a->nchain - 1];
}

static void
put_json(FILE *f, const struct answer *a, const char *name)
{
	const struct hop *last = answer_last(a);
	char gw[INET6_ADDRSTRLEN];
	int found = last != NULL, i;

	fputs("{\"interface\":", f);
	json_str(f, name);
	fprintf(f, ",\"status\":%d,\"error\":", a->status);
	json_str(f, a->status > EXIT_REFUSED ? a->error : NULL);
	fputs(",\"effective\":", f);
	json_str(f, found ? last->name : NULL);
	if (found)
		fprintf(f, ",\"index\":%u", last->index);
	else
		fputs(",\"index\":null", f);
	fputs(",\"method\":", f);
	json_str(f, a->nchain > 0 && a->chain[0].method != M_NONE ?
	    method_name(a->chain[0].method) : NULL);
	fputs(",\"family\":", f);
	json_str(f, family_name(a->family));
	fputs(",\"gateway\":", f);
	json_str(f, gateway_str(a, gw, sizeof(gw)));
	if (a->table >= 0)
		fprintf(f, ",\"table\":%lld", a->table);
	else
		fputs(",\"table\":null", f);
	if (a->hasmark)
		fprintf(f, ",\"mark\":%lu", (unsigned long)a->mark);
	else
		fputs(",\"mark\":null", f);
	fputs(",\"chain\":[", f);
	for (i = 0; i < a->nchain; i++) {
		fputs(i > 0 ? ",{\"name\":" : "{\"name\":", f);
		json_str(f, a->chain[i].name);
		fprintf(f, ",\"index\":%u,\"method\":", a->chain[i].index);
		json_str(f, a->chain[i].method != M_NONE ?
		    method_name(a->chain[i].method) : NULL);
		putc('}', f);
	}
	fputs("],\"note\":", f);
	json_str(f, a->note[0] != '\0' ? a->note : NULL);
	fputs("}\n", f);
}

static void
put_verbose(FILE *f, const struct answer *a, const char *name, int several)
{
	const struct hop *last = answer_last(a);
	const char *p;
	char gw[INET6_ADDRSTRLEN];
	size_t n;
	int found = last != NULL, i;

	if (several)
		fprintf(f, "%s:\n", name);
	fprintf(f, "\teffective interface: %s\n", found ? last->name : "none");
	if (found)
		fprintf(f, "\tindex: %u\n", last->index);
	fprintf(f, "\tmethod: %s\n",
	    method_name(a->nchain > 0 ? a->chain[0].method : M_NONE));
	fprintf(f, "\tfamily: %s\n", a->family != AF_UNSPEC ?
	    family_name(a->family) : "any");
	fprintf(f, "\tgateway: %s\n", a->gateway.family != 0 ?
	    gateway_str(a, gw, sizeof(gw)) : "none");
	if (a->table == 253 || a->table == 254 || a->table == 255)
		fprintf(f, "\ttable: %s\n", a->table == 253 ? "default" :
		    a->table == 254 ? "main" : "local");
	else if (a->table >= 0)
		fprintf(f, "\ttable: %lld\n", a->table);
	else
		fputs("\ttable: none\n", f);
	if (a->hasmark)
		fprintf(f, "\tmark: 0x%lx\n", (unsigned long)a->mark);
	else
		fputs("\tmark: none\n", f);
	if (a->nchain > 0) {
		fputs("\tchain:", f);
		for (i = 0; i < a->nchain; i++) {
			fprintf(f, " %s", a->chain[i].name);
			if (a->chain[i].method != M_NONE)
				fprintf(f, " (%s) ->",
				    method_name(a->chain[i].method));
		}
		putc('\n', f);
	}
	if (!found)
		fprintf(f, "\terror: %s\n", a->error);
	if (a->note[0] != '\0')
		fprintf(f, "\tnote: %s\n", a->note);
	for (p = a->socks; *p != '\0'; p += n + (p[n] == '\n')) {
		n = strcspn(p, "\n");
		fprintf(f, "\tsocket: %.*s\n", (int)n, p);
	}
}

/*
 * The output for one answer.  Out of watch mode a failure prints nothing
 * (its message goes to standard error); in watch mode it prints an empty
 * answer, so that every change is a line.
 */
char *
render(const struct answer *a, const char *name, int pass,
    const struct opts *o)
{
	const struct hop *last = answer_last(a);
	char *text = NULL;
	size_t len;
	FILE *f;

	if ((f = open_memstream(&text, &len)) == NULL)
		err(EXIT_SYS, "open_memstream");
	if (o->jflag)
		put_json(f, a, name);
	else if (last == NULL && !o->wflag)
		;
	else if (o->vflag)
		put_verbose(f, a, name, o->several);
	else {
		if (o->several)
			fprintf(f, "%s\t", name);
		/* Only changes print: say which family changed. */
		if (o->wflag && o->npass > 1)
			fprintf(f, "%s\t", family_name(o->pass[pass]));
		if (last == NULL)
			fputs(o->Iflag ? "0" : "", f);
		else if (o->Iflag)
			fprintf(f, "%u", last->index);
		else
			fputs(last->name, f);
		putc('\n', f);
	}
	if (fclose(f) == EOF)
		err(EXIT_SYS, "open_memstream");
	return text;
}
