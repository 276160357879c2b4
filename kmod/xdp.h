/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _MAQ_XDP_H
#define _MAQ_XDP_H

void maq_xdp_init(void);

#endif /* _MAQ_XDP_H */
