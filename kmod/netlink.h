/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _MAQ_NETLINK_H
#define _MAQ_NETLINK_H

#include "device.h"

int maq_nl_init(void);
void maq_nl_uninit(void);

/* Notifications to the "events" group; -1 leaves dir, phase, hop out. */
void maq_nl_event(struct maq_device *md, u32 id, enum maquis_event event,
		  int dir, int phase, int hop, u64 count);
void maq_nl_cell(struct maq_device *md, const struct maq_addr *peer,
		 const u8 *cell);
void maq_nl_ctl(struct maq_device *md, u32 id, const u8 *ctl, int hop);

#endif /* _MAQ_NETLINK_H */
