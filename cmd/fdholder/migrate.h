/* ISC license: see LICENSE. */
/*
 * Moving a held connection to another host (fdholder -x and -X,
 * fdholder(1)'s MOVING A CONNECTION, fdproto(7)'s F_EXPORT):
 *
 *	importer (-X)		exporter (-x)		holder
 *	runs the exporter's command, talks over its stdin and stdout
 *				connect, F_EXPORT ->	freezes it
 *			<- F_STATE	<- F_STATE	(TCP_REPAIR)
 *	rebuilds it
 *	F_ACK ->		F_ACK ->		closes it: no packet
 *			<- F_ACK	<- EOF		exits 0
 *	thaws it, goes on
 *
 * An F_ERROR, or an end of file, before the holder has the F_ACK: the
 * holder thaws its socket and resumes, the importer closes its copy
 * (still frozen: nothing is sent), and each says why.
 */
#ifndef MIGRATE_H
#define MIGRATE_H

#include "relay.h"

int	import_take(struct relay *, char *const cmd[]);
void	relay_export(struct relay *);
void	relay_thaw(struct relay *);

#endif
