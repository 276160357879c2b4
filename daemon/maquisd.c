// SPDX-License-Identifier: GPL-2.0
/*
 * maquisd: the maquis control plane.  It holds this host's keys, publishes
 * its descriptor and learns others' by gossip, builds circuits for the CLI
 * and serves its hop of others' circuits, and programs the kernel over the
 * "maquis" generic netlink family.  One thread, one poll() loop: the
 * kernel's events (link control cells, hop control messages, circuit
 * events), the control socket and a 200 ms tick for every timer.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "maquisd.h"
#include "rate.h"

#define MAQD_VERSION		"0.1"
#define MAQD_CONF_DEFAULT	"/etc/maquis/maquisd.conf"
#define MAQD_TICK_MS		200
#define MAQD_ONION_LIFE		(24 * 3600)
#define MAQD_MAX_POLL		64
#define RATE_WATCH_MS		5000	/* the datapath's relay-rate read this often */

static enum maq_log_level log_level = MAQ_LOG_INFO;
static bool log_journal;

void maqd_log(enum maq_log_level l, const char *fmt, ...)
{
	static const int prio[] = { 3, 4, 6, 7 };	/* syslog levels */
	va_list ap;

	if (l > log_level)
		return;
	/* journald reads "<N>" as the priority when stderr is its stream */
	if (log_journal)
		fprintf(stderr, "<%d>", prio[l]);
	else
		fprintf(stderr, "maquisd: %s: ", maq_log_level_name(l));
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

u64 maqd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000 + (u64)ts.tv_nsec / 1000000;
}

u64 maqd_wall(void)
{
	return (u64)time(NULL);
}

u32 maqd_random_nonzero(void)
{
	u32 v;

	do
		v = randombytes_random();
	while (!v);
	return v;
}

const char *maqd_id_hex(const u8 id[MAQ_ID_PK_LEN], char buf[17])
{
	return sodium_bin2hex(buf, 17, id, 8);
}

const char *maqd_b64(const u8 *bin, size_t len, char *buf, size_t buflen)
{
	return sodium_bin2base64(buf, buflen, bin, len,
				 sodium_base64_VARIANT_ORIGINAL);
}

int maqd_cell_send(struct maqd *d, const union maq_sockaddr *peer,
		   const u8 cell[MAQ_CELL_SIZE])
{
	char a[64];
	int err = maq_dp_cell_send(d->dp, peer, cell);

	if (err)
		log_debug("cell to %s: %s: %s",
			  maq_sockaddr_str(peer, a, sizeof(a)), strerror(-err),
			  maq_dp_errmsg(d->dp));
	return err;
}

/* --- keys ---------------------------------------------------------------- */

static int key_path(char *buf, size_t len, const struct maqd *d,
		    const char *name)
{
	int n = snprintf(buf, len, "%s/%s", d->conf.key_dir, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static bool file_exists(const char *path)
{
	struct stat st;

	return !lstat(path, &st);
}

/* The onion key in use and the one before it: circuits are built to the
 * key in the descriptor a client holds, which may be a day old.
 */
static int onion_rotate(struct maqd *d)
{
	char cur[PATH_MAX], prev[PATH_MAX], err[512];
	struct maq_onion_key k;
	int ret;

	if (key_path(cur, sizeof(cur), d, "onion.key") ||
	    key_path(prev, sizeof(prev), d, "onion.prev.key"))
		return -ENAMETOOLONG;
	ret = maq_onion_generate(&k);
	if (ret)
		return ret;
	if (d->n_onion) {
		ret = maq_onion_save(prev, &d->onion[0], err, sizeof(err));
		if (ret)
			goto fail;
		d->onion[1] = d->onion[0];
		d->n_onion = 2;
	} else {
		d->n_onion = 1;
	}
	ret = maq_onion_save(cur, &k, err, sizeof(err));
	if (ret)
		goto fail;
	d->onion[0] = k;
	d->onion_since = maqd_wall();
	maq_onion_wipe(&k);
	log_info("new onion key");
	return 0;
fail:
	log_err("%s", err);
	maq_onion_wipe(&k);
	return ret;
}

static int keys_load(struct maqd *d)
{
	char path[PATH_MAX], err[512];
	struct stat st;
	int ret;

	if (mkdir(d->conf.key_dir, 0700) && errno != EEXIST) {
		log_err("key-dir %s: %s", d->conf.key_dir, strerror(errno));
		return -errno;
	}
	if (key_path(path, sizeof(path), d, "identity.key"))
		return -ENAMETOOLONG;
	if (file_exists(path)) {
		ret = maq_identity_load(path, &d->id, err, sizeof(err));
	} else {
		ret = maq_identity_generate(&d->id);
		if (!ret)
			ret = maq_identity_save(path, &d->id, err,
						sizeof(err));
		if (!ret)
			log_info("new identity key in %s", path);
	}
	if (ret) {
		log_err("%s", err);
		return ret;
	}

	if (key_path(path, sizeof(path), d, "onion.key"))
		return -ENAMETOOLONG;
	if (!file_exists(path))
		return onion_rotate(d);
	ret = maq_onion_load(path, &d->onion[0], err, sizeof(err));
	if (ret) {
		log_err("%s", err);
		return ret;
	}
	d->n_onion = 1;
	d->onion_since = !stat(path, &st) ? (u64)st.st_mtime : maqd_wall();
	if (!key_path(path, sizeof(path), d, "onion.prev.key") &&
	    file_exists(path) &&
	    !maq_onion_load(path, &d->onion[1], err, sizeof(err)))
		d->n_onion = 2;
	return 0;
}

static void keys_tick(struct maqd *d)
{
	if (maqd_wall() < d->onion_since + MAQD_ONION_LIFE)
		return;
	if (!onion_rotate(d) && d->publish)
		maqd_publish(d);
}

/* --- the device ------------------------------------------------------------ */

static int device_setup(struct maqd *d)
{
	static const enum maq_dp_kind kind[] = {
		[MAQ_CONF_DP_AUTO] = MAQ_DP_AUTO,
		[MAQ_CONF_DP_MODULE] = MAQ_DP_MODULE,
		[MAQ_CONF_DP_USER] = MAQ_DP_USER,
	};
	static const enum maq_dp_xdp xdp[] = {
		[MAQ_CONF_XDP_DEFAULT] = MAQ_DP_XDP_AUTO,
		[MAQ_CONF_XDP_OFF] = MAQ_DP_XDP_OFF,
		[MAQ_CONF_XDP_AUTO] = MAQ_DP_XDP_AUTO,
		[MAQ_CONF_XDP_NATIVE] = MAQ_DP_XDP_NATIVE,
		[MAQ_CONF_XDP_GENERIC] = MAQ_DP_XDP_GENERIC,
	};
	struct maq_dp_opts o = {
		.kind = kind[d->conf.datapath],
		.ifname = d->conf.interface,
		.relay = d->conf.role == MAQ_CONF_RELAY,
		.xdp = xdp[d->conf.xdp],
		.xdp_default = d->conf.xdp == MAQ_CONF_XDP_DEFAULT,
		.xdp_ifname = d->conf.xdp_interface,
		.pin_root = *d->conf.xdp_pin_root ? d->conf.xdp_pin_root :
						    NULL,
		.epoch_secs = d->conf.epoch_secs,
	};
	char err[512], a[64];
	int ret;

	if (d->conf.n_listen)
		o.listen = d->conf.listen[0];
	ret = maq_dp_open(&d->dp, &o, err, sizeof(err));
	if (ret) {
		log_err("%s", err);
		return ret;
	}
	d->ifindex = maq_dp_ifindex(d->dp);
	if (d->conf.n_listen)
		d->listen = d->conf.listen[0];
	if (d->conf.address.family) {
		ret = maqd_addr_add(d->ifindex, &d->conf.address);
		if (ret)
			log_warn("cannot add %s to %s", maq_prefix_str(
				 &d->conf.address, a, sizeof(a)),
				 d->conf.interface);
	}
	return 0;
}

/* What is enforced is what is announced (kB/s, at least 1). */
static void rate_announce(struct maqd *d)
{
	u64 rate = d->conf.relay_rate;

	if (!rate)
		d->conf.bandwidth = d->bandwidth_conf;
	else
		d->conf.bandwidth = rate >= 2000 ? (u32)(rate / 1000) : 1;
}

/*
 * What this relay gives (relay-rate, relay-burst), into whatever relays
 * its circuits: the module's device and, in either mode, a pure XDP relay
 * pinned under our root (rate.h).  A client relays nothing.
 */
static int rate_setup(struct maqd *d)
{
	const char *root = *d->conf.xdp_pin_root ? d->conf.xdp_pin_root : NULL;
	struct maq_nl *nl = NULL;
	char err[512], r[64];
	int ret;

	if (d->conf.role != MAQ_CONF_RELAY)
		return 0;
	if (maq_dp_kind(d->dp) == MAQ_DP_MODULE) {
		ret = maq_nl_open(&nl);
		if (ret) {
			log_err("relay-rate: netlink: %s", strerror(-ret));
			return ret;
		}
	}
	ret = maq_rate_apply(nl, d->ifindex, root, d->conf.relay_rate,
			     d->conf.relay_burst, err, sizeof(err));
	maq_nl_close(nl);
	if (ret) {
		log_err("relay-rate: %s", err);
		return ret;
	}
	log_info("relaying at most %s",
		 maq_rate_str(d->conf.relay_rate, r, sizeof(r)));
	return 0;
}

/*
 * `maquis set relay-rate` changes the limit in the datapath behind our
 * back (as `wg set` does), yet what is enforced must be what is
 * announced: we read it every few seconds and publish anew when it moved.
 */
static int rate_enforced(struct maqd *d, u64 *rate)
{
	const char *root = *d->conf.xdp_pin_root ? d->conf.xdp_pin_root : NULL;
	struct maq_nl *nl;
	struct maq_dev dev;
	uint32_t burst;
	int ret;

	if (maq_dp_kind(d->dp) != MAQ_DP_MODULE)
		return maq_xdp_rate_get(root, rate, &burst);
	ret = maq_nl_open(&nl);
	if (ret)
		return ret;
	ret = maq_nl_dev_get(nl, d->ifindex, &dev);
	maq_nl_close(nl);
	if (!ret)
		*rate = dev.relay_rate;
	return ret;
}

static void rate_watch(struct maqd *d, u64 now)
{
	char r[64];
	u64 rate;

	if (d->conf.role != MAQ_CONF_RELAY || now < d->next_rate_ms)
		return;
	d->next_rate_ms = now + RATE_WATCH_MS;
	if (rate_enforced(d, &rate) || rate == d->conf.relay_rate)
		return;
	d->conf.relay_rate = rate;
	rate_announce(d);
	log_info("relaying at most %s now (set from outside): announcing %u kB/s",
		 maq_rate_str(rate, r, sizeof(r)), d->conf.bandwidth);
	maqd_publish(d);
}

/* --- events from the kernel ------------------------------------------------ */

static void link_cell_rx(struct maqd *d, const struct maq_event *ev)
{
	u32 handle;
	u8 type;

	if (maq_ctl_get(ev->cell, sizeof(ev->cell), &type, &handle)) {
		d->st.ctl_bad++;
		return;
	}
	switch (type) {
	case MAQ_CTL_CREATE:
		maqd_create_rx(d, &ev->peer, handle, ev->cell);
		break;
	case MAQ_CTL_CREATED:
		maqd_created_rx(d, &ev->peer, handle, ev->cell);
		break;
	case MAQ_CTL_GOSSIP:
		maqd_gossip_rx(d, &ev->peer, ev->cell);
		break;
	default:
		d->st.ctl_bad++;
	}
}

static void events_read(struct maqd *d)
{
	struct maq_event ev;
	int i, ret;

	/* bounded: the loop must come back to the other sources */
	for (i = 0; i < 256; i++) {
		ret = maq_dp_event_recv(d->dp, &ev);
		if (ret == -ENOBUFS) {
			d->st.events_lost++;
			log_warn("kernel events lost: resynchronising");
			maqd_reconcile(d);
			continue;
		}
		if (ret <= 0)
			break;
		if (ev.ifindex != d->ifindex)
			continue;
		if (ev.cmd == MAQUIS_CMD_CELL_NTF) {
			if (MAQ_HAS(&ev, MAQUIS_A_CELL) &&
			    MAQ_HAS(&ev, MAQUIS_A_PEER))
				link_cell_rx(d, &ev);
			else if (MAQ_HAS(&ev, MAQUIS_A_CTL) && ev.hop >= 0)
				maqd_hopctl_rx(d, &ev);
		} else if (ev.cmd == MAQUIS_CMD_EVENT_NTF) {
			maqd_event_rx(d, &ev);
		}
	}
	sodium_memzero(&ev, sizeof(ev));
}

/* --- main ------------------------------------------------------------------ */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: maquisd [-c FILE] [-s KEY=VALUE]... [-t] [-h] [-V]\n"
		"  -c, --config FILE      configuration (default %s)\n"
		"  -s, --set KEY=VALUE    override a configuration key\n"
		"  -t, --test-config      check the configuration and exit\n"
		"  -h, --help             this help\n"
		"  -V, --version          the version\n"
		"See maquisd(8).\n", MAQD_CONF_DEFAULT);
}

static int load_config(struct maqd *d, int argc, char **argv, bool *test)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "set", required_argument, NULL, 's' },
		{ "test-config", no_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *file = NULL, **sets;
	unsigned int n_sets = 0;
	char err[1024];
	int c, ret;

	sets = calloc((size_t)argc + 1, sizeof(*sets));
	if (!sets)
		return 1;
	while ((c = getopt_long(argc, argv, "c:s:thV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			file = optarg;
			break;
		case 's':
			sets[n_sets++] = optarg;
			break;
		case 't':
			*test = true;
			break;
		case 'h':
			usage(stdout);
			free(sets);
			exit(0);
		case 'V':
			printf("maquisd %s\n", MAQD_VERSION);
			free(sets);
			exit(0);
		default:
			usage(stderr);
			free(sets);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "maquisd: unexpected argument '%s'\n",
			argv[optind]);
		free(sets);
		return 2;
	}
	maq_config_init(&d->conf);
	ret = 0;
	if (file || file_exists(MAQD_CONF_DEFAULT))
		ret = maq_config_load(&d->conf, file ? file : MAQD_CONF_DEFAULT,
				      err, sizeof(err));
	if (!ret)
		ret = maq_config_override(&d->conf, sets, n_sets, err,
					  sizeof(err));
	free(sets);
	if (ret) {
		fprintf(stderr, "maquisd: %s\n", err);
		return 1;
	}
	if (d->conf.role == MAQ_CONF_RELAY &&
	    (!d->conf.n_listen || maq_addr_unspecified(&d->conf.listen[0]))) {
		fprintf(stderr,
			"maquisd: a relay needs a listen address others can reach (listen = address[:port])\n");
		return 1;
	}
	d->bandwidth_conf = d->conf.bandwidth;
	rate_announce(d);
	if (d->conf.address.family && (!d->conf.n_listen ||
	    maq_addr_unspecified(&d->conf.listen[0]))) {
		fprintf(stderr,
			"maquisd: announcing an address needs a listen address others can reach\n");
		return 1;
	}
	return 0;
}

static int signals_open(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

static void signal_read(struct maqd *d, int fd)
{
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			log_info("SIGHUP: publishing the descriptor again");
			if (d->publish)
				maqd_publish(d);
			continue;
		}
		log_info("signal %u: stopping", si.ssi_signo);
		d->stop = 1;
	}
}

static int run(struct maqd *d)
{
	struct pollfd pfd[MAQD_MAX_POLL];
	int sfd, n, ndp, i, ret;
	u64 now;

	sfd = signals_open();
	if (sfd < 0) {
		log_err("signalfd: %s", strerror(-sfd));
		return 1;
	}
	while (!d->stop) {
		pfd[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		ndp = 1 + maq_dp_poll(d->dp, pfd + 1, MAQD_MAX_POLL - 2);
		n = ndp + maqd_control_poll(d, pfd + ndp,
					    MAQD_MAX_POLL - (unsigned int)ndp);
		ret = poll(pfd, (nfds_t)n, MAQD_TICK_MS);
		if (ret < 0 && errno != EINTR) {
			log_err("poll: %s", strerror(errno));
			break;
		}
		if (ret > 0) {
			if (pfd[0].revents)
				signal_read(d, sfd);
			for (i = 1; i < ndp && !pfd[i].revents; i++)
				;
			if (i < ndp) {
				maq_dp_ready(d->dp, pfd + 1,
					     (unsigned int)ndp - 1);
				events_read(d);
			}
			maqd_control_ready(d, pfd + ndp,
					   (unsigned int)(n - ndp));
		}
		now = maqd_now_ms();
		maq_dp_tick(d->dp, now);
		events_read(d);
		rate_watch(d, now);
		maqd_gossip_tick(d, now);
		maqd_circuits_tick(d, now);
		maqd_alias_tick(d, now);
		maqd_control_tick(d, now);
		keys_tick(d);
	}
	close(sfd);
	return 0;
}

int main(int argc, char **argv)
{
	static struct maqd d;
	bool test = false;
	unsigned int i;
	int ret;

	if (maq_crypto_init()) {
		fprintf(stderr, "maquisd: libsodium failed to initialise\n");
		return 1;
	}
	ret = load_config(&d, argc, argv, &test);
	if (ret)
		return ret;
	if (test) {
		printf("maquisd: configuration ok\n");
		return 0;
	}
	log_level = d.conf.log_level;
	log_journal = getenv("JOURNAL_STREAM") != NULL;
	d.ctl_fd = -1;
	d.started_ms = maqd_now_ms();

	ret = keys_load(&d);
	if (ret)
		goto out;
	maq_view_init(&d.view, d.id.pk);
	ret = device_setup(&d);
	if (!ret)
		ret = rate_setup(&d);
	if (ret)
		goto out_nl;
	d.publish = d.conf.role == MAQ_CONF_RELAY || d.conf.address.family;
	if (d.publish) {
		ret = maqd_publish(&d);
		if (ret)
			goto out_nl;
	}
	ret = maqd_control_open(&d);
	if (ret)
		goto out_nl;
	maqd_reconcile(&d);
	for (i = 0; i < d.conf.n_circuit; i++) {
		struct maqd_want *w = maqd_want_add(&d, d.conf.circuit[i],
						    d.conf.hops, NULL, 0,
						    d.conf.lifetime);

		if (w)
			w->from_config = true;
	}
	{
		char hex[17];

		log_info("%s on %s, identity %s, %u bootstrap peers",
			 maq_conf_role_name(d.conf.role), d.conf.interface,
			 maqd_id_hex(d.id.pk, hex), d.conf.n_bootstrap);
	}
	ret = run(&d);
	maqd_alias_shutdown(&d);
	maqd_shutdown(&d);
	maqd_control_close(&d);
out_nl:
	maq_dp_close(d.dp);
	maq_view_free(&d.view);
out:
	maq_identity_wipe(&d.id);
	maq_onion_wipe(&d.onion[0]);
	maq_onion_wipe(&d.onion[1]);
	return ret ? 1 : 0;
}
