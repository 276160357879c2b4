/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _MAQ_SOCKET_H
#define _MAQ_SOCKET_H

#include <linux/skbuff.h>

#include "device.h"

int maq_socket_open(struct maq_device *md, u16 port,
		    const struct maq_addr *local);
void maq_socket_close(struct maq_device *md);
int maq_socket_send(struct maq_device *md, struct sk_buff *skb,
		    const struct maq_addr *peer);

#endif /* _MAQ_SOCKET_H */
