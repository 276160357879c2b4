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

#endif /* _MAQ_CELL_H */
