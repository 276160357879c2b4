// SPDX-License-Identifier: GPL-2.0
/*
 * maquis.ko circuits for the bench: see kmod_circ.h.
 */
#include <sodium.h>
#include <maquis/wire.h>

#include "../kmod/common.h"
#include "kmod_circ.h"

struct kmod_env {
	struct maq_nl *nl;
	uint32_t ifindex;
	char ifname[IF_NAMESIZE];
};

int kmod_open(struct kmod_env **kp, const char *ifname, char *err,
	      size_t errlen)
{
	struct kmod_env *k;
	int ret;

	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	snprintf(k->ifname, sizeof(k->ifname), "%s", ifname);
	ret = link_add(ifname, maq_kind());
	if (ret) {
		snprintf(err, errlen, "ip link add %s type %s: %s", ifname,
			 maq_kind(), strerror(-ret));
		free(k);
		return ret;
	}
	ret = link_up(ifname);
	k->ifindex = if_nametoindex(ifname);
	if (!ret)
		ret = maq_nl_open(&k->nl);
	if (ret) {
		snprintf(err, errlen, "%s: up / netlink: %s", ifname,
			 strerror(-ret));
		kmod_close(k);
		return ret;
	}
	*kp = k;
	return 0;
}

void kmod_close(struct kmod_env *k)
{
	if (!k)
		return;
	if (k->nl)
		maq_nl_close(k->nl);
	link_del(k->ifname);
	free(k);
}

uint32_t kmod_ifindex(const struct kmod_env *k)
{
	return k->ifindex;
}

int kmod_install(struct kmod_env *k, uint32_t n, uint32_t cid_base,
		 const uint8_t key[32], const struct sockaddr_in *next,
		 const struct sockaddr_in *prev, char *err, size_t errlen)
{
	struct maq_circuit c;
	struct maq_hop *h = &c.hops[0];
	uint32_t i;
	int ret = 0;

	memset(&c, 0, sizeof(c));
	c.ifindex = k->ifindex;
	c.role = MAQUIS_ROLE_RELAY;
	c.next.in4 = *next;
	c.prev.in4 = *prev;
	c.lifetime = 86400;
	c.n_hops = 1;
	h->has = MAQ_HOP_ALL;
	memcpy(h->fwd_key, key, MAQUIS_KEY_LEN);
	for (i = 0; i < n; i++) {
		c.id = i + 1;
		c.fwd_cid_in = cid_base + i;
		c.fwd_cid_out = (cid_base + i) | 0x40000000u;
		c.back_cid_in = (cid_base + i) | 0x20000000u;
		c.back_cid_out = (cid_base + i) | 0x60000000u;
		randombytes_buf(h->back_key, MAQUIS_KEY_LEN);
		randombytes_buf(h->fwd_ctl_key, MAQUIS_KEY_LEN);
		randombytes_buf(h->back_ctl_key, MAQUIS_KEY_LEN);
		randombytes_buf(&h->fwd_seq, sizeof(h->fwd_seq));
		randombytes_buf(&h->back_seq, sizeof(h->back_seq));
		h->fwd_seq &= MAQ_SEQ_CTR_MASK;
		h->back_seq &= MAQ_SEQ_CTR_MASK;
		ret = maq_nl_circuit_new(k->nl, &c);
		if (ret) {
			snprintf(err, errlen, "circuit-new %u of %u: %s (%s)",
				 i + 1, n, strerror(-ret),
				 maq_nl_errmsg(k->nl));
			break;
		}
	}
	maq_circuit_wipe(&c);
	return ret;
}

int kmod_delete(struct kmod_env *k, uint32_t n, char *err, size_t errlen)
{
	uint32_t i;
	int ret;

	for (i = 0; i < n; i++) {
		ret = maq_nl_circuit_del(k->nl, k->ifindex, i + 1);
		if (ret) {
			snprintf(err, errlen, "circuit-del %u of %u: %s (%s)",
				 i + 1, n, strerror(-ret),
				 maq_nl_errmsg(k->nl));
			return ret;
		}
	}
	return 0;
}

long kmod_count(struct kmod_env *k)
{
	struct maq_dev d;
	int ret = maq_nl_dev_get(k->nl, k->ifindex, &d);

	return ret ? ret : (long)d.n_circuits;
}

int kmod_cells(struct kmod_env *k, uint64_t *out, uint64_t *dropped)
{
	struct maq_dev d;
	int ret = maq_nl_dev_get(k->nl, k->ifindex, &d);
	int i;

	if (ret)
		return ret;
	if (!(d.stats.present & (1u << MAQUIS_A_STATS_CELLS_OUT)))
		return -ENODATA;
	*out = d.stats.val[MAQUIS_A_STATS_CELLS_OUT];
	/* the drop counters run from the first drop reason up to CTL_UP */
	*dropped = 0;
	for (i = MAQUIS_A_STATS_DROP_UNKNOWN_CID; i < MAQUIS_A_STATS_CTL_UP; i++)
		*dropped += d.stats.val[i];
	return 0;
}

int kmem_read(struct kmem *m)
{
	long long total = -1, free_ = -1, buf = -1, cached = -1, srecl = -1;
	char line[256], key[64];
	long long v;
	FILE *f;

	memset(m, 0, sizeof(*m));
	f = fopen("/proc/meminfo", "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63[^:]: %lld", key, &v) != 2)
			continue;
		v *= 1024;
		if (!strcmp(key, "MemTotal"))
			total = v;
		else if (!strcmp(key, "MemFree"))
			free_ = v;
		else if (!strcmp(key, "Buffers"))
			buf = v;
		else if (!strcmp(key, "Cached"))
			cached = v;
		else if (!strcmp(key, "SReclaimable"))
			srecl = v;
		else if (!strcmp(key, "SUnreclaim"))
			m->slab_unrecl = v;
		else if (!strcmp(key, "Percpu"))
			m->percpu = v;
		else if (!strcmp(key, "VmallocUsed"))
			m->vmalloc = v;
	}
	fclose(f);
	if (total < 0 || free_ < 0 || buf < 0 || cached < 0 || srecl < 0)
		return -EPROTO;
	m->used = total - free_ - buf - cached - srecl;
	return 0;
}
