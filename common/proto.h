/* ISC license: see LICENSE. */
#ifndef PROTO_H
#define PROTO_H

/*
 * The wire protocol, fdproto(7), for the tools: one include for its
 * parts, each in a file of its own.
 *
 *	perr.h	what went wrong, and the codes of F_ERROR
 *	frame.h	frames over a socket: their header, send, receive, decode
 *	scm.h	one message with fds (SCM_RIGHTS), timed
 *	offer.h	sets of fds and their names offered (F_OFFER), confirmed
 *		(F_ACK)
 *	outq.h	frames queued for a non-blocking socket
 *	raw.h	raw mode: fds without frames
 *	wire.h	the bytes of each frame's payload
 */
#include "frame.h"
#include "offer.h"
#include "outq.h"
#include "perr.h"
#include "raw.h"
#include "scm.h"

#endif
