// SPDX-License-Identifier: GPL-2.0
/*
 * maquisd's aliases (PROTOCOL 9), in four roles a daemon may hold at once:
 *
 *   store    every daemon keeps the alias records gossip brings (checked
 *            under their blinded key, newest per key, bounded) and gossips
 *            them on like descriptors, with kinds of their own;
 *   service  an alias of ours: circuits to introduction relays, each given
 *            a token (ESTABLISH_INTRO), and a record listing them; an
 *            INTRODUCE2 makes it build a circuit to the client's
 *            rendezvous relay (RENDEZVOUS1) with end-to-end keys;
 *   relay    as introduction point, token -> the service's circuit, and
 *            INTRODUCE1 passed on as INTRODUCE2; as rendezvous point,
 *            cookie -> the client's circuit, joined to the service's in
 *            the kernel when RENDEZVOUS1 names it;
 *   client   `build to=ALIAS`: the record from the store, a circuit to a
 *            rendezvous relay of its choice (ESTABLISH_RENDEZVOUS), one to
 *            an introduction relay (INTRODUCE1), then RENDEZVOUS2.
 *
 * The circuits it asks for are bare wants (maquisd.h): to a relay named by
 * its identity, claiming no route at the terminus, not in d->wants (so
 * never replaced behind our back); maqd_alias_install/up/gone follow them.
 */
#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <sodium.h>

#include "maquisd.h"

#define STORE_MAX		1024	/* records held */
#define SAME_PREFIX_MAX		8	/* records sharing an 8-byte prefix */
#define STORE_KEEP_S		600	/* an expired record, for the error */
#define DIGEST_MAX		87	/* entries in one digest cell */
#define PUSH_MAX		2	/* records in one push cell */
#define PUSH_PER_DIGEST		8
#define GOSSIP_MS		10000
#define GOSSIP_FIRST_MS		1000
#define FANOUT			3
#define KIND_DIGEST		3	/* GOSSIP kinds, after the descriptors' */
#define KIND_PUSH		4

#define REC_LIFE		3600	/* s a record is valid */
#define REC_REPUBLISH_MS	(1200 * 1000)
#define S_LIFE			86400	/* s a record key serves */
#define N_INTRO			3
#define INTRO_RETRY_MS		2000
#define INTRO_MAX_FAILS		3	/* then another relay */
#define E2E_MTU			1268	/* 1292 less the end-to-end 24 */

#define SHUN_MAX		(MAQ_ALIAS_MAX_INTRO + 1)
#define RP_SAMPLE		16	/* relays a rendezvous relay is drawn from */
#define POINTS_MAX		1024	/* intro and rendezvous points */
#define COOKIE_LIFE_MS		60000
#define SEEN_COOKIES		256

/* --- state ---------------------------------------------------------------- */

enum link_kind { L_INTRO_SVC, L_RV_SVC, L_RV_CLI, L_INTRO_CLI };

/* One circuit alias.c asked for. */
struct alink {
	enum link_kind kind;
	struct maqd_want want;		/* want.owner == this */
	u32 id;				/* origin circuit, 0 until up */
	u32 handle;			/* of the origin we built last */
	bool building;
	void *up;			/* struct intro or struct session */
	/* relays its path leaves out: the other intro points, the RP */
	u8 shun[SHUN_MAX][MAQ_ID_PK_LEN];
	unsigned int n_shun;
};

enum intro_state { I_DOWN, I_BUILDING, I_ASKED, I_UP };

struct owned;

struct intro {
	struct owned *a;
	u8 relay[MAQ_ID_PK_LEN];
	u8 token[MAQ_ALIAS_TOKEN_LEN];
	enum intro_state state;
	struct alink l;
	u64 nonce;
	u64 retry_ms;
	unsigned int fails;
};

struct owned {
	struct owned *next;
	char name[33];
	struct maq_identity id;
	char alias[MAQ_ALIAS_STR_LEN + 1];
	struct in6_addr addr;
	bool publishing, dirty;
	struct maq_onion_key s[2];	/* record keys: current, previous */
	unsigned int n_s;
	u64 s_since;
	struct intro intro[N_INTRO];
	u64 rec_expires;
	u64 rec_published;		/* of the last record, for the next */
	unsigned int rec_intros;	/* intro points it lists */
	u64 next_publish_ms;
	u8 seen[SEEN_COOKIES][MAQ_ALIAS_COOKIE_LEN];
	unsigned int n_seen;
};

struct session {
	struct session *next;
	bool client;
	bool dead;			/* freed once nothing builds */
	struct maqd_conn *waiter;
	u8 pk[MAQ_ALIAS_PK_LEN];
	char alias[MAQ_ALIAS_STR_LEN + 1];
	struct in6_addr alias_addr, client_addr;
	u8 rp[MAQ_ID_PK_LEN];
	u8 cookie[MAQ_ALIAS_COOKIE_LEN];
	u8 e2e[MAQ_ALIAS_E2E_LEN];
	u8 auth[MAQ_AMSG_AUTH_LEN];
	u8 x_pub[MAQ_ALIAS_X_LEN];	/* the client's ephemeral key */
	struct alink rv, intro;
	/* client */
	struct maq_alias_rec rec;
	unsigned int tried;		/* intro points tried */
	bool rp_ready, introduced, done;
	u64 nonce;
	u64 started_ms, deadline_ms;
	char step[256];			/* what we wait for */
	/* service */
	struct owned *svc;
};

struct rec {
	u8 raw[MAQ_ALIAS_REC_LEN];
	u8 blinded[MAQ_ALIAS_PK_LEN];
	u64 prefix, published, expires;
};

struct point {
	u8 key[MAQ_ALIAS_TOKEN_LEN];	/* token, or cookie and zeros */
	u32 hop;
	u64 until_ms;			/* rendezvous cookies only */
};

static struct {
	struct rec *rec;
	unsigned int n;
	u64 accepted, rejected[MAQ_AREC_N_ERRS], full;
	u64 next_gossip_ms;
	struct owned *owned;
	bool loaded;
	struct session *sessions;
	struct point intro[POINTS_MAX], rv[POINTS_MAX];
	unsigned int n_intro, n_rv;
	u32 joined[POINTS_MAX][2];
	unsigned int n_joined;
	u32 doomed[POINTS_MAX];		/* hops to remove on the next tick */
	unsigned int n_doomed;
	struct maq_nl *nl;		/* circuit-join: the module only */
	u64 introduced, joins, bad;
} A;

static u64 now_ms(void)
{
	return maqd_now_ms();
}

static const char *hex16(const u8 id[MAQ_ID_PK_LEN], char buf[17])
{
	return maqd_id_hex(id, buf);
}

/* --- the record store ------------------------------------------------------ */

static u64 prefix_of(const u8 blinded[MAQ_ALIAS_PK_LEN])
{
	return maq_get_be64(blinded);
}

static struct rec *store_find(const u8 blinded[MAQ_ALIAS_PK_LEN])
{
	unsigned int i;

	for (i = 0; i < A.n; i++)
		if (!memcmp(A.rec[i].blinded, blinded, MAQ_ALIAS_PK_LEN))
			return &A.rec[i];
	return NULL;
}

static void flood(struct maqd *d, const struct rec *r,
		  const union maq_sockaddr *except);

/* 1: taken (new or newer), 0: not newer, -1: refused. */
static int store_offer(struct maqd *d, const u8 *raw, size_t len,
		       const union maq_sockaddr *from)
{
	struct maq_alias_rec h;
	enum maq_arec_err e;
	struct rec *r;
	unsigned int i, same = 0;

	e = maq_alias_rec_check(raw, len, maqd_wall(), &h);
	if (e != MAQ_AREC_OK) {
		A.rejected[e]++;
		return -1;
	}
	r = store_find(h.blinded);
	if (r && r->published >= h.published)
		return 0;
	if (!r) {
		for (i = 0; i < A.n; i++)
			same += A.rec[i].prefix == prefix_of(h.blinded);
		if (A.n == STORE_MAX || same >= SAME_PREFIX_MAX) {
			A.full++;
			return -1;
		}
		if (!A.rec) {
			A.rec = calloc(STORE_MAX, sizeof(*A.rec));
			if (!A.rec)
				return -1;
		}
		r = &A.rec[A.n++];
	}
	memcpy(r->raw, raw, MAQ_ALIAS_REC_LEN);
	memcpy(r->blinded, h.blinded, MAQ_ALIAS_PK_LEN);
	r->prefix = prefix_of(h.blinded);
	r->published = h.published;
	r->expires = h.expires;
	A.accepted++;
	flood(d, r, from);
	return 1;
}

static void store_expire(u64 now)
{
	unsigned int i;

	for (i = 0; i < A.n;) {
		if (now >= A.rec[i].expires + STORE_KEEP_S)
			A.rec[i] = A.rec[--A.n];
		else
			i++;
	}
}

static bool live(const struct rec *r, u64 now)
{
	return now < r->expires;
}

/* --- gossip of records ----------------------------------------------------- */

static int cmp_rec(const void *a, const void *b)
{
	const struct rec *x = *(const struct rec *const *)a;
	const struct rec *y = *(const struct rec *const *)b;

	if (x->prefix != y->prefix)
		return x->prefix < y->prefix ? -1 : 1;
	return x->published < y->published ? -1 : x->published > y->published;
}

static void gossip_send(struct maqd *d, const union maq_sockaddr *to,
			u8 cell[MAQ_CELL_SIZE], size_t used)
{
	randombytes_buf(cell + MAQ_CTL_HDR_LEN + used,
			MAQ_CTL_MSG_LEN - used);
	if (!maqd_cell_send(d, to, cell))
		d->st.gossip_sent++;
}

/* Our digest of [lo, hi]: cells that end between two prefixes. */
static void send_digest(struct maqd *d, const union maq_sockaddr *to, u64 lo,
			u64 hi)
{
	static const struct rec *sorted[STORE_MAX];
	u8 cell[MAQ_CELL_SIZE], *m = cell + MAQ_CTL_HDR_LEN;
	unsigned int n = 0, i, j, k, cells = 0;
	u64 now = maqd_wall(), start = lo;

	for (i = 0; i < A.n; i++)
		if (live(&A.rec[i], now) && A.rec[i].prefix >= lo &&
		    A.rec[i].prefix <= hi)
			sorted[n++] = &A.rec[i];
	qsort(sorted, n, sizeof(*sorted), cmp_rec);
	for (i = 0; i < n || !cells; i = j, cells++) {
		j = i + DIGEST_MAX < n ? i + DIGEST_MAX : n;
		/* never split one prefix over two cells */
		while (j < n && j > i && sorted[j]->prefix == sorted[j - 1]->prefix)
			j--;
		if (j == i)	/* cannot happen: SAME_PREFIX_MAX < DIGEST_MAX */
			j = i + 1 < n ? i + 1 : n;
		maq_ctl_put(cell, MAQ_CTL_GOSSIP, maqd_random_nonzero());
		memset(m, 0, 20);
		m[0] = KIND_DIGEST;
		m[1] = (u8)(j - i);
		maq_put_be64(m + 4, start);
		maq_put_be64(m + 12, j < n ? sorted[j - 1]->prefix : hi);
		for (k = i; k < j; k++) {
			memcpy(m + 20 + 16 * (k - i), sorted[k]->blinded, 8);
			maq_put_be64(m + 28 + 16 * (k - i),
				     sorted[k]->published);
		}
		gossip_send(d, to, cell, 20 + 16 * (j - i));
		if (j < n)
			start = sorted[j - 1]->prefix + 1;
		if (j >= n)
			break;
	}
}

static void send_push(struct maqd *d, const union maq_sockaddr *to,
		      const struct rec *const *r, unsigned int n)
{
	u8 cell[MAQ_CELL_SIZE], *m = cell + MAQ_CTL_HDR_LEN;
	unsigned int i, j;

	for (i = 0; i < n; i += j) {
		maq_ctl_put(cell, MAQ_CTL_GOSSIP, maqd_random_nonzero());
		memset(m, 0, 4);
		m[0] = KIND_PUSH;
		for (j = 0; j < PUSH_MAX && i + j < n; j++)
			memcpy(m + 4 + MAQ_ALIAS_REC_LEN * j, r[i + j]->raw,
			       MAQ_ALIAS_REC_LEN);
		m[1] = (u8)j;
		gossip_send(d, to, cell, 4 + MAQ_ALIAS_REC_LEN * j);
	}
}

/* A record new to us goes on at once: a fresh alias must not wait. */
static void flood(struct maqd *d, const struct rec *r,
		  const union maq_sockaddr *except)
{
	const struct maq_relay *pick[FANOUT + 1];
	unsigned int n, i, sent = 0;
	char a[64], b[64];

	n = maq_view_sample(&d->view, maqd_wall(), pick, FANOUT + 1);
	for (i = 0; i < n && sent < FANOUT; i++) {
		if (except && !strcmp(maq_sockaddr_str(except, a, sizeof(a)),
				      maq_sockaddr_str(&pick[i]->d.addr[0], b,
						       sizeof(b))))
			continue;
		send_push(d, &pick[i]->d.addr[0], &r, 1);
		sent++;
	}
}

static void gossip_tick(struct maqd *d, u64 now)
{
	const struct maq_relay *pick[FANOUT];
	unsigned int n, i;

	if (!A.next_gossip_ms)
		A.next_gossip_ms = now + GOSSIP_FIRST_MS;
	if (now < A.next_gossip_ms)
		return;
	A.next_gossip_ms = now + GOSSIP_MS - randombytes_uniform(GOSSIP_MS / 5);
	store_expire(maqd_wall());
	n = maq_view_sample(&d->view, maqd_wall(), pick, FANOUT);
	for (i = 0; i < n; i++)
		send_digest(d, &pick[i]->d.addr[0], 0, ~0ULL);
}

/* A digest of [lo, hi]: push what it lacks, ask for what we lack. */
static void digest_rx(struct maqd *d, const union maq_sockaddr *peer,
		      const u8 *m, unsigned int count, u64 lo, u64 hi)
{
	const struct rec *out[PUSH_PER_DIGEST] = { NULL };
	unsigned int i, k, n = 0;
	bool behind = false;
	u64 now = maqd_wall();

	for (i = 0; i < A.n && n < PUSH_PER_DIGEST; i++) {
		const struct rec *r = &A.rec[i];
		bool listed = false;

		if (!live(r, now) || r->prefix < lo || r->prefix > hi)
			continue;
		for (k = 0; k < count && !listed; k++)
			listed = maq_get_be64(m + 20 + 16 * k) == r->prefix &&
				 maq_get_be64(m + 28 + 16 * k) >= r->published;
		if (!listed)
			out[n++] = r;
	}
	send_push(d, peer, out, n);
	for (k = 0; k < count && !behind; k++) {
		u64 p = maq_get_be64(m + 20 + 16 * k);
		u64 pub = maq_get_be64(m + 28 + 16 * k);
		bool have = false;

		for (i = 0; i < A.n && !have; i++)
			have = A.rec[i].prefix == p &&
			       A.rec[i].published >= pub;
		behind = !have;
	}
	if (behind)
		send_digest(d, peer, lo, hi);
}

bool maqd_alias_gossip_rx(struct maqd *d, const union maq_sockaddr *peer,
			  const u8 cell[MAQ_CELL_SIZE])
{
	const u8 *m = cell + MAQ_CTL_HDR_LEN;
	unsigned int count = m[1], i;
	u64 lo, hi;

	if (m[0] != KIND_DIGEST && m[0] != KIND_PUSH)
		return false;
	if (m[2] || m[3])
		goto bad;
	if (m[0] == KIND_DIGEST) {
		lo = maq_get_be64(m + 4);
		hi = maq_get_be64(m + 12);
		if (count > DIGEST_MAX || lo > hi)
			goto bad;
		for (i = 0; i < count; i++) {
			u64 p = maq_get_be64(m + 20 + 16 * i);

			if (p < lo || p > hi)
				goto bad;
		}
		d->st.gossip_received++;
		digest_rx(d, peer, m, count, lo, hi);
		return true;
	}
	if (!count || count > PUSH_MAX)
		goto bad;
	d->st.gossip_received++;
	for (i = 0; i < count; i++)
		store_offer(d, m + 4 + MAQ_ALIAS_REC_LEN * i,
			    MAQ_ALIAS_REC_LEN, peer);
	return true;
bad:
	d->st.gossip_bad++;
	return true;
}

/* --- circuits ---------------------------------------------------------------- */

static struct maqd_origin *origin_of(struct maqd *d, u32 id)
{
	struct maqd_origin *o;

	for (o = d->origins; o && o->id != id; o = o->next)
		;
	return id ? o : NULL;
}

static struct maqd_hop *terminus_of(struct maqd *d, u32 id)
{
	struct maqd_hop *h;

	for (h = d->hops; h; h = h->next)
		if (h->id && h->id == id && h->terminus)
			return h;
	return NULL;
}

static void link_init(struct alink *l, enum link_kind kind, void *up)
{
	memset(l, 0, sizeof(*l));
	l->kind = kind;
	l->up = up;
	l->want.owner = l;
	l->want.bare = true;
	/* an intro circuit waits, idle, for INTRODUCEs */
	l->want.hold = kind == L_INTRO_SVC;
	/* never freed by circuits.c: this file owns it */
	l->want.from_config = true;
}

/*
 * Leave relay @id off @l's next path.  An intro relay or the RP that was
 * also a hop of another circuit of the meeting would see an end's address
 * next to a circuit it can tie to the alias by timing.
 */
static void link_shun(struct alink *l, const u8 id[MAQ_ID_PK_LEN])
{
	unsigned int i;

	if (maq_all_zero(id, MAQ_ID_PK_LEN) || l->n_shun == SHUN_MAX)
		return;
	for (i = 0; i < l->n_shun; i++)
		if (!memcmp(l->shun[i], id, MAQ_ID_PK_LEN))
			return;
	memcpy(l->shun[l->n_shun++], id, MAQ_ID_PK_LEN);
}

/* Build to relay @relay, none of @l's shunned relays on the way. */
static int link_build(struct maqd *d, struct alink *l,
		      const u8 relay[MAQ_ID_PK_LEN], char *err, size_t errlen)
{
	int ret;

	maqd_b64(relay, MAQ_ID_PK_LEN, l->want.to, sizeof(l->want.to));
	l->want.hops = d->conf.hops;
	l->want.lifetime = d->conf.lifetime;
	l->want.shun = (const u8 (*)[MAQ_ID_PK_LEN])l->shun;
	l->want.n_shun = l->n_shun;
	/*
	 * liveness's suspects would replace the shunned relays as the
	 * path's exclusions (and be dropped when too few are left): the
	 * shunned ones matter more, local trust keeps the bad ones out
	 */
	l->want.n_exclude = 0;
	ret = maqd_build(d, &l->want, NULL, err, errlen);
	l->building = !ret;
	/* maqd_build() put the new origin first */
	if (!ret)
		l->handle = d->origins->handle;
	return ret;
}

/*
 * Builds we let go of: a circuit still being built when its link is
 * released moves here, and maqd_alias_up() closes it once it is up.
 */
static struct maqd_want orphans = { .bare = true, .from_config = true };

/* Let go of @l's circuits: close what is up, orphan what builds. */
static void link_release(struct maqd *d, struct alink *l)
{
	struct maqd_origin *o, *next;

	for (o = d->origins; o; o = next) {
		next = o->next;
		if (o->want != &l->want)
			continue;
		if (o->state == MAQD_BUILDING) {
			o->want = &orphans;
			continue;
		}
		o->want = NULL;
		if (o->state != MAQD_CLOSING)
			maqd_origin_close(d, o, (int)o->n - 1);
	}
	l->id = 0;
	l->building = false;
}

static int send_msg(struct maqd *d, u32 id, u8 hop, struct maq_amsg *m)
{
	u8 buf[MAQ_AMSG_LEN];
	int ret;

	if (!m->nonce)
		m->nonce = randombytes_random() |
			   (u64)randombytes_random() << 32;
	maq_amsg_put(buf, m);
	ret = maq_dp_ctl_send(d->dp, id, hop, buf);
	if (ret)
		log_debug("alias: message %u on circuit %u: %s", m->type, id,
			  strerror(-ret));
	return ret;
}

/* To the terminus of our circuit @id. */
static int send_fwd(struct maqd *d, u32 id, struct maq_amsg *m)
{
	struct maqd_origin *o = origin_of(d, id);

	return o ? send_msg(d, id, (u8)(o->n - 1), m) : -ENOENT;
}

/* Back to the origin of the circuit this host terminates. */
static int send_back(struct maqd *d, u32 hop, u8 type, u8 status)
{
	struct maq_amsg m = { .type = type, .status = status };

	return send_msg(d, hop, 0, &m);
}

/* --- service: own aliases --------------------------------------------------- */

static int key_file(const struct maqd *d, const char *name, char *buf,
		    size_t len)
{
	int n = snprintf(buf, len, "%s/alias-%s.key", d->conf.key_dir, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static struct owned *owned_add(const char *name, struct maq_identity *id)
{
	struct owned *a = calloc(1, sizeof(*a)), **p;
	unsigned int i;

	if (!a)
		return NULL;
	snprintf(a->name, sizeof(a->name), "%s", name);
	a->id = *id;
	maq_alias_encode(a->alias, id->pk);
	maq_alias_addr(id->pk, &a->addr);
	for (i = 0; i < N_INTRO; i++) {
		a->intro[i].a = a;
		link_init(&a->intro[i].l, L_INTRO_SVC, &a->intro[i]);
	}
	for (p = &A.owned; *p; p = &(*p)->next)
		;
	*p = a;
	return a;
}

/* Every alias-NAME.key of key-dir, once. */
static void owned_load(struct maqd *d)
{
	struct maq_identity id;
	struct dirent *de;
	char path[PATH_MAX], name[64], err[512];
	DIR *dir;
	size_t n;

	if (A.loaded)
		return;
	A.loaded = true;
	dir = opendir(d->conf.key_dir);
	if (!dir)
		return;
	while ((de = readdir(dir))) {
		n = strlen(de->d_name);
		if (n <= 10 || strncmp(de->d_name, "alias-", 6) ||
		    strcmp(de->d_name + n - 4, ".key") || n - 10 >= sizeof(name))
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(n - 10),
			 de->d_name + 6);
		if (!maq_alias_name_ok(name) || key_file(d, name, path, sizeof(path)))
			continue;
		if (maq_identity_load(path, &id, err, sizeof(err))) {
			log_warn("alias %s: %s", name, err);
			continue;
		}
		owned_add(name, &id);
		maq_identity_wipe(&id);
	}
	closedir(dir);
}

static struct owned *owned_find(const char *name)
{
	struct owned *a;

	for (a = A.owned; a; a = a->next)
		if (!strcmp(a->name, name))
			return a;
	return NULL;
}

static void owned_put(struct maq_ipc_out *o, const struct owned *a)
{
	char b[INET6_ADDRSTRLEN];

	maq_ipc_put(o, "alias", "%s", a->alias);
	maq_ipc_put(o, "name", "%s", a->name);
	maq_ipc_put(o, "address", "%s",
		    inet_ntop(AF_INET6, &a->addr, b, sizeof(b)));
}

static int alias_new(struct maqd *d, const char *name, struct maq_ipc_out *o,
		     char *err, size_t errlen)
{
	struct maq_identity id;
	struct owned *a;
	char path[PATH_MAX], why[512];
	int ret;

	if (!*name)
		name = "default";
	if (!maq_alias_name_ok(name)) {
		snprintf(err, errlen,
			 "alias name '%.32s': 1 to 32 of a-z 0-9 - _", name);
		return -EINVAL;
	}
	if (owned_find(name)) {
		snprintf(err, errlen, "alias '%s' exists already", name);
		return -EEXIST;
	}
	if (key_file(d, name, path, sizeof(path))) {
		snprintf(err, errlen, "key-dir path too long");
		return -ENAMETOOLONG;
	}
	ret = maq_identity_generate(&id);
	if (!ret)
		ret = maq_identity_save(path, &id, why, sizeof(why));
	if (ret) {
		snprintf(err, errlen, "alias '%s': %s", name,
			 ret == -EIO ? "no randomness" : why);
		maq_identity_wipe(&id);
		return ret;
	}
	a = owned_add(name, &id);
	maq_identity_wipe(&id);
	if (!a) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	log_info("new alias %s (%s)", a->alias, name);
	owned_put(o, a);
	return 0;
}

static struct alink *link_of(const struct maqd_origin *o);

/* Is relay @id a hop of a circuit of @a's (intro points, rendezvous)? */
static bool on_path(const struct maqd *d, const struct owned *a,
		    const u8 id[MAQ_ID_PK_LEN])
{
	const struct maqd_origin *o;
	const struct alink *l;
	unsigned int k;

	for (o = d->origins; o; o = o->next) {
		l = link_of(o);
		if (!l || (l->kind == L_INTRO_SVC ?
			   ((const struct intro *)l->up)->a != a :
			   l->kind != L_RV_SVC ||
			   ((const struct session *)l->up)->svc != a))
			continue;
		for (k = 0; k + 1 < o->n; k++)
			if (!memcmp(o->path[k], id, MAQ_ID_PK_LEN))
				return true;
	}
	return false;
}

/*
 * A relay for an introduction point: random, none of @a's intro relays
 * (nor the one @in had), and if it can be, a hop of none of its circuits.
 */
static const struct maq_relay *intro_pick(struct maqd *d, struct owned *a)
{
	const struct maq_relay *pick[N_INTRO + 6];
	unsigned int n, i, k, pass;

	n = maq_view_sample(&d->view, maqd_wall(), pick, N_INTRO + 6);
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < n; i++) {
			for (k = 0; k < N_INTRO; k++)
				if (!memcmp(a->intro[k].relay,
					    pick[i]->d.identity,
					    MAQ_ID_PK_LEN))
					break;
			if (k == N_INTRO && (pass ||
					     !on_path(d, a, pick[i]->d.identity)))
				return pick[i];
		}
	return NULL;
}

/* The other intro relays of @in's alias (all, @in NULL), off @l's path. */
static void shun_intros(struct alink *l, const struct owned *a,
			const struct intro *in)
{
	unsigned int k;

	l->n_shun = 0;
	for (k = 0; k < N_INTRO; k++)
		if (&a->intro[k] != in)
			link_shun(l, a->intro[k].relay);
}

static void intro_start(struct maqd *d, struct intro *in)
{
	char err[256], hex[17];

	in->state = I_BUILDING;
	shun_intros(&in->l, in->a, in);
	if (link_build(d, &in->l, in->relay, err, sizeof(err))) {
		log_info("alias %s: intro relay %s: %s", in->a->name,
			 hex16(in->relay, hex), err);
		in->state = I_DOWN;
		in->fails++;
		in->retry_ms = now_ms() + INTRO_RETRY_MS;
	}
}

/* A new relay and token for intro point @in; not started. */
static bool intro_assign(struct maqd *d, struct intro *in)
{
	const struct maq_relay *r = intro_pick(d, in->a);

	if (!r)
		return false;
	link_release(d, &in->l);
	memcpy(in->relay, r->d.identity, MAQ_ID_PK_LEN);
	randombytes_buf(in->token, sizeof(in->token));
	in->state = I_DOWN;
	in->fails = 0;
	in->a->dirty = true;
	return true;
}

/*
 * Intro point @in moved to another relay: the other points' circuits that
 * pass through it are built anew without it (their tokens stay).
 */
static void intro_moved(struct maqd *d, struct intro *in)
{
	const struct maqd_origin *o;
	struct intro *x;
	unsigned int k, j;

	for (k = 0; k < N_INTRO; k++) {
		x = &in->a->intro[k];
		if (x == in || x->state == I_DOWN)
			continue;
		for (o = d->origins; o; o = o->next) {
			if (o->want != &x->l.want)
				continue;
			for (j = 0; j + 1 < o->n; j++)
				if (!memcmp(o->path[j], in->relay,
					    MAQ_ID_PK_LEN))
					break;
			if (j + 1 < o->n)
				break;
		}
		if (!o)
			continue;
		link_release(d, &x->l);
		if (x->state == I_UP)
			x->a->dirty = true;
		x->state = I_DOWN;
		x->retry_ms = 0;
	}
}

static bool intro_new(struct maqd *d, struct intro *in)
{
	if (!intro_assign(d, in))
		return false;
	intro_moved(d, in);
	intro_start(d, in);
	return true;
}

static int alias_publish(struct maqd *d, const char *name,
			 struct maq_ipc_out *o, char *err, size_t errlen)
{
	struct owned *a = NULL, *x;
	unsigned int i, n = 0;

	if (*name) {
		a = owned_find(name);
	} else {
		for (x = A.owned; x; x = x->next, n++)
			a = x;
		if (n > 1) {
			snprintf(err, errlen,
				 "%u aliases here: say which (name=)", n);
			return -EINVAL;
		}
	}
	if (!a) {
		snprintf(err, errlen, *name ? "no alias '%s' here" :
			 "no alias here: make one with alias new", name);
		return -ENOENT;
	}
	if (maq_dp_kind(d->dp) != MAQ_DP_MODULE) {
		snprintf(err, errlen,
			 "aliases need maquis.ko (the end-to-end layer)");
		return -EOPNOTSUPP;
	}
	if (!a->publishing) {
		if (maqd_addr6(d->ifindex, &a->addr, true)) {
			snprintf(err, errlen, "cannot add the alias address to %s",
				 d->conf.interface);
			return -EIO;
		}
		if (!a->n_s) {
			if (maq_onion_generate(&a->s[0])) {
				snprintf(err, errlen, "no randomness");
				return -EIO;
			}
			a->n_s = 1;
			a->s_since = maqd_wall();
		}
		/* every relay chosen first: each path leaves the others out */
		n = 0;
		for (i = 0; i < N_INTRO; i++)
			n += intro_assign(d, &a->intro[i]);
		for (i = 0; i < N_INTRO; i++)
			if (!maq_all_zero(a->intro[i].relay, MAQ_ID_PK_LEN))
				intro_start(d, &a->intro[i]);
		if (!n) {
			snprintf(err, errlen,
				 "no relay known to introduce through (gossip not converged?)");
			return -EHOSTUNREACH;
		}
		a->publishing = true;
		log_info("alias %s: publishing through %u intro relays",
			 a->name, n);
	}
	owned_put(o, a);
	for (i = 0, n = 0; i < N_INTRO; i++)
		n += a->intro[i].state != I_DOWN;
	maq_ipc_put(o, "intro", "%u", n);
	return 0;
}

/* Seal and store today's record (and tomorrow's, late in the day). */
static void publish(struct maqd *d, struct owned *a)
{
	struct maq_alias_rec r;
	u8 raw[MAQ_ALIAS_REC_LEN];
	u64 now = maqd_wall();
	unsigned int i, k;
	u32 day;

	a->dirty = false;
	a->next_publish_ms = now_ms() + REC_REPUBLISH_MS;
	if (now >= a->s_since + S_LIFE) {
		a->s[1] = a->s[0];
		a->n_s = 2;
		maq_onion_generate(&a->s[0]);
		a->s_since = now;
	}
	memset(&r, 0, sizeof(r));
	for (i = 0; i < N_INTRO; i++) {
		if (a->intro[i].state != I_UP)
			continue;
		memcpy(r.intro[r.n_intro].relay, a->intro[i].relay,
		       MAQ_ID_PK_LEN);
		memcpy(r.intro[r.n_intro].token, a->intro[i].token,
		       MAQ_ALIAS_TOKEN_LEN);
		r.n_intro++;
	}
	if (!r.n_intro)
		return;
	memcpy(r.service_x, a->s[0].pk, MAQ_ALIAS_X_LEN);
	/*
	 * a store keeps a record only when it is newer than the one it holds:
	 * records made within one second (intro points coming up together)
	 * must still replace each other
	 */
	if (now <= a->rec_published)
		now = a->rec_published + 1;
	a->rec_published = now;
	day = maq_alias_day(now);
	for (k = 0; k < 2; k++) {
		r.day = day + k;
		r.published = now;
		r.expires = now + REC_LIFE;
		/* tomorrow's only once today's would outlive the day */
		if (k && r.expires <= (u64)(day + 1) * MAQ_ALIAS_DAY)
			break;
		if (maq_alias_rec_seal(raw, &r, &a->id)) {
			log_warn("alias %s: cannot seal the record", a->name);
			return;
		}
		store_offer(d, raw, sizeof(raw), NULL);
	}
	a->rec_expires = r.expires;
	a->rec_intros = r.n_intro;
	log_info("alias %s: record published, %u intro points, expires in %d s",
		 a->name, r.n_intro, REC_LIFE);
}

static void owned_tick(struct maqd *d, u64 now)
{
	struct owned *a;
	unsigned int i;

	for (a = A.owned; a; a = a->next) {
		if (!a->publishing)
			continue;
		for (i = 0; i < N_INTRO; i++) {
			struct intro *in = &a->intro[i];

			if (in->state != I_DOWN || now < in->retry_ms)
				continue;
			if (in->fails >= INTRO_MAX_FAILS) {
				if (!intro_new(d, in))
					in->retry_ms = now + INTRO_RETRY_MS;
			} else {
				intro_start(d, in);
			}
		}
		if (a->dirty || now >= a->next_publish_ms)
			publish(d, a);
	}
}

/* --- sessions ------------------------------------------------------------- */

static struct session *session_new(bool client)
{
	struct session *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->client = client;
	link_init(&s->rv, client ? L_RV_CLI : L_RV_SVC, s);
	link_init(&s->intro, L_INTRO_CLI, s);
	s->next = A.sessions;
	A.sessions = s;
	return s;
}

static void session_end(struct maqd *d, struct session *s)
{
	link_release(d, &s->rv);
	link_release(d, &s->intro);
	if (s->client && !maq_all_zero(s->client_addr.s6_addr, 16))
		maqd_addr6(d->ifindex, &s->client_addr, false);
	s->dead = true;
}

static void session_reply(struct maqd *d, struct session *s, int err,
			  const char *why)
{
	struct maqd_origin *o = origin_of(d, s->rv.id);
	struct maq_ipc_out out;
	char path[MAQ_MAX_HOPS * 17 + 1], hex[17], a[INET6_ADDRSTRLEN];
	unsigned int i;

	if (!s->waiter)
		return;
	maq_ipc_out_init(&out);
	if (!err && o) {
		path[0] = 0;
		for (i = 0; i < o->n; i++) {
			if (i)
				strcat(path, ",");
			strcat(path, maqd_id_hex(o->path[i], hex));
		}
		maq_ipc_put(&out, "circuit", "%u", o->id);
		maq_ipc_put(&out, "to", "%s/128",
			    inet_ntop(AF_INET6, &s->alias_addr, a, sizeof(a)));
		maq_ipc_put(&out, "hops", "%u", o->n);
		maq_ipc_put(&out, "path", "%s", path);
		maq_ipc_put(&out, "setup_ms", "%llu",
			    (unsigned long long)(now_ms() - s->started_ms));
	} else if (!err) {
		err = ECONNABORTED;
		why = "the rendezvous circuit went away";
	}
	maq_ipc_end(&out, err, why);
	maqd_conn_reply(d, s->waiter, &out);
	s->waiter = NULL;
}

static void client_fail(struct maqd *d, struct session *s, int err,
			const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void client_fail(struct maqd *d, struct session *s, int err,
			const char *fmt, ...)
{
	char why[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	log_info("alias %.16s...: %s", s->alias, why);
	snprintf(s->step, sizeof(s->step), "%s", why);
	session_reply(d, s, err, why);
	session_end(d, s);
}

void maqd_alias_conn_forget(struct maqd *d, struct maqd_conn *c)
{
	struct session *s;

	(void)d;
	for (s = A.sessions; s; s = s->next)
		if (s->waiter == c)
			s->waiter = NULL;
}

/* The client's next introduction point, or the end of them. */
static void client_introduce_next(struct maqd *d, struct session *s)
{
	struct maq_alias_intro *in;
	char err[256], hex[17];
	unsigned int k;

	link_release(d, &s->intro);
	while (s->tried < s->rec.n_intro) {
		in = &s->rec.intro[s->tried++];
		snprintf(s->step, sizeof(s->step), "intro relay %s",
			 hex16(in->relay, hex));
		s->intro.n_shun = 0;
		link_shun(&s->intro, s->rp);
		for (k = 0; k < s->rec.n_intro; k++)
			if (k != s->tried - 1)
				link_shun(&s->intro, s->rec.intro[k].relay);
		if (!link_build(d, &s->intro, in->relay, err, sizeof(err)))
			return;
		log_info("alias: intro relay %s: %s", hex, err);
	}
	client_fail(d, s, EHOSTUNREACH, "%s: unreachable (no intro point left)",
		    s->step);
}


static void client_send_introduce(struct maqd *d, struct session *s)
{
	const struct maq_alias_intro *in = &s->rec.intro[s->tried - 1];
	struct maq_amsg m = { .type = MAQ_AMSG_INTRODUCE1 };
	struct maq_intro_plain p;

	memcpy(p.rp, s->rp, MAQ_ID_PK_LEN);
	memcpy(p.cookie, s->cookie, MAQ_ALIAS_COOKIE_LEN);
	memcpy(p.client_x, s->x_pub, MAQ_ALIAS_X_LEN);
	p.client_addr = s->client_addr;
	memcpy(m.token, in->token, MAQ_ALIAS_TOKEN_LEN);
	if (maq_intro_seal(m.sealed, &p, s->rec.service_x) ||
	    send_fwd(d, s->intro.id, &m)) {
		client_fail(d, s, EIO, "%s: cannot send INTRODUCE", s->step);
		return;
	}
	s->introduced = true;
	snprintf(s->step + strlen(s->step), sizeof(s->step) - strlen(s->step),
		 ": waiting for its INTRODUCE_ACK");
}

/* The record of @pk for today, or yesterday's or tomorrow's. */
static enum maq_arec_err record_lookup(const u8 pk[MAQ_ALIAS_PK_LEN],
				       struct maq_alias_rec *out)
{
	static const int days[] = { 0, -1, 1 };
	enum maq_arec_err best = MAQ_AREC_N_ERRS, e;
	u8 blinded[MAQ_ALIAS_PK_LEN];
	u64 now = maqd_wall();
	struct rec *r;
	unsigned int i;

	for (i = 0; i < 3; i++) {
		if (maq_alias_blind(pk, maq_alias_day(now) + days[i], blinded))
			continue;
		r = store_find(blinded);
		if (!r)
			continue;
		e = maq_alias_rec_open(r->raw, MAQ_ALIAS_REC_LEN, now, pk, out);
		if (e == MAQ_AREC_OK)
			return e;
		if (best == MAQ_AREC_N_ERRS)
			best = e;
	}
	return best;
}

/* Is relay @id the first hop of a circuit of ours? */
static bool first_hop(const struct maqd *d, const u8 id[MAQ_ID_PK_LEN])
{
	const struct maqd_origin *o;

	for (o = d->origins; o; o = o->next)
		if (o->n && !memcmp(o->path[0], id, MAQ_ID_PK_LEN))
			return true;
	return false;
}

static int alias_connect(struct maqd *d, const char *alias,
			 struct maqd_conn *c, char *err, size_t errlen)
{
	const struct maq_relay *pick[RP_SAMPLE];
	struct maq_onion_key eph;
	enum maq_arec_err e;
	struct session *s;
	unsigned int n, i, k, pass;
	char hex[17], a[MAQ_ALIAS_STR_LEN + 1];
	const char *why = "not 52 base32 characters";
	u8 pk[MAQ_ALIAS_PK_LEN];

	snprintf(a, sizeof(a), "%s", alias);
	if (maq_alias_arg(a, pk, &why) != 1) {
		snprintf(err, errlen, "'%.60s' is not a valid alias: %s", alias,
			 why);
		return -EINVAL;
	}
	if (maq_dp_kind(d->dp) != MAQ_DP_MODULE) {
		snprintf(err, errlen,
			 "aliases need maquis.ko (the end-to-end layer)");
		return -EOPNOTSUPP;
	}
	s = session_new(true);
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->started_ms = now_ms();
	s->deadline_ms = s->started_ms + MAQD_ALIAS_WAIT_MS;
	memcpy(s->pk, pk, sizeof(pk));
	snprintf(s->alias, sizeof(s->alias), "%.*s", MAQ_ALIAS_STR_LEN, alias);
	maq_alias_addr(pk, &s->alias_addr);
	e = record_lookup(pk, &s->rec);
	if (e != MAQ_AREC_OK) {
		snprintf(err, errlen, e == MAQ_AREC_N_ERRS ?
			 "no record of %.16s... (not published, or not gossiped here yet)" :
			 e == MAQ_AREC_EXPIRED ?
			 "the record of %.16s... expired (service gone?)" :
			 "the record of %.16s... does not open", alias);
		s->dead = true;
		return e == MAQ_AREC_N_ERRS ? -ENOENT : e == MAQ_AREC_EXPIRED ?
		       -ETIME : -EBADMSG;
	}
	/*
	 * a rendezvous relay that is none of the intro points and, if it can
	 * be, not the first hop of a circuit of ours: it would see our address
	 */
	n = maq_view_sample(&d->view, maqd_wall(), pick, RP_SAMPLE);
	for (pass = 0, i = n; pass < 2 && i == n; pass++)
		for (i = 0; i < n; i++) {
			for (k = 0; k < s->rec.n_intro; k++)
				if (!memcmp(pick[i]->d.identity,
					    s->rec.intro[k].relay,
					    MAQ_ID_PK_LEN))
					break;
			if (k == s->rec.n_intro &&
			    (pass || !first_hop(d, pick[i]->d.identity)))
				break;
		}
	if (i == n) {
		snprintf(err, errlen, "no relay to meet at (gossip not converged?)");
		s->dead = true;
		return -EHOSTUNREACH;
	}
	memcpy(s->rp, pick[i]->d.identity, MAQ_ID_PK_LEN);
	randombytes_buf(s->cookie, sizeof(s->cookie));
	randombytes_buf(s->client_addr.s6_addr, 16);
	s->client_addr.s6_addr[0] = 0xfd;
	if (maq_onion_generate(&eph) ||
	    maq_alias_e2e(s->e2e, s->auth, true, eph.sk, s->rec.service_x,
			  eph.pk, s->rec.service_x, pk)) {
		maq_onion_wipe(&eph);
		snprintf(err, errlen, "the record's service key is unusable");
		s->dead = true;
		return -EBADMSG;
	}
	memcpy(s->x_pub, eph.pk, MAQ_ALIAS_X_LEN);
	maq_onion_wipe(&eph);
	if (maqd_addr6(d->ifindex, &s->client_addr, true)) {
		snprintf(err, errlen, "cannot add an address to %s",
			 d->conf.interface);
		s->dead = true;
		return -EIO;
	}
	snprintf(s->step, sizeof(s->step), "rendezvous relay %s",
		 hex16(s->rp, hex));
	for (k = 0; k < s->rec.n_intro; k++)
		link_shun(&s->rv, s->rec.intro[k].relay);
	if (link_build(d, &s->rv, s->rp, err, errlen)) {
		session_end(d, s);
		return -EHOSTUNREACH;
	}
	client_introduce_next(d, s);
	if (s->dead) {
		snprintf(err, errlen, "%s", s->step);
		return -EHOSTUNREACH;
	}
	s->waiter = c;
	return 1;
}

/* --- circuit events ------------------------------------------------------- */

/*
 * The link of our circuit @o.  A circuit built for a link's want by
 * someone else (liveness replacing one it found silent) is none: it gets
 * no alias route nor e2e key and is closed once up, and the rendezvous
 * ends with the old circuit (PROTOCOL 9.4: meeting circuits are not
 * replaced).
 */
static struct alink *link_of(const struct maqd_origin *o)
{
	struct alink *l = o->want && o->want->bare ? o->want->owner : NULL;

	return l && o->handle == l->handle ? l : NULL;
}

void maqd_alias_throwaway(struct maq_prefix *p)
{
	memset(p, 0, sizeof(*p));
	p->family = AF_INET6;
	p->len = 128;
	randombytes_buf(p->addr.v6.s6_addr, 16);
	p->addr.v6.s6_addr[0] = 0xfd;
}

void maqd_alias_install(struct maqd *d, struct maqd_origin *o,
			struct maq_circuit *c)
{
	struct alink *l = link_of(o);
	struct session *s;

	(void)d;
	if (!l && !(o->want && o->want->bare))
		return;
	if (!l || (l->kind != L_RV_CLI && l->kind != L_RV_SVC)) {
		/* intro circuits carry nothing, but circuit-new wants a route */
		maqd_alias_throwaway(&o->to);
		return;
	}
	s = l->up;
	/* the peer's address routes into it; the RP reads nothing */
	o->to.family = AF_INET6;
	o->to.len = 128;
	o->to.addr.v6 = s->client ? s->alias_addr : s->client_addr;
	c->e2e = true;
	memcpy(c->e2e_key, s->e2e, MAQ_ALIAS_E2E_LEN);
}

void maqd_alias_up(struct maqd *d, struct maqd_origin *o)
{
	struct alink *l = link_of(o);
	struct maq_amsg m = { 0 };
	struct session *s;
	struct intro *in;

	if (o->want && o->want->bare && (!l || !l->building)) {
		/* a build we let go of meanwhile, or not ours */
		o->want = NULL;
		maqd_origin_close(d, o, (int)o->n - 1);
		return;
	}
	if (!l)
		return;
	l->building = false;
	l->id = o->id;
	switch (l->kind) {
	case L_INTRO_SVC:
		in = l->up;
		in->state = I_ASKED;
		m.type = MAQ_AMSG_ESTABLISH_INTRO;
		memcpy(m.token, in->token, MAQ_ALIAS_TOKEN_LEN);
		send_fwd(d, o->id, &m);
		in->nonce = m.nonce;
		break;
	case L_RV_CLI:
		s = l->up;
		/* the e2e layer's overhead; our address as the source */
		maqd_route_mtu(d->ifindex, &o->to, E2E_MTU);
		m.type = MAQ_AMSG_ESTABLISH_RENDEZVOUS;
		memcpy(m.cookie, s->cookie, MAQ_ALIAS_COOKIE_LEN);
		send_fwd(d, o->id, &m);
		break;
	case L_INTRO_CLI:
		s = l->up;
		if (s->rp_ready)
			client_send_introduce(d, s);
		break;
	case L_RV_SVC:
		s = l->up;
		maqd_route_mtu(d->ifindex, &o->to, E2E_MTU);
		m.type = MAQ_AMSG_RENDEZVOUS1;
		memcpy(m.cookie, s->cookie, MAQ_ALIAS_COOKIE_LEN);
		memcpy(m.auth, s->auth, MAQ_AMSG_AUTH_LEN);
		send_fwd(d, o->id, &m);
		break;
	}
}

void maqd_alias_gone(struct maqd *d, struct maqd_origin *o)
{
	struct alink *l = link_of(o);
	struct session *s;
	struct intro *in;
	bool was_building;

	if (!l || (o->id != l->id && !(l->building &&
				       o->state == MAQD_BUILDING)))
		return;
	was_building = l->building;
	l->building = false;
	l->id = 0;
	switch (l->kind) {
	case L_INTRO_SVC:
		in = l->up;
		if (in->state == I_UP)
			in->a->dirty = true;
		in->state = I_DOWN;
		in->fails += was_building;
		in->retry_ms = now_ms() + INTRO_RETRY_MS;
		break;
	case L_INTRO_CLI:
		s = l->up;
		if (!s->done && !s->dead) {
			log_info("alias: %s: circuit %s", s->step,
				 was_building ? "not built" : "gone");
			client_introduce_next(d, s);
		}
		break;
	case L_RV_CLI:
		s = l->up;
		if (!s->dead)
			client_fail(d, s, EHOSTUNREACH, "%s: %s", s->step,
				    was_building ? "circuit not built" :
				    "circuit gone");
		break;
	case L_RV_SVC:
		s = l->up;
		if (!s->dead) {
			log_info("alias %s: rendezvous circuit %s",
				 s->svc ? s->svc->name : "?",
				 was_building ? "not built" : "gone");
			session_end(d, s);
		}
		break;
	}
}

/* --- messages ---------------------------------------------------------- */

static struct point *point_find(struct point *pt, unsigned int n,
				const u8 *key, size_t len)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (!sodium_memcmp(pt[i].key, key, len))
			return &pt[i];
	return NULL;
}

static void point_drop(struct point *pt, unsigned int *n, u32 hop)
{
	unsigned int i;

	for (i = 0; i < *n;) {
		if (pt[i].hop == hop)
			pt[i] = pt[--*n];
		else
			i++;
	}
}

/* We terminate circuit @id; @m came from its origin. */
static void hop_msg(struct maqd *d, u32 id, const struct maq_amsg *m)
{
	struct maq_amsg fw;
	struct point *p;
	u32 other;
	int ret;

	switch (m->type) {
	case MAQ_AMSG_ESTABLISH_INTRO:
		p = point_find(A.intro, A.n_intro, m->token,
			       MAQ_ALIAS_TOKEN_LEN);
		if (p && p->hop != id) {
			send_back(d, id, MAQ_AMSG_INTRO_ESTABLISHED,
				  MAQ_AMSG_REFUSED);
			return;
		}
		if (!p && A.n_intro == POINTS_MAX) {
			send_back(d, id, MAQ_AMSG_INTRO_ESTABLISHED,
				  MAQ_AMSG_REFUSED);
			return;
		}
		if (!p) {
			p = &A.intro[A.n_intro++];
			memcpy(p->key, m->token, MAQ_ALIAS_TOKEN_LEN);
			p->hop = id;
		}
		log_info("intro point on circuit %u", id);
		send_back(d, id, MAQ_AMSG_INTRO_ESTABLISHED, MAQ_AMSG_OK);
		return;
	case MAQ_AMSG_ESTABLISH_RENDEZVOUS:
		p = point_find(A.rv, A.n_rv, m->cookie, MAQ_ALIAS_COOKIE_LEN);
		if (p || A.n_rv == POINTS_MAX || !A.nl) {
			send_back(d, id, MAQ_AMSG_RENDEZVOUS_ESTABLISHED,
				  MAQ_AMSG_REFUSED);
			return;
		}
		p = &A.rv[A.n_rv++];
		memset(p->key, 0, sizeof(p->key));
		memcpy(p->key, m->cookie, MAQ_ALIAS_COOKIE_LEN);
		p->hop = id;
		p->until_ms = now_ms() + COOKIE_LIFE_MS;
		log_info("rendezvous point on circuit %u", id);
		send_back(d, id, MAQ_AMSG_RENDEZVOUS_ESTABLISHED, MAQ_AMSG_OK);
		return;
	case MAQ_AMSG_INTRODUCE1:
		p = point_find(A.intro, A.n_intro, m->token,
			       MAQ_ALIAS_TOKEN_LEN);
		if (!p) {
			send_back(d, id, MAQ_AMSG_INTRODUCE_ACK,
				  MAQ_AMSG_UNKNOWN);
			return;
		}
		fw = *m;
		fw.type = MAQ_AMSG_INTRODUCE2;
		fw.nonce = 0;
		ret = send_msg(d, p->hop, 0, &fw);
		A.introduced += !ret;
		send_back(d, id, MAQ_AMSG_INTRODUCE_ACK,
			  ret ? MAQ_AMSG_UNKNOWN : MAQ_AMSG_OK);
		return;
	case MAQ_AMSG_RENDEZVOUS1:
		p = point_find(A.rv, A.n_rv, m->cookie, MAQ_ALIAS_COOKIE_LEN);
		if (!p || p->hop == id || !terminus_of(d, p->hop) ||
		    A.n_joined == POINTS_MAX) {
			A.bad++;
			return;
		}
		other = p->hop;
		ret = maq_nl_circuit_join(A.nl, d->ifindex, other, id);
		if (ret) {
			log_warn("circuit-join %u %u: %s: %s", other, id,
				 strerror(-ret), maq_nl_errmsg(A.nl));
			return;
		}
		point_drop(A.rv, &A.n_rv, other);
		A.joined[A.n_joined][0] = other;
		A.joined[A.n_joined][1] = id;
		A.n_joined++;
		A.joins++;
		log_info("rendezvous: circuits %u and %u joined", other, id);
		fw = (struct maq_amsg){ .type = MAQ_AMSG_RENDEZVOUS2 };
		memcpy(fw.auth, m->auth, MAQ_AMSG_AUTH_LEN);
		send_msg(d, other, 0, &fw);
		return;
	default:
		A.bad++;
		log_debug("alias: message %u from the origin of %u ignored",
			  m->type, id);
	}
}

static void service_introduce(struct maqd *d, struct intro *in,
			      const struct maq_amsg *m)
{
	struct owned *a = in->a;
	struct maq_intro_plain p;
	struct session *s;
	char err[256], hex[17];
	unsigned int i;
	int k = -1;

	for (i = 0; i < a->n_s && k < 0; i++)
		if (!maq_intro_open(&p, m->sealed, &a->s[i]))
			k = (int)i;
	if (k < 0) {
		A.bad++;
		log_info("alias %s: an INTRODUCE that does not open", a->name);
		return;
	}
	for (i = 0; i < a->n_seen && i < SEEN_COOKIES; i++)
		if (!memcmp(a->seen[i], p.cookie, MAQ_ALIAS_COOKIE_LEN)) {
			log_info("alias %s: replayed INTRODUCE", a->name);
			return;
		}
	memcpy(a->seen[a->n_seen++ % SEEN_COOKIES], p.cookie,
	       MAQ_ALIAS_COOKIE_LEN);
	s = session_new(false);
	if (!s)
		return;
	s->svc = a;
	s->started_ms = now_ms();
	memcpy(s->rp, p.rp, MAQ_ID_PK_LEN);
	memcpy(s->cookie, p.cookie, MAQ_ALIAS_COOKIE_LEN);
	s->client_addr = p.client_addr;
	s->alias_addr = a->addr;
	if (maq_alias_e2e(s->e2e, s->auth, false, a->s[k].sk, p.client_x,
			  p.client_x, a->s[k].pk, a->id.pk)) {
		s->dead = true;
		return;
	}
	log_info("alias %s: introduced, meeting at %s", a->name,
		 hex16(s->rp, hex));
	shun_intros(&s->rv, a, NULL);
	if (link_build(d, &s->rv, s->rp, err, sizeof(err))) {
		log_info("alias %s: rendezvous relay %s: %s", a->name, hex,
			 err);
		s->dead = true;
	}
	sodium_memzero(&p, sizeof(p));
}

/* Our circuit @o; @m came from its terminus. */
static void origin_msg(struct maqd *d, struct maqd_origin *o,
		       const struct maq_amsg *m)
{
	struct alink *l = link_of(o);
	struct session *s;
	struct intro *in;

	if (!l || l->id != o->id) {
		A.bad++;
		return;
	}
	if (l->kind == L_INTRO_SVC) {
		in = l->up;
		if (m->type == MAQ_AMSG_INTRO_ESTABLISHED &&
		    in->state == I_ASKED) {
			if (m->status == MAQ_AMSG_OK) {
				in->state = I_UP;
				in->fails = 0;
				in->a->dirty = true;
			} else {
				/* another token, elsewhere */
				in->fails = INTRO_MAX_FAILS;
				in->state = I_DOWN;
				link_release(d, l);
			}
		} else if (m->type == MAQ_AMSG_INTRODUCE2 &&
			   in->state == I_UP) {
			service_introduce(d, in, m);
		} else {
			A.bad++;
		}
		return;
	}
	s = l->up;
	if (!s->client || s->dead || s->done) {
		A.bad++;
		return;
	}
	switch (m->type) {
	case MAQ_AMSG_RENDEZVOUS_ESTABLISHED:
		if (l->kind != L_RV_CLI || s->rp_ready)
			break;
		if (m->status != MAQ_AMSG_OK) {
			client_fail(d, s, ECONNREFUSED,
				    "rendezvous relay refused the cookie");
			return;
		}
		s->rp_ready = true;
		if (s->intro.id)
			client_send_introduce(d, s);
		return;
	case MAQ_AMSG_INTRODUCE_ACK:
		if (l->kind != L_INTRO_CLI || !s->introduced)
			break;
		if (m->status != MAQ_AMSG_OK) {
			log_info("alias: %s: %s", s->step,
				 m->status == MAQ_AMSG_UNKNOWN ?
				 "unknown intro point" : "refused");
			s->introduced = false;
			client_introduce_next(d, s);
			return;
		}
		snprintf(s->step, sizeof(s->step),
			 "the service at the rendezvous relay (RENDEZVOUS2)");
		return;
	case MAQ_AMSG_RENDEZVOUS2:
		if (l->kind != L_RV_CLI || !s->rp_ready)
			break;
		if (sodium_memcmp(m->auth, s->auth, MAQ_AMSG_AUTH_LEN)) {
			client_fail(d, s, EBADMSG,
				    "the answer at the rendezvous does not authenticate the service");
			return;
		}
		s->done = true;
		link_release(d, &s->intro);
		log_info("alias %.16s...: reached through circuit %u",
			 s->alias, o->id);
		session_reply(d, s, 0, NULL);
		return;
	}
	A.bad++;
}

bool maqd_alias_hopctl(struct maqd *d, const struct maq_event *ev)
{
	struct maqd_origin *o;
	struct maq_amsg m;

	if (!maq_amsg_is(ev->ctl, sizeof(ev->ctl)))
		return false;
	if (maq_amsg_get(ev->ctl, sizeof(ev->ctl), &m)) {
		A.bad++;
		return true;
	}
	o = origin_of(d, ev->id);
	if (o) {
		/* only the terminus speaks for the far end */
		if (ev->hop == (int)o->n - 1)
			origin_msg(d, o, &m);
		else
			A.bad++;
		return true;
	}
	if (ev->hop == 0 && terminus_of(d, ev->id))
		hop_msg(d, ev->id, &m);
	else
		A.bad++;
	return true;
}

void maqd_alias_hop_gone(struct maqd *d, struct maqd_hop *h)
{
	unsigned int i;
	u32 other;

	(void)d;
	if (!h->id)
		return;
	point_drop(A.intro, &A.n_intro, h->id);
	point_drop(A.rv, &A.n_rv, h->id);
	for (i = 0; i < A.n_joined; i++) {
		if (A.joined[i][0] != h->id && A.joined[i][1] != h->id)
			continue;
		other = A.joined[i][0] == h->id ? A.joined[i][1] :
						  A.joined[i][0];
		A.joined[i][0] = A.joined[--A.n_joined][0];
		A.joined[i][1] = A.joined[A.n_joined][1];
		/* half a rendezvous is nothing: its origin hears DESTROYED */
		if (A.n_doomed < POINTS_MAX)
			A.doomed[A.n_doomed++] = other;
		break;
	}
}

/* --- the loop -------------------------------------------------------------- */

void maqd_alias_tick(struct maqd *d, u64 now)
{
	struct session *s, **sp;
	struct maqd_hop *h;
	unsigned int i;

	if (!A.nl && maq_dp_kind(d->dp) == MAQ_DP_MODULE &&
	    d->conf.role == MAQ_CONF_RELAY && maq_nl_open(&A.nl))
		A.nl = NULL;
	gossip_tick(d, now);
	owned_tick(d, now);
	while (A.n_doomed) {
		h = terminus_of(d, A.doomed[--A.n_doomed]);
		if (h)
			maqd_hop_remove(d, h);
	}
	for (i = 0; i < A.n_rv;) {
		if (now >= A.rv[i].until_ms)
			A.rv[i] = A.rv[--A.n_rv];
		else
			i++;
	}
	for (s = A.sessions; s; s = s->next)
		if (s->client && !s->dead && !s->done &&
		    now >= s->deadline_ms)
			client_fail(d, s, ETIMEDOUT, "timeout waiting for %s",
				    s->step);
	for (sp = &A.sessions; (s = *sp);) {
		if (s->dead && !s->rv.building && !s->intro.building) {
			*sp = s->next;
			sodium_memzero(s, sizeof(*s));
			free(s);
		} else {
			sp = &s->next;
		}
	}
}

void maqd_alias_shutdown(struct maqd *d)
{
	struct owned *a;
	struct session *s;

	while ((s = A.sessions)) {
		A.sessions = s->next;
		session_end(d, s);
		sodium_memzero(s, sizeof(*s));
		free(s);
	}
	while ((a = A.owned)) {
		A.owned = a->next;
		if (a->publishing)
			maqd_addr6(d->ifindex, &a->addr, false);
		maq_identity_wipe(&a->id);
		maq_onion_wipe(&a->s[0]);
		maq_onion_wipe(&a->s[1]);
		free(a);
	}
	free(A.rec);
	A.rec = NULL;
	if (A.nl)
		maq_nl_close(A.nl);
	A.nl = NULL;
}

/* --- the CLI ---------------------------------------------------------------- */

static void alias_list(struct maqd *d, struct maq_ipc_out *o)
{
	static const char *const st[] = {
		[I_DOWN] = "down", [I_BUILDING] = "building",
		[I_ASKED] = "building", [I_UP] = "up",
	};
	const struct owned *a;
	char hex[17], b64[8 * 1024];
	unsigned int i, n;
	u64 now = maqd_wall();

	(void)d;
	maq_ipc_put(o, "records", "%u", A.n);
	maq_ipc_put(o, "records.accepted", "%llu",
		    (unsigned long long)A.accepted);
	maq_ipc_put(o, "rendezvous.joined", "%llu",
		    (unsigned long long)A.joins);
	maq_ipc_put(o, "introduce.passed", "%llu",
		    (unsigned long long)A.introduced);
	for (a = A.owned; a; a = a->next) {
		owned_put(o, a);
		maq_ipc_put(o, "published", "%d", a->publishing);
		maq_ipc_put(o, "expires", "%llu", (unsigned long long)
			    (a->rec_expires > now ? a->rec_expires : 0));
		for (i = 0, n = 0; i < N_INTRO; i++)
			n += a->intro[i].state == I_UP;
		maq_ipc_put(o, "intros", "%u", n);
		maq_ipc_put(o, "recorded", "%u", a->rec_intros);
		for (i = 0; i < N_INTRO && a->publishing; i++)
			maq_ipc_put(o, "intro", "%s:%s",
				    hex16(a->intro[i].relay, hex),
				    st[a->intro[i].state]);
	}
	/* what this host stores for others, as it holds it */
	for (i = 0; i < A.n; i++) {
		maq_ipc_put(o, "record", "%s",
			    maqd_b64(A.rec[i].raw, MAQ_ALIAS_REC_LEN, b64,
				     sizeof(b64)));
		maq_ipc_put(o, "expires", "%llu",
			    (unsigned long long)A.rec[i].expires);
	}
}

int maqd_alias_request(struct maqd *d, const struct maq_ipc_req *req,
		       struct maqd_conn *c, struct maq_ipc_out *o, char *err,
		       size_t errlen)
{
	owned_load(d);
	switch (req->cmd) {
	case MAQ_IPC_ALIAS_NEW:
		return alias_new(d, req->name, o, err, errlen);
	case MAQ_IPC_ALIAS_PUBLISH:
		return alias_publish(d, req->name, o, err, errlen);
	case MAQ_IPC_ALIAS_LIST:
		alias_list(d, o);
		return 0;
	case MAQ_IPC_BUILD:
		return alias_connect(d, req->to, c, err, errlen);
	default:
		snprintf(err, errlen, "not an alias request");
		return -EINVAL;
	}
}
