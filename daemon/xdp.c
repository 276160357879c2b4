// SPDX-License-Identifier: GPL-2.0
/*
 * XDP relay loader, libbpf-bootstrap style: pick the variant (probe the
 * module's BTF), open its skeleton, point its maps at their pins, load,
 * configure, attach; the pure variant's hops go into the pinned table (see
 * xdp.h for the layout and why the table is shared).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <linux/if_link.h>
#include <linux/magic.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#ifdef MAQ_HAVE_LIBXDP
#include <dlfcn.h>
#include <xdp/libxdp.h>
#endif

#include "xdp.h"

#include "../bpf/relay.skel.h"
#include "../bpf/relay_kfunc.skel.h"

/* Ours, to replace or detach, whichever variant: a host may switch. */
static const char *const maq_prog_names[] = { "maq_relay", "maq_relay_kfunc" };
static const enum maq_xdp_variant maq_prog_variant[] = {
	MAQ_XDP_VARIANT_PURE, MAQ_XDP_VARIANT_KFUNC,
};

/* Maps pinned once for the host, and once per interface. */
static const char *const maq_shared_maps[] = {
	"maq_circuits", "maq_rate", "maq_tx_ports"
};
#define MAQ_TX_PORTS	2	/* index in maq_shared_maps */
static const char *const maq_if_maps[] = { "maq_config", "maq_stats" };

struct maq_xdp {
	/* one of the two skeletons, or neither for maq_xdp_open_pinned() */
	struct maq_relay *pure;
	struct maq_relay_kfunc *kfunc;
	struct bpf_object *obj;
	char root[PATH_MAX / 2];
	char ifname[IF_NAMESIZE];
	int ifindex;
	enum maq_xdp_mode mode;
	enum maq_xdp_variant variant;
	uint32_t prog_id;
	__be16 port;
	/* map fds: the skeleton's, or our own without one; -1: none */
	int circuits;
	int stats;
};

static const char *const maq_stat_names[MAQ_STAT_MAX] = {
	[MAQ_STAT_UNKNOWN_CID]	= "unknown-cid",
	[MAQ_STAT_BAD_TAG]	= "bad-tag",
	[MAQ_STAT_REPLAY]	= "replay",
	[MAQ_STAT_MALFORMED]	= "malformed",
	[MAQ_STAT_NO_ROUTE]	= "no-route",
	[MAQ_STAT_KEY_LIMIT]	= "key-limit",
	[MAQ_STAT_RATE]		= "rate",
	[MAQ_STAT_CELLS_IN]	= "cells-in",
	[MAQ_STAT_BYTES_IN]	= "bytes-in",
	[MAQ_STAT_CELLS_OUT]	= "cells-out",
	[MAQ_STAT_BYTES_OUT]	= "bytes-out",
	[MAQ_STAT_PASS]		= "pass",
	[MAQ_STAT_PASS_CTL]	= "pass-ctl",
	[MAQ_STAT_ERROR]	= "error",
};

const char *maq_xdp_stat_name(int stat)
{
	return stat >= 0 && stat < MAQ_STAT_MAX ? maq_stat_names[stat] : NULL;
}

const char *maq_xdp_mode_name(enum maq_xdp_mode mode)
{
	switch (mode) {
	case MAQ_XDP_MODE_NATIVE:
		return "native";
	case MAQ_XDP_MODE_GENERIC:
		return "generic";
	default:
		return "auto";
	}
}

const char *maq_xdp_variant_name(enum maq_xdp_variant v)
{
	switch (v) {
	case MAQ_XDP_VARIANT_PURE:
		return "pure";
	case MAQ_XDP_VARIANT_KFUNC:
		return "kfunc";
	default:
		return "auto";
	}
}

enum maq_xdp_mode maq_xdp_mode(const struct maq_xdp *x)
{
	return x->mode;
}

enum maq_xdp_variant maq_xdp_variant(const struct maq_xdp *x)
{
	return x->variant;
}

uint32_t maq_xdp_prog_id(const struct maq_xdp *x)
{
	return x->prog_id;
}

/* ---- paths and pins ----------------------------------------------------- */

/*
 * <root>[/<ifname>][/<name>].  bpffs refuses names with a dot (reserved for
 * its own files) and interface names may have one (eth0.100), but never a
 * colon (dev_valid_name()): a dot in @ifname becomes a colon.
 */
static int maq_path(char *buf, size_t len, const char *root,
		    const char *ifname, const char *name)
{
	char dir[IF_NAMESIZE + 1] = "";
	int n;
	char *p;

	if (ifname) {
		dir[0] = '/';
		snprintf(dir + 1, sizeof(dir) - 1, "%s", ifname);
		for (p = dir; *p; p++)
			if (*p == '.')
				*p = ':';
	}
	n = snprintf(buf, len, "%s%s%s%s", root, dir, name ? "/" : "",
		     name ? name : "");
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* What the kernel would take as an interface name, and no path tricks. */
static bool maq_ifname_ok(const char *ifname)
{
	return ifname && *ifname && strlen(ifname) < IF_NAMESIZE &&
	       !strchr(ifname, '/') && strcmp(ifname, ".") &&
	       strcmp(ifname, "..");
}

static int maq_mkdir(const char *path)
{
	if (mkdir(path, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

/* mkdir -p, for a root whose parents may not exist yet. */
static int maq_mkdir_p(const char *path)
{
	char buf[PATH_MAX], *p;
	int err;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		err = maq_mkdir(buf);
		*p = '/';
		if (err)
			return err;
	}
	return maq_mkdir(buf);
}

/*
 * Pins need bpffs: the root, or its nearest existing ancestor, must be on
 * it.  `ip netns exec` mounts a fresh sysfs over /sys in its own mount
 * namespace, hiding /sys/fs/bpf: say so instead of failing on whatever
 * sysfs answers to mkdir.
 */
static int maq_check_bpffs(const char *root)
{
	char buf[PATH_MAX], *slash;
	struct statfs sf;

	if (snprintf(buf, sizeof(buf), "%s", root) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	while (statfs(buf, &sf)) {
		if (errno != ENOENT)
			return -errno;
		slash = strrchr(buf, '/');
		if (!slash || slash == buf)
			return -ENOENT;
		*slash = '\0';
	}
	return sf.f_type == BPF_FS_MAGIC ? 0 : -EMEDIUMTYPE;
}

/* Unlink the per-interface pins and their directory; ENOENT is fine. */
static void maq_unpin_if(const char *root, const char *ifname)
{
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < sizeof(maq_if_maps) / sizeof(maq_if_maps[0]); i++)
		if (!maq_path(path, sizeof(path), root, ifname, maq_if_maps[i]))
			unlink(path);
	if (!maq_path(path, sizeof(path), root, ifname, NULL))
		rmdir(path);
}

/*
 * The shared maps stay while any interface directory remains under the
 * root: another interface's program still uses them.
 */
static void maq_unpin_shared_if_last(const char *root)
{
	char path[PATH_MAX];
	struct dirent *de;
	bool others = false;
	size_t i;
	DIR *d;

	d = opendir(root);
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (de->d_type == DT_DIR) {
			others = true;
			break;
		}
	}
	closedir(d);
	if (others)
		return;
	for (i = 0; i < sizeof(maq_shared_maps) / sizeof(maq_shared_maps[0]); i++)
		if (!maq_path(path, sizeof(path), root, NULL, maq_shared_maps[i]))
			unlink(path);
	rmdir(root);
}

static int maq_set_pin(struct bpf_object *obj, const char *name,
		       const char *root, const char *dir)
{
	struct bpf_map *m = bpf_object__find_map_by_name(obj, name);
	char path[PATH_MAX];
	int err;

	if (!m)
		return -ENOENT;
	err = maq_path(path, sizeof(path), root, dir, name);
	if (err)
		return err;
	return bpf_map__set_pin_path(m, path);
}

/* ---- sysctl ------------------------------------------------------------- */

/*
 * bpf_fib_lookup() from lo needs forwarding on lo, in each family (see
 * struct maq_xdp_config); it enables nothing for traffic from outside.
 * /proc/sys/net follows the caller's network namespace.  A kernel without
 * IPv6 has no such file, which is fine.
 */
static int maq_sysctl_one(const char *path)
{
	int fd, ret = 0;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (write(fd, "1\n", 2) != 2)
		ret = -errno;
	close(fd);
	return ret;
}

static int maq_sysctl_lo_forwarding(void)
{
	int err;

	err = maq_sysctl_one("/proc/sys/net/ipv4/conf/lo/forwarding");
	if (err)
		return err;
	return maq_sysctl_one("/proc/sys/net/ipv6/conf/lo/forwarding");
}

/* ---- attachment --------------------------------------------------------- */

/* libxdp's dispatcher on an interface, as far as the relay cares. */
struct maq_disp {
	uint32_t id;			/* the dispatcher's; 0: none */
	enum maq_xdp_mode mode;		/* how it is attached */
	uint32_t relay_id;		/* a maquis relay among its programs */
	enum maq_xdp_variant variant;	/* that relay's */
	int others;			/* its programs that are not ours */
};


/*
 * Is program @id a maquis relay?  Its variant (MAQ_XDP_VARIANT_PURE or
 * _KFUNC, by name), 0 when it is somebody else's, -errno when it cannot
 * tell.
 */
static int maq_prog_is_relay(uint32_t id)
{
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);
	int fd, ret;
	size_t i;

	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return -errno;
	memset(&info, 0, sizeof(info));
	ret = bpf_obj_get_info_by_fd(fd, &info, &len);
	close(fd);
	if (ret)
		return -errno;
	for (i = 0; i < sizeof(maq_prog_names) / sizeof(maq_prog_names[0]); i++)
		if (!strcmp(info.name, maq_prog_names[i]))
			return maq_prog_variant[i];
	return 0;
}

/*
 * What is attached to @ifindex, @q filled in: a maquis relay's variant, 0
 * for nothing or somebody else's program (q->prog_id tells), or -errno.
 */
static int maq_query(int ifindex, struct bpf_xdp_query_opts *q)
{
	int err = bpf_xdp_query(ifindex, 0, q);

	if (err)
		return err;
	return q->prog_id ? maq_prog_is_relay(q->prog_id) : 0;
}

static uint32_t maq_mode_flags(enum maq_xdp_mode mode)
{
	return mode == MAQ_XDP_MODE_GENERIC ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
}

static enum maq_xdp_mode maq_mode_of(uint8_t attach_mode)
{
	if (attach_mode == XDP_ATTACHED_SKB)
		return MAQ_XDP_MODE_GENERIC;
	if (attach_mode == XDP_ATTACHED_DRV)
		return MAQ_XDP_MODE_NATIVE;
	return MAQ_XDP_MODE_AUTO;
}

/*
 * Attach @prog_fd to @ifindex.  An earlier maq_relay is replaced in place
 * when it sits in the mode we want (no gap in service); in the other mode
 * the kernel refuses to have both, so it is detached first.  Otherwise
 * the attach must not displace anybody (XDP_FLAGS_UPDATE_IF_NOEXIST).
 */
static int maq_attach(int ifindex, int prog_fd, enum maq_xdp_mode want,
		      enum maq_xdp_mode *got)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	LIBBPF_OPTS(bpf_xdp_attach_opts, ao);
	enum maq_xdp_mode old_mode = MAQ_XDP_MODE_AUTO, try[2];
	int err, i, n, old_fd = -1;

	err = bpf_xdp_query(ifindex, 0, &q);
	if (err)
		return err;
	if (q.prog_id) {
		err = maq_prog_is_relay(q.prog_id);
		if (err <= 0)
			return err ? err : -EBUSY;
		if (q.attach_mode == XDP_ATTACHED_HW ||
		    q.attach_mode == XDP_ATTACHED_MULTI)
			return -EBUSY;
		old_mode = maq_mode_of(q.attach_mode);
		old_fd = bpf_prog_get_fd_by_id(q.prog_id);
		if (old_fd < 0)
			return -errno;
	}

	if (want != MAQ_XDP_MODE_AUTO) {
		try[0] = want;
		n = 1;
	} else if (old_mode == MAQ_XDP_MODE_GENERIC) {
		/* it fell back before; the driver will not have changed */
		try[0] = MAQ_XDP_MODE_GENERIC;
		n = 1;
	} else {
		try[0] = MAQ_XDP_MODE_NATIVE;
		try[1] = MAQ_XDP_MODE_GENERIC;
		n = 2;
	}

	err = -EOPNOTSUPP;
	for (i = 0; i < n; i++) {
		uint32_t flags = maq_mode_flags(try[i]);

		if (old_fd >= 0 && old_mode == try[i]) {
			ao.old_prog_fd = old_fd;
			err = bpf_xdp_attach(ifindex, prog_fd,
					     flags | XDP_FLAGS_REPLACE, &ao);
		} else {
			if (old_fd >= 0) {
				/* other mode: make room, atomically vs. old */
				ao.old_prog_fd = old_fd;
				err = bpf_xdp_detach(ifindex,
						     maq_mode_flags(old_mode) |
						     XDP_FLAGS_REPLACE, &ao);
				if (err)
					break;
				close(old_fd);
				old_fd = -1;
			}
			err = bpf_xdp_attach(ifindex, prog_fd,
					     flags | XDP_FLAGS_UPDATE_IF_NOEXIST,
					     NULL);
		}
		if (!err) {
			*got = try[i];
			break;
		}
	}
	if (old_fd >= 0)
		close(old_fd);
	return err;
}

/* ---- libxdp's dispatcher ------------------------------------------------ */

/*
 * An interface holds one XDP program.  libxdp shares it: its dispatcher is
 * that program and calls each of its components in turn (freplace of a
 * slot), going on to the next while they return an action in their
 * chain_call_actions (XDP_PASS by default).  When somebody else's program
 * sits in a dispatcher, the relay joins it rather than refusing; the relay
 * returns XDP_PASS for whatever is not a cell of its own, so the programs
 * after it still see everything else.  Alone on an interface it keeps the
 * plain attach: one indirect call less, and `ip link` names the program.
 *
 * libxdp is opened with dlopen() the first time an interface needs it, so
 * neither a relay alone on its NIC nor a program linking libmaquis.a needs
 * libxdp1 installed.
 */
#ifdef MAQ_HAVE_LIBXDP
#define MAQ_LX_SYMS(X)							\
	X(libxdp_get_error) X(xdp_program__from_bpf_obj)		\
	X(xdp_program__from_id) X(xdp_program__close)			\
	X(xdp_program__attach) X(xdp_program__detach)			\
	X(xdp_program__id) X(xdp_program__set_chain_call_enabled)	\
	X(xdp_multiprog__get_from_ifindex) X(xdp_multiprog__next_prog)	\
	X(xdp_multiprog__close) X(xdp_multiprog__is_legacy)		\
	X(xdp_multiprog__attach_mode) X(xdp_multiprog__main_prog)

#define MAQ_LX_MEMBER(f) __typeof__(f) *f;
static struct {
	bool tried, ok;
	MAQ_LX_SYMS(MAQ_LX_MEMBER)
} lx;

static bool maq_lx(void)
{
	void *h;

	if (lx.tried)
		return lx.ok;
	lx.tried = true;
	h = dlopen("libxdp.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return false;
#define MAQ_LX_SYM(f) if (!(lx.f = dlsym(h, #f))) goto bad;
	MAQ_LX_SYMS(MAQ_LX_SYM)
#undef MAQ_LX_SYM
	lx.ok = true;
	return true;
bad:
	dlclose(h);
	return false;
}

static enum xdp_attach_mode maq_lx_mode(enum maq_xdp_mode m)
{
	return m == MAQ_XDP_MODE_GENERIC ? XDP_MODE_SKB : XDP_MODE_NATIVE;
}

/*
 * Fill @d from the dispatcher on @ifindex, its first maquis relay other
 * than @skip in d->relay_id.  0 also when there is none (d->id 0):
 * nothing attached, or a program that is not a dispatcher.
 */
static int maq_disp_read(int ifindex, uint32_t skip, struct maq_disp *d)
{
	struct xdp_program *p = NULL;
	struct xdp_multiprog *mp;
	uint32_t id;
	long err;
	int v;

	memset(d, 0, sizeof(*d));
	if (!maq_lx())
		return 0;
	mp = lx.xdp_multiprog__get_from_ifindex(ifindex);
	err = lx.libxdp_get_error(mp);
	if (err)
		return err == -ENOENT ? 0 : (int)err;
	if (lx.xdp_multiprog__is_legacy(mp))
		goto out;
	d->id = lx.xdp_program__id(lx.xdp_multiprog__main_prog(mp));
	d->mode = lx.xdp_multiprog__attach_mode(mp) == XDP_MODE_SKB ?
		  MAQ_XDP_MODE_GENERIC : MAQ_XDP_MODE_NATIVE;
	while ((p = lx.xdp_multiprog__next_prog(p, mp))) {
		id = lx.xdp_program__id(p);
		v = maq_prog_is_relay(id);
		if (v <= 0) {
			d->others++;
		} else if (id != skip && !d->relay_id) {
			d->relay_id = id;
			d->variant = v;
		}
	}
out:
	lx.xdp_multiprog__close(mp);
	return 0;
}

/*
 * Take component @id out of the dispatcher on @ifindex, attached in @mode:
 * libxdp 1.3 attaches the dispatcher left in the mode it is told, and the
 * kernel's default for a driver with XDP is native.
 */
static int maq_disp_detach_id(int ifindex, uint32_t id,
			      enum maq_xdp_mode mode)
{
	struct xdp_program *p;
	long err;

	p = lx.xdp_program__from_id(id);
	err = lx.libxdp_get_error(p);
	if (err)
		return err;
	err = lx.xdp_program__detach(p, ifindex, maq_lx_mode(mode), 0);
	lx.xdp_program__close(p);
	return err;
}

/*
 * Every maquis relay in the dispatcher but @keep goes: an earlier run's,
 * once @keep has taken over.
 */
static int maq_disp_prune(int ifindex, uint32_t keep)
{
	struct maq_disp d;
	int err, i;

	for (i = 0; i < 8; i++) {
		err = maq_disp_read(ifindex, keep, &d);
		if (err || !d.relay_id)
			return err;
		err = maq_disp_detach_id(ifindex, d.relay_id, d.mode);
		if (err)
			return err;
	}
	return -ELOOP;
}

/*
 * Load the relay (x->obj, opened, not loaded) as a component of the
 * dispatcher @d on x->ifindex, in the dispatcher's mode: @want must agree
 * with it (the kernel runs one mode at a time).  A relay of ours already
 * there stays until the new one runs, then goes: both share the pinned
 * maps, so the handover drops no cell.
 */
static int maq_disp_attach(struct maq_xdp *x, const struct maq_disp *d,
			   enum maq_xdp_mode want)
{
	struct xdp_program *p;
	long err;

	if (want != MAQ_XDP_MODE_AUTO && want != d->mode)
		return -EBUSY;
	p = lx.xdp_program__from_bpf_obj(x->obj, NULL);
	err = lx.libxdp_get_error(p);
	if (err)
		return err;
	/* what the relay passes is not its own: the next program's turn */
	lx.xdp_program__set_chain_call_enabled(p, XDP_PASS, true);
	err = lx.xdp_program__attach(p, x->ifindex, maq_lx_mode(d->mode), 0);
	if (!err) {
		x->prog_id = lx.xdp_program__id(p);
		x->mode = d->mode;
	}
	lx.xdp_program__close(p);
	/*
	 * The kernel (6.13, 6.12.y) takes a program that moves the packet's
	 * head or tail, as the relay does, only into a slot that may do so
	 * too, which libxdp's dispatchers declare only since mid-2025.
	 */
	if (err == -EINVAL)
		return -ENOEXEC;
	if (err)
		return err;
	err = maq_disp_prune(x->ifindex, x->prog_id);
	if (err)
		maq_disp_detach_id(x->ifindex, x->prog_id, x->mode);
	return err;
}

bool maq_xdp_libxdp(void)
{
	return maq_lx();
}
#else
static int maq_disp_read(int ifindex, uint32_t skip, struct maq_disp *d)
{
	(void)ifindex;
	(void)skip;
	memset(d, 0, sizeof(*d));
	return 0;
}

static int maq_disp_detach_id(int ifindex, uint32_t id,
			      enum maq_xdp_mode mode)
{
	(void)ifindex;
	(void)id;
	(void)mode;
	return -EOPNOTSUPP;
}

static int maq_disp_prune(int ifindex, uint32_t keep)
{
	(void)ifindex;
	(void)keep;
	return -EOPNOTSUPP;
}

static int maq_disp_attach(struct maq_xdp *x, const struct maq_disp *d,
			   enum maq_xdp_mode want)
{
	(void)x;
	(void)d;
	(void)want;
	return -EOPNOTSUPP;
}

bool maq_xdp_libxdp(void)
{
	return false;
}
#endif

/*
 * Where the relay goes on @ifindex: 0 attached alone (nothing there, or a
 * maquis relay to replace), 1 into the dispatcher @d; -EBUSY when somebody
 * else's program is there and is no dispatcher (or libxdp is missing).
 */
static int maq_where(int ifindex, struct maq_disp *d)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	int err;

	memset(d, 0, sizeof(*d));
	err = maq_query(ifindex, &q);
	if (err || !q.prog_id)
		return err < 0 ? err : 0;
	err = maq_disp_read(ifindex, 0, d);
	if (err)
		return err;
	return d->id ? 1 : -EBUSY;
}

uint32_t maq_xdp_dispatcher_id(const struct maq_xdp *x)
{
	struct maq_disp d;

	if (!x->prog_id || maq_disp_read(x->ifindex, 0, &d) ||
	    d.relay_id != x->prog_id)
		return 0;
	return d.id;
}

/* ---- the variant -------------------------------------------------------- */

int maq_xdp_kfunc_probe(const char *btf_path)
{
	const char *path = btf_path ? btf_path : MAQ_XDP_KFUNC_BTF;
	struct btf *vmlinux, *mod;
	int ret;

	/* no module loaded: the usual case on a Secure Boot host */
	if (access(path, R_OK))
		return errno == ENOENT ? 0 : -errno;
	vmlinux = btf__load_vmlinux_btf();
	if (!vmlinux)
		return -errno ?: -ENOENT;
	mod = btf__parse_split(path, vmlinux);
	if (!mod) {
		ret = -errno ?: -EINVAL;
		goto out;
	}
	ret = btf__find_by_name_kind(mod, "bpf_maquis_xdp_lookup",
				     BTF_KIND_FUNC) > 0 &&
	      btf__find_by_name_kind(mod, "bpf_maquis_xdp_relay",
				     BTF_KIND_FUNC) > 0;
	btf__free(mod);
out:
	btf__free(vmlinux);
	return ret;
}

/*
 * Auto: kfunc when the probe finds the kfuncs.  A probe that fails (a
 * module whose BTF cannot be parsed) means pure: the relay must run, and
 * the pure variant needs nothing from the module.  Forced kfunc without
 * the kfuncs: -ENOENT, before libbpf fails on the externs less clearly.
 */
static int maq_pick_variant(const struct maq_xdp_opts *o,
			    enum maq_xdp_variant *v)
{
	int have;

	if (o->variant == MAQ_XDP_VARIANT_PURE) {
		*v = MAQ_XDP_VARIANT_PURE;
		return 0;
	}
	if (o->variant != MAQ_XDP_VARIANT_AUTO &&
	    o->variant != MAQ_XDP_VARIANT_KFUNC)
		return -EINVAL;
	have = maq_xdp_kfunc_probe(o->kfunc_btf);
	if (o->variant == MAQ_XDP_VARIANT_KFUNC && have <= 0)
		return have < 0 ? have : -ENOENT;
	*v = have > 0 ? MAQ_XDP_VARIANT_KFUNC : MAQ_XDP_VARIANT_PURE;
	return 0;
}

/* ---- open / close ------------------------------------------------------- */

static struct bpf_map *maq_map(struct maq_xdp *x, const char *name)
{
	return bpf_object__find_map_by_name(x->obj, name);
}

static struct bpf_program *maq_prog(struct maq_xdp *x)
{
	return x->pure ? x->pure->progs.maq_relay :
			 x->kfunc->progs.maq_relay_kfunc;
}

/*
 * The kernel creates every devmap with BPF_F_RDONLY_PROG, whatever it was
 * asked (and refuses to be asked), so libbpf before 1.3 finds the pinned
 * one incompatible with the object's definition.  Reuse it by hand; it is
 * pinned by hand after the load when there was none.
 */
static int maq_tx_ports_reuse(struct maq_xdp *x)
{
	char path[PATH_MAX];
	int fd, err;

	err = maq_path(path, sizeof(path), x->root, NULL, "maq_tx_ports");
	if (err)
		return err;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	err = bpf_map__reuse_fd(maq_map(x, "maq_tx_ports"), fd);
	close(fd);
	return err ? err : 1;
}

static int maq_tx_port_add(struct maq_xdp *x)
{
	uint32_t idx = x->ifindex;

	if (bpf_map_update_elem(bpf_map__fd(maq_map(x, "maq_tx_ports")), &idx,
				&idx, BPF_ANY))
		return -errno;
	return 0;
}

static void maq_skel_destroy(struct maq_xdp *x)
{
	maq_relay__destroy(x->pure);
	maq_relay_kfunc__destroy(x->kfunc);
	x->pure = NULL;
	x->kfunc = NULL;
	x->obj = NULL;
}

static int maq_skel_open(struct maq_xdp *x)
{
	if (x->variant == MAQ_XDP_VARIANT_KFUNC) {
		x->kfunc = maq_relay_kfunc__open();
		if (x->kfunc)
			x->obj = x->kfunc->obj;
	} else {
		x->pure = maq_relay__open();
		if (x->pure)
			x->obj = x->pure->obj;
	}
	return x->obj ? 0 : -errno ?: -ENOMEM;
}

static int maq_skel_load(struct maq_xdp *x)
{
	return x->pure ? maq_relay__load(x->pure) :
			 maq_relay_kfunc__load(x->kfunc);
}

int maq_xdp_open(const char *ifname, const struct maq_xdp_opts *opts,
		 struct maq_xdp **xp)
{
	struct maq_xdp_opts o = opts ? *opts : (struct maq_xdp_opts){ 0 };
	struct maq_xdp_config cfg = { 0 };
	struct bpf_prog_info info;
	uint32_t len = sizeof(info), zero = 0;
	char path[PATH_MAX];
	bool fresh = true, tx_reused = false;
	struct maq_disp disp;
	struct maq_xdp *x;
	struct stat st;
	int err, multi = 0;
	size_t i;

	*xp = NULL;
	if (!maq_ifname_ok(ifname))
		return -EINVAL;
	if (o.maq_dev && !maq_ifname_ok(o.maq_dev))
		return -EINVAL;
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->circuits = x->stats = -1;
	snprintf(x->ifname, sizeof(x->ifname), "%s", ifname);
	if (snprintf(x->root, sizeof(x->root), "%s",
		     o.pin_root ? o.pin_root : MAQ_XDP_PIN_ROOT) >=
	    (int)sizeof(x->root)) {
		err = -ENAMETOOLONG;
		goto err_free;
	}
	x->ifindex = if_nametoindex(ifname);
	if (!x->ifindex) {
		err = -ENODEV;
		goto err_free;
	}
	x->port = htons(o.port ? o.port : MAQ_DEFAULT_PORT);
	err = maq_pick_variant(&o, &x->variant);
	if (err)
		goto err_free;
	if (x->variant == MAQ_XDP_VARIANT_KFUNC) {
		cfg.dev_ifindex = if_nametoindex(o.maq_dev ? o.maq_dev : "maq0");
		if (!cfg.dev_ifindex) {
			err = -ENODEV;
			goto err_free;
		}
	}

	err = maq_check_bpffs(x->root);
	if (!err)
		err = maq_mkdir_p(x->root);
	if (!err && !maq_path(path, sizeof(path), x->root, x->ifname, NULL)) {
		fresh = stat(path, &st) != 0;
		err = maq_mkdir(path);
	}
	if (err)
		goto err_free;

	err = maq_skel_open(x);
	if (err)
		goto err_unpin;
	/* libbpf reuses a compatible pinned map and pins the ones it creates. */
	if (x->pure)
		for (i = 0; !err && i < MAQ_TX_PORTS; i++)
			err = maq_set_pin(x->obj, maq_shared_maps[i], x->root,
					  NULL);
	if (!err) {
		err = maq_tx_ports_reuse(x);
		tx_reused = err == 1;
		if (tx_reused)
			err = 0;
	}
	for (i = 0; !err && i < sizeof(maq_if_maps) / sizeof(maq_if_maps[0]); i++)
		err = maq_set_pin(x->obj, maq_if_maps[i], x->root, x->ifname);
	if (!err && x->pure && o.max_circuits)
		err = bpf_map__set_max_entries(x->pure->maps.maq_circuits,
					       o.max_circuits);
	if (err)
		goto err_destroy;
	/*
	 * Into a dispatcher, libxdp loads the program (as a freplace of one
	 * of its slots) and attaches it at once: until the config below is
	 * written it passes everything on, as it does on a port not its own.
	 */
	multi = maq_where(x->ifindex, &disp);
	if (multi < 0) {
		err = multi;
		goto err_destroy;
	}
	err = multi ? maq_disp_attach(x, &disp, o.mode) : maq_skel_load(x);
	if (err)
		goto err_destroy;
	if (x->pure)
		x->circuits = bpf_map__fd(x->pure->maps.maq_circuits);
	x->stats = bpf_map__fd(maq_map(x, "maq_stats"));

	cfg.port = x->port;
	if (o.fib_ifindex == MAQ_XDP_FIB_INGRESS) {
		cfg.fib_ifindex = 0;
	} else {
		cfg.fib_ifindex = o.fib_ifindex ? o.fib_ifindex : 1;
		if (cfg.fib_ifindex == 1) {
			err = maq_sysctl_lo_forwarding();
			if (err)
				goto err_destroy;
		}
	}
	if (bpf_map_update_elem(bpf_map__fd(maq_map(x, "maq_config")), &zero,
				&cfg, BPF_ANY)) {
		err = -errno;
		goto err_destroy;
	}
	if (!tx_reused) {
		err = maq_path(path, sizeof(path), x->root, NULL, "maq_tx_ports");
		if (!err)
			err = bpf_map__pin(maq_map(x, "maq_tx_ports"), path);
	}
	if (!err)
		err = maq_tx_port_add(x);
	if (err)
		goto err_destroy;

	if (!multi)
		err = maq_attach(x->ifindex, bpf_program__fd(maq_prog(x)),
				 o.mode, &x->mode);
	if (err)
		goto err_destroy;
	memset(&info, 0, sizeof(info));
	if (!bpf_obj_get_info_by_fd(bpf_program__fd(maq_prog(x)), &info, &len))
		x->prog_id = info.id;
	*xp = x;
	return 0;

err_destroy:
	if (multi > 0 && x->prog_id)
		maq_disp_detach_id(x->ifindex, x->prog_id, x->mode);
	maq_skel_destroy(x);
err_unpin:
	/* Pins we made for nothing go; an earlier setup's stay as they were. */
	if (fresh) {
		maq_unpin_if(x->root, x->ifname);
		maq_unpin_shared_if_last(x->root);
	}
err_free:
	free(x);
	return err;
}

/* Its maq_config, or -errno. */
static int maq_config_read(const char *root, const char *ifname,
			   struct maq_xdp_config *cfg)
{
	char path[PATH_MAX];
	uint32_t zero = 0;
	int fd, err;

	err = maq_path(path, sizeof(path), root, ifname, "maq_config");
	if (err)
		return err;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	err = bpf_map_lookup_elem(fd, &zero, cfg) ? -errno : 0;
	close(fd);
	return err;
}

int maq_xdp_open_pinned(const char *ifname, const char *pin_root,
			struct maq_xdp **xp)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	struct maq_xdp_config cfg;
	char path[PATH_MAX];
	struct maq_disp d;
	struct maq_xdp *x;
	int err, v;

	*xp = NULL;
	if (!maq_ifname_ok(ifname))
		return -EINVAL;
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->circuits = x->stats = -1;
	snprintf(x->ifname, sizeof(x->ifname), "%s", ifname);
	if (snprintf(x->root, sizeof(x->root), "%s",
		     pin_root ? pin_root : MAQ_XDP_PIN_ROOT) >=
	    (int)sizeof(x->root)) {
		err = -ENAMETOOLONG;
		goto err;
	}
	err = maq_path(path, sizeof(path), x->root, x->ifname, "maq_stats");
	if (err)
		goto err;
	x->stats = bpf_obj_get(path);
	if (x->stats < 0) {
		err = -errno;
		goto err;
	}
	/*
	 * The kfunc variant's config names the maquis device, the pure one's
	 * does not; its addresses without a port get the configured port.
	 */
	x->port = htons(MAQ_DEFAULT_PORT);
	x->variant = MAQ_XDP_VARIANT_PURE;
	if (!maq_config_read(x->root, x->ifname, &cfg)) {
		if (cfg.port)
			x->port = cfg.port;
		if (cfg.dev_ifindex)
			x->variant = MAQ_XDP_VARIANT_KFUNC;
	}
	x->ifindex = if_nametoindex(ifname);
	x->mode = MAQ_XDP_MODE_AUTO;
	if (x->ifindex && !bpf_xdp_query(x->ifindex, 0, &q) && q.prog_id) {
		v = maq_prog_is_relay(q.prog_id);
		if (v > 0) {
			x->prog_id = q.prog_id;
			x->mode = maq_mode_of(q.attach_mode);
			x->variant = v;
		} else if (!v && !maq_disp_read(x->ifindex, 0, &d) &&
			   d.relay_id) {
			x->prog_id = d.relay_id;
			x->mode = d.mode;
			x->variant = d.variant;
		}
	}
	if (x->variant == MAQ_XDP_VARIANT_PURE) {
		err = maq_path(path, sizeof(path), x->root, NULL,
			       "maq_circuits");
		if (err)
			goto err;
		x->circuits = bpf_obj_get(path);
		if (x->circuits < 0) {
			err = -errno;
			goto err;
		}
	}
	*xp = x;
	return 0;
err:
	maq_xdp_close(x);
	return err;
}

void maq_xdp_close(struct maq_xdp *x)
{
	if (!x)
		return;
	if (x->obj) {
		maq_skel_destroy(x);
	} else {
		if (x->circuits >= 0)
			close(x->circuits);
		if (x->stats >= 0)
			close(x->stats);
	}
	free(x);
}

int maq_xdp_status(const char *ifname, const char *pin_root,
		   struct maq_xdp_status *st)
{
	const char *root = pin_root ? pin_root : MAQ_XDP_PIN_ROOT;
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	struct maq_xdp_config cfg;
	char path[PATH_MAX];
	int ifindex, err, v;
	struct maq_disp d;

	memset(st, 0, sizeof(*st));
	if (!maq_ifname_ok(ifname))
		return -EINVAL;
	ifindex = if_nametoindex(ifname);
	if (!ifindex)
		return -ENODEV;
	err = maq_path(path, sizeof(path), root, ifname, "maq_stats");
	if (err)
		return err;
	st->pinned = !access(path, F_OK);
	v = maq_query(ifindex, &q);
	if (v < 0 || !q.prog_id)
		return v < 0 ? v : 0;
	st->mode = maq_mode_of(q.attach_mode);
	if (!v) {
		err = maq_disp_read(ifindex, 0, &d);
		if (err)
			return err;
		st->dispatcher_id = d.id;
		st->shared_with = d.others;
		if (!d.relay_id) {
			st->other_prog_id = q.prog_id;
			return 0;
		}
		v = d.variant;
		q.prog_id = d.relay_id;
	}
	st->prog_id = q.prog_id;
	st->variant = v;
	if (v == MAQ_XDP_VARIANT_KFUNC && !maq_config_read(root, ifname, &cfg))
		st->dev_ifindex = cfg.dev_ifindex;
	return 0;
}

/* Detach a maquis relay from @ifindex if one is there; 0 also when not. */
static int maq_detach_index(int ifindex)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	LIBBPF_OPTS(bpf_xdp_attach_opts, ao);
	enum maq_xdp_mode mode;
	struct maq_disp d;
	int err, fd;

	err = maq_query(ifindex, &q);
	if (err < 0 || !q.prog_id)
		return err < 0 ? err : 0;
	if (!err) {
		/* ours among a dispatcher's programs: only ours go */
		err = maq_disp_read(ifindex, 0, &d);
		if (!err && !d.relay_id)
			err = -EBUSY;
		return err ? err : maq_disp_prune(ifindex, 0);
	}
	mode = maq_mode_of(q.attach_mode);
	if (mode == MAQ_XDP_MODE_AUTO)
		return -EBUSY;
	fd = bpf_prog_get_fd_by_id(q.prog_id);
	if (fd < 0)
		return -errno;
	/* only the program we looked at, should somebody replace it now */
	ao.old_prog_fd = fd;
	err = bpf_xdp_detach(ifindex, maq_mode_flags(mode) | XDP_FLAGS_REPLACE,
			     &ao);
	close(fd);
	return err;
}

int maq_xdp_detach_ifname(const char *ifname, const char *pin_root)
{
	const char *root = pin_root ? pin_root : MAQ_XDP_PIN_ROOT;
	char path[PATH_MAX];
	int ifindex, err = 0;

	if (!maq_ifname_ok(ifname))
		return -EINVAL;
	ifindex = if_nametoindex(ifname);
	/* An interface that is gone took its program along; pins remain. */
	if (ifindex)
		err = maq_detach_index(ifindex);
	if (err)
		return err;
	/* The other interfaces' programs stop redirecting to it by the
	 * devmap (bpf_redirect() still reaches it, as any other device).
	 */
	if (ifindex && !maq_path(path, sizeof(path), root, NULL, "maq_tx_ports")) {
		uint32_t idx = ifindex;
		int fd = bpf_obj_get(path);

		if (fd >= 0) {
			bpf_map_delete_elem(fd, &idx);
			close(fd);
		}
	}
	maq_unpin_if(root, ifname);
	maq_unpin_shared_if_last(root);
	return 0;
}

int maq_xdp_detach(struct maq_xdp *x)
{
	char root[sizeof(x->root)], ifname[IF_NAMESIZE];

	memcpy(root, x->root, sizeof(root));
	memcpy(ifname, x->ifname, sizeof(ifname));
	/* our fds must not keep the maps alive past the unpin */
	maq_xdp_close(x);
	return maq_xdp_detach_ifname(ifname, root);
}

/* ---- hops --------------------------------------------------------------- */

static int maq_underlay_set(struct maq_underlay *u, const union maq_sockaddr *a,
			    __be16 port)
{
	static const uint8_t v4mapped[12] = { [10] = 0xff, [11] = 0xff };

	memset(u, 0, sizeof(*u));
	if (a->sa.sa_family == AF_INET) {
		u->family = MAQ_AF_INET;
		u->port = a->in4.sin_port ? a->in4.sin_port : port;
		u->addr.v4 = a->in4.sin_addr.s_addr;
	} else if (a->sa.sa_family == AF_INET6) {
		const uint8_t *b = a->in6.sin6_addr.s6_addr;

		u->port = a->in6.sin6_port ? a->in6.sin6_port : port;
		/* the wire is IPv4 for a v4-mapped peer */
		if (!memcmp(b, v4mapped, sizeof(v4mapped))) {
			u->family = MAQ_AF_INET;
			memcpy(&u->addr.v4, b + 12, 4);
		} else {
			u->family = MAQ_AF_INET6;
			memcpy(u->addr.v6, b, 16);
		}
	} else {
		return -EINVAL;
	}
	return 0;
}

static int maq_hop_put(struct maq_xdp *x, uint32_t cid, const struct maq_xdp_hop *h)
{
	struct maq_circuit_key k = { .ifindex = 0, .cid = cid };

	if (bpf_map_update_elem(x->circuits, &k, h, BPF_NOEXIST))
		return -errno;
	return 0;
}

static int maq_hop_rm(struct maq_xdp *x, uint32_t cid)
{
	struct maq_circuit_key k = { .ifindex = 0, .cid = cid };

	if (bpf_map_delete_elem(x->circuits, &k))
		return -errno;
	return 0;
}

int maq_xdp_hop_add(struct maq_xdp *x, const struct maq_circuit *c)
{
	const struct maq_hop *hop = &c->hops[0];
	struct maq_xdp_hop fwd, back;
	int err;

	if (x->circuits < 0)
		return -EOPNOTSUPP;
	if (c->role != MAQUIS_ROLE_RELAY || c->n_hops < 1 ||
	    (hop->has & (MAQ_HOP_FWD_KEY | MAQ_HOP_BACK_KEY)) !=
	    (MAQ_HOP_FWD_KEY | MAQ_HOP_BACK_KEY) ||
	    !c->fwd_cid_in || !c->fwd_cid_out || !c->back_cid_in ||
	    !c->back_cid_out || c->fwd_cid_in == c->back_cid_in)
		return -EINVAL;

	memset(&fwd, 0, sizeof(fwd));
	memset(&back, 0, sizeof(back));
	err = maq_underlay_set(&fwd.next, &c->next, x->port);
	if (!err)
		err = maq_underlay_set(&back.next, &c->prev, x->port);
	if (err)
		return err;

	fwd.dir = MAQUIS_DIR_FWD;
	fwd.flags = MAQ_HOP_SLOT0;
	fwd.cid_out = c->fwd_cid_out;
	fwd.delta = hop->fwd_seq & MAQ_SEQ_CTR_MASK;
	memcpy(fwd.key[0], hop->fwd_key, MAQ_KEY_LEN);
	if (hop->has & MAQ_HOP_FWD_CTL_KEY) {
		memcpy(fwd.ctl_key, hop->fwd_ctl_key, MAQ_KEY_LEN);
		fwd.flags |= MAQ_HOP_CTL;
	}

	/* The program has no use for a backward control key: relays only
	 * seal backward cells, and their own control goes up to the daemon.
	 */
	back.dir = MAQUIS_DIR_BACK;
	back.flags = MAQ_HOP_SLOT0;
	back.cid_out = c->back_cid_out;
	back.delta = hop->back_seq & MAQ_SEQ_CTR_MASK;
	memcpy(back.key[0], hop->back_key, MAQ_KEY_LEN);

	err = maq_hop_put(x, c->fwd_cid_in, &fwd);
	if (!err) {
		err = maq_hop_put(x, c->back_cid_in, &back);
		if (err)
			maq_hop_rm(x, c->fwd_cid_in);
	}
	explicit_bzero(&fwd, sizeof(fwd));
	explicit_bzero(&back, sizeof(back));
	if (err)
		return err;

	/* Best effort: without it the first cells meet no neighbour entry. */
	maq_xdp_prime(&c->next);
	maq_xdp_prime(&c->prev);
	return 0;
}

int maq_xdp_hop_del(struct maq_xdp *x, const struct maq_circuit *c)
{
	int a, b;

	if (x->circuits < 0)
		return -EOPNOTSUPP;
	a = maq_hop_rm(x, c->fwd_cid_in);
	b = maq_hop_rm(x, c->back_cid_in);
	if (a && b)
		return a;
	if (a && a != -ENOENT)
		return a;
	if (b && b != -ENOENT)
		return b;
	return 0;
}

/*
 * Read and write with BPF_F_LOCK: the window stays consistent with what
 * the program does meanwhile (struct maq_hop in maquis_common.h).
 */
int maq_xdp_key_set(struct maq_xdp *x, uint32_t cid_in, int slot,
		    const uint8_t key[MAQ_KEY_LEN])
{
	struct maq_circuit_key k = { .ifindex = 0, .cid = cid_in };
	struct maq_xdp_hop h;
	int err = 0;

	if (x->circuits < 0)
		return -EOPNOTSUPP;
	if (slot < 0 || slot > 1)
		return -EINVAL;
	if (bpf_map_lookup_elem_flags(x->circuits, &k, &h, BPF_F_LOCK))
		return -errno;
	memcpy(h.key[slot], key, MAQ_KEY_LEN);
	h.flags |= slot ? MAQ_HOP_SLOT1 : MAQ_HOP_SLOT0;
	h.slot_cells[slot] = 0;
	if (bpf_map_update_elem(x->circuits, &k, &h, BPF_EXIST | BPF_F_LOCK))
		err = -errno;
	explicit_bzero(&h, sizeof(h));
	return err;
}

int maq_xdp_hop_stats(struct maq_xdp *x, uint32_t cid_in,
		      struct maq_xdp_hop_stats *st)
{
	struct maq_circuit_key k = { .ifindex = 0, .cid = cid_in };
	struct maq_xdp_hop h;

	if (x->circuits < 0)
		return -EOPNOTSUPP;
	if (bpf_map_lookup_elem_flags(x->circuits, &k, &h, BPF_F_LOCK))
		return -errno;
	st->dir = h.dir;
	st->cid_out = h.cid_out;
	st->cells = h.cells;
	st->bytes = h.bytes;
	st->bad_tag = h.bad_tag;
	st->replay = h.replay;
	st->slot_cells[0] = h.slot_cells[0];
	st->slot_cells[1] = h.slot_cells[1];
	st->replay_next = h.replay_next;
	st->last_ns = h.last_ns;
	explicit_bzero(&h, sizeof(h));
	return 0;
}

int maq_xdp_hop_list(struct maq_xdp *x, uint32_t *cids, int max)
{
	struct maq_circuit_key k, next;
	void *prev = NULL;
	int n = 0;

	if (x->circuits < 0)
		return -EOPNOTSUPP;
	while (n < max && !bpf_map_get_next_key(x->circuits, prev, &next)) {
		if (next.ifindex == 0)
			cids[n++] = next.cid;
		k = next;
		prev = &k;
	}
	return n;
}

static int maq_stats_sum(int fd, uint64_t val[MAQ_STAT_MAX])
{
	int ncpu = libbpf_num_possible_cpus(), i;
	uint64_t *v;
	uint32_t s;

	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	v = calloc(ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (s = 0; s < MAQ_STAT_MAX; s++) {
		if (bpf_map_lookup_elem(fd, &s, v)) {
			free(v);
			return -errno;
		}
		val[s] = 0;
		for (i = 0; i < ncpu; i++)
			val[s] += v[i];
	}
	free(v);
	return 0;
}

int maq_xdp_stats(struct maq_xdp *x, uint64_t val[MAQ_STAT_MAX])
{
	return maq_stats_sum(x->stats, val);
}

int maq_xdp_stats_pinned(const char *ifname, const char *pin_root,
			 uint64_t val[MAQ_STAT_MAX])
{
	char path[PATH_MAX];
	int fd, err;

	if (!maq_ifname_ok(ifname))
		return -EINVAL;
	err = maq_path(path, sizeof(path),
		       pin_root ? pin_root : MAQ_XDP_PIN_ROOT, ifname,
		       "maq_stats");
	if (err)
		return err;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	err = maq_stats_sum(fd, val);
	close(fd);
	return err;
}

/* ---- relay rate ---------------------------------------------------------- */

static int maq_rate_fd(const char *pin_root)
{
	char path[PATH_MAX];
	int fd, err;

	err = maq_path(path, sizeof(path),
		       pin_root ? pin_root : MAQ_XDP_PIN_ROOT, NULL, "maq_rate");
	if (err)
		return err;
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

int maq_xdp_rate_set(const char *pin_root, uint64_t rate, uint32_t burst)
{
	struct maq_xdp_rate r;
	uint32_t zero = 0;
	int fd, err = 0;

	if (rate > MAQUIS_MAX_RELAY_RATE || burst < MAQ_CELL_SIZE ||
	    burst > MAQUIS_MAX_RELAY_BURST)
		return -ERANGE;
	fd = maq_rate_fd(pin_root);
	if (fd < 0)
		return fd;
	maq_xdp_rate_fill(&r, rate, burst);
	if (bpf_map_update_elem(fd, &zero, &r, BPF_ANY))
		err = -errno;
	close(fd);
	return err;
}

int maq_xdp_rate_get(const char *pin_root, uint64_t *rate, uint32_t *burst)
{
	struct maq_xdp_rate r;
	uint32_t zero = 0;
	int fd, err = 0;

	fd = maq_rate_fd(pin_root);
	if (fd < 0)
		return fd;
	if (bpf_map_lookup_elem(fd, &zero, &r))
		err = -errno;
	close(fd);
	if (!err) {
		*rate = r.rate;
		*burst = r.burst;
	}
	return err;
}

/* ---- neighbours --------------------------------------------------------- */

struct maq_rtreq {
	struct nlmsghdr nh;
	union {
		struct rtmsg rt;
		struct ndmsg nd;
	};
	char attrs[64];
};

static void maq_rta_put(struct nlmsghdr *nh, int type, const void *data,
			size_t len)
{
	struct rtattr *rta = (void *)((char *)nh + NLMSG_ALIGN(nh->nlmsg_len));

	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	nh->nlmsg_len = NLMSG_ALIGN(nh->nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

/*
 * One request, one answer: the reply message into @buf, or the error of
 * the ack.  Returns the reply's type, 0 for a positive ack, or -errno.
 */
static int maq_rtnl_call(int fd, struct nlmsghdr *req, char *buf, size_t len)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct nlmsghdr *nh;
	ssize_t n;
	int i;

	if (sendto(fd, req, req->nlmsg_len, 0, (void *)&sa, sizeof(sa)) < 0)
		return -errno;
	for (i = 0; i < 16; i++) {
		n = recv(fd, buf, len, 0);
		if (n < 0)
			return -errno;
		for (nh = (void *)buf; NLMSG_OK(nh, (size_t)n);
		     nh = NLMSG_NEXT(nh, n)) {
			if (nh->nlmsg_seq != req->nlmsg_seq)
				continue;
			if (nh->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(nh);

				return e->error;
			}
			return nh->nlmsg_type;
		}
	}
	return -ETIMEDOUT;
}

int maq_xdp_prime(const union maq_sockaddr *to)
{
	struct timeval tv = { .tv_sec = 1 };
	struct maq_underlay u;
	struct maq_rtreq req;
	union {
		struct nlmsghdr nh;
		char b[8192];
	} rep;
	uint8_t nbr[16];
	int fd, ret, family, alen, oif = 0;
	struct rtattr *rta;
	struct nlmsghdr *nh;
	int rlen;

	ret = maq_underlay_set(&u, to, 0);
	if (ret)
		return ret;
	family = u.family == MAQ_AF_INET ? AF_INET : AF_INET6;
	alen = family == AF_INET ? 4 : 16;
	memcpy(nbr, family == AF_INET ? (void *)&u.addr.v4 : (void *)u.addr.v6,
	       alen);

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

	/* Which device and which neighbour: the route to @to. */
	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
	req.nh.nlmsg_type = RTM_GETROUTE;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.nh.nlmsg_seq = 1;
	req.rt.rtm_family = family;
	req.rt.rtm_dst_len = alen * 8;
	maq_rta_put(&req.nh, RTA_DST, nbr, alen);
	ret = maq_rtnl_call(fd, &req.nh, rep.b, sizeof(rep));
	if (ret != RTM_NEWROUTE) {
		ret = ret < 0 ? ret : -EHOSTUNREACH;
		goto out;
	}
	nh = &rep.nh;
	rlen = RTM_PAYLOAD(nh);
	for (rta = RTM_RTA(NLMSG_DATA(nh)); RTA_OK(rta, rlen);
	     rta = RTA_NEXT(rta, rlen)) {
		if (rta->rta_type == RTA_OIF)
			memcpy(&oif, RTA_DATA(rta), sizeof(oif));
		else if (rta->rta_type == RTA_GATEWAY &&
			 RTA_PAYLOAD(rta) == (unsigned int)alen)
			memcpy(nbr, RTA_DATA(rta), alen);
	}
	if (!oif) {
		ret = -EHOSTUNREACH;
		goto out;
	}

	/*
	 * NTF_USE on an entry that is NUD_PERMANENT or NOARP would clear the
	 * permanent state (__neigh_update); an administrator's entry needs no
	 * resolving anyway, so look first.
	 */
	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ndmsg));
	req.nh.nlmsg_type = RTM_GETNEIGH;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.nh.nlmsg_seq = 2;
	req.nd.ndm_family = family;
	req.nd.ndm_ifindex = oif;
	maq_rta_put(&req.nh, NDA_DST, nbr, alen);
	ret = maq_rtnl_call(fd, &req.nh, rep.b, sizeof(rep));
	if (ret == RTM_NEWNEIGH) {
		struct ndmsg *nd = NLMSG_DATA(&rep.nh);

		if (nd->ndm_state & (NUD_PERMANENT | NUD_NOARP)) {
			ret = 0;
			goto out;
		}
	} else if (ret != -ENOENT && ret < 0) {
		goto out;
	}

	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ndmsg));
	req.nh.nlmsg_type = RTM_NEWNEIGH;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE;
	req.nh.nlmsg_seq = 3;
	req.nd.ndm_family = family;
	req.nd.ndm_ifindex = oif;
	req.nd.ndm_state = NUD_NONE;
	req.nd.ndm_flags = NTF_USE;
	maq_rta_put(&req.nh, NDA_DST, nbr, alen);
	ret = maq_rtnl_call(fd, &req.nh, rep.b, sizeof(rep));
	if (ret > 0)
		ret = 0;
out:
	close(fd);
	return ret;
}

int maq_xdp_prime_all(struct maq_xdp *x)
{
	struct maq_underlay seen[64];
	struct maq_circuit_key k, next;
	union maq_sockaddr to;
	struct maq_xdp_hop h;
	int n = 0, i, err = 0;
	void *prev = NULL;

	if (x->circuits < 0)
		return -EOPNOTSUPP;
	while (!bpf_map_get_next_key(x->circuits, prev, &next)) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(x->circuits, &k, &h))
			continue;	/* deleted meanwhile */
		h.next.port = 0;
		explicit_bzero(h.key, sizeof(h.key));
		explicit_bzero(h.ctl_key, sizeof(h.ctl_key));
		/* a neighbour serves many circuits: ask once for each */
		for (i = 0; i < n; i++)
			if (!memcmp(&seen[i], &h.next, sizeof(h.next)))
				break;
		if (i < n)
			continue;
		if (n < (int)(sizeof(seen) / sizeof(seen[0])))
			seen[n] = h.next;
		n++;
		memset(&to, 0, sizeof(to));
		if (h.next.family == MAQ_AF_INET) {
			to.in4.sin_family = AF_INET;
			to.in4.sin_addr.s_addr = h.next.addr.v4;
		} else {
			to.in6.sin6_family = AF_INET6;
			memcpy(&to.in6.sin6_addr, h.next.addr.v6, 16);
		}
		i = maq_xdp_prime(&to);
		if (i && !err)
			err = i;
	}
	explicit_bzero(&h, sizeof(h));
	return err ? err : n;
}
