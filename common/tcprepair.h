/* ISC license: see LICENSE. */
#ifndef TCPREPAIR_H
#define TCPREPAIR_H

#include <stddef.h>
#include <stdint.h>

#include "perr.h"

/*
 * A TCP connection's state as Linux's TCP_REPAIR reads and rebuilds it
 * (tcprepair.c; fdholder -x and -X, fdproto(7)): the addresses, the
 * sequence numbers after each queue, the options the two ends agreed on,
 * the window, the timestamp clock, and both queues' bytes.
 */
#define TCPR_OPT_TS	0x01	/* TCPI_OPT_TIMESTAMPS */
#define TCPR_OPT_SACK	0x02	/* TCPI_OPT_SACK */
#define TCPR_OPT_WSCALE	0x04	/* TCPI_OPT_WSCALE */

struct tcpconn {
	int		 family;	/* AF_INET or AF_INET6 */
	unsigned char	 laddr[16];
	unsigned char	 raddr[16];
	uint16_t	 lport;
	uint16_t	 rport;
	unsigned	 opts;		/* TCPR_OPT_* */
	unsigned	 snd_wscale;
	unsigned	 rcv_wscale;
	unsigned	 mss;
	uint32_t	 snd_seq;	/* after the send queue's last byte */
	uint32_t	 rcv_seq;	/* after the receive queue's end */
	uint32_t	 tsval;		/* TCP_TIMESTAMP */
	uint32_t	 wl1, wnd, maxwnd, rwnd, rwup;	/* TCP_REPAIR_WINDOW */
	unsigned char	*sndq;		/* sent or not, unacknowledged */
	size_t		 sndlen;
	size_t		 unsent;	/* of sndlen, never sent: the tail */
	unsigned char	*rcvq;		/* received, not read */
	size_t		 rcvlen;
};

int	tcpr_supported(void);
int	tcpr_freeze(int, struct perr *);
int	tcpr_thaw(int);
int	tcpr_dump(int, struct tcpconn *, struct perr *);
int	tcpr_restore(const struct tcpconn *, struct perr *);
void	tcpr_free(struct tcpconn *);
const char *tcpr_str(const struct tcpconn *, int remote);

#endif
