/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _MAQ_CELL_H
#define _MAQ_CELL_H

#include <linux/netdevice.h>
#include <linux/skbuff.h>

#include "circuit.h"

int maq_cell_rcv(struct sock *sk, struct sk_buff *skb);
netdev_tx_t maq_cell_xmit(struct sk_buff *skb, struct net_device *dev);
int maq_cell_send_link(struct maq_device *md, const struct maq_addr *peer,
		       const u8 *cell);
int maq_cell_send_ctl(struct maq_device *md, struct maq_circuit *c, int hop,
		      const u8 *ctl);

/*
 * The relay step on a contiguous cell, for the socket path and xdp.c: it
 * returns one of these or the enum maquis_drop the cell was dropped (and
 * counted) for.
 */
#define MAQ_RX_OK	(-1)	/* the cell to send or deliver is at *out */
#define MAQ_RX_CTL	(-2)	/* control for this hop */

int maq_rx_fwd_cell(struct maq_device *md, struct maq_circuit *c,
		    struct maq_dir *d, u8 *cell, bool ctl_open, u8 **out);
int maq_rx_back_cell(struct maq_device *md, struct maq_circuit *c,
		     struct maq_dir *d, u8 *cell, u8 **out);

#endif /* _MAQ_CELL_H */
