/* test_mountinfo.c: parsing recorded /proc/self/mountinfo files and lookups. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "storage.h"

/* tests/data/mountinfo/NAME, found next to this file (or $FERRY_TESTDATA). */
static struct mountinfo *
load(const char *name)
{
	struct mountinfo *mi = NULL;
	char path[PATH_MAX], err[STORAGE_ERR_MAX] = "";
	const char *base = getenv("FERRY_TESTDATA");
	const char *slash;

	if (base != NULL)
		snprintf(path, sizeof(path), "%s/mountinfo/%s", base, name);
	else {
		slash = strrchr(__FILE__, '/');
		snprintf(path, sizeof(path), "%.*s/../data/mountinfo/%s",
		    slash ? (int)(slash - __FILE__) : 1, slash ? __FILE__ : ".",
		    name);
	}
	if (mountinfo_read(path, &mi, err, sizeof(err)) != 0)
		fail_msg("%s: %s", path, err);
	return mi;
}

static const char *
mp(const struct mountinfo *mi, const char *path)
{
	const struct mountinfo_entry *e = mountinfo_find(mi, path);

	return e != NULL ? e->mountpoint : NULL;
}

static const char *
fstype(const struct mountinfo *mi, const char *path)
{
	const struct mountinfo_entry *e = mountinfo_find(mi, path);

	return e != NULL ? e->fstype : NULL;
}

static void
test_nfs3(void **state)
{
	struct mountinfo *mi = load("nfs3.mountinfo");
	const struct mountinfo_entry *e;

	(void)state;
	assert_int_equal(mi->nentries, 11);
	e = &mi->entries[8];
	assert_int_equal(e->id, 45);
	assert_int_equal(e->parent, 26);
	assert_int_equal(e->major, 0);
	assert_int_equal(e->minor, 48);
	assert_string_equal(e->root, "/");
	assert_string_equal(e->mountpoint, "/var/lib/libvirt/images");
	assert_string_equal(e->options, "rw,relatime");
	assert_string_equal(e->optional, "shared:40");
	assert_string_equal(e->fstype, "nfs");
	assert_string_equal(e->source, "10.0.0.5:/export/vms");
	assert_true(strncmp(e->superopts, "rw,vers=3,", 10) == 0);
	assert_false(e->bind);
	assert_int_equal(e->line, 9);

	assert_ptr_equal(mountinfo_find(mi,
	    "/var/lib/libvirt/images/vm1/disk.qcow2"), e);
	assert_ptr_equal(mountinfo_find(mi, "/var/lib/libvirt/images"), e);
	assert_ptr_equal(mountinfo_find(mi, "/var/lib/libvirt/images/"), e);
	assert_ptr_equal(mountinfo_find(mi, "//var/lib//libvirt/./images/x"),
	    e);
	assert_string_equal(mp(mi, "/var/lib/libvirt/images2/x"), "/");
	assert_string_equal(mp(mi, "/var/lib/libvirt"), "/");
	assert_string_equal(mp(mi,
	    "/var/lib/libvirt/images/../other/x.img"), "/");
	/* Component boundary: /mnt/nfs2 is not under /mnt/nfs. */
	assert_string_equal(fstype(mi, "/mnt/nfs/a.img"), "nfs");
	assert_string_equal(fstype(mi, "/mnt/nfs2/a.img"), "ext4");
	assert_string_equal(mp(mi, "/mnt/nfs2"), "/mnt/nfs2");
	assert_string_equal(mp(mi, "/mnt/nfsx"), "/");
	assert_string_equal(mp(mi, "/dev/pts/0"), "/dev/pts");
	assert_string_equal(mp(mi, "/"), "/");
	assert_null(mountinfo_find(mi, "relative/path"));
	assert_null(mountinfo_find(mi, ""));
	mountinfo_free(mi);
}

static void
test_nfs4(void **state)
{
	struct mountinfo *mi = load("nfs4.mountinfo");
	const struct mountinfo_entry *e;
	char server[256], path[256];

	(void)state;
	e = mountinfo_find(mi, "/var/lib/nova/instances/uuid/disk");
	assert_non_null(e);
	assert_int_equal(e->id, 36);
	assert_string_equal(e->fstype, "nfs4");
	assert_string_equal(e->source, "10.0.0.5:/export/vms");
	assert_int_equal(mountinfo_nfs_source(e->source, server,
	    sizeof(server), path, sizeof(path)), 0);
	assert_string_equal(server, "10.0.0.5");
	assert_string_equal(path, "/export/vms");

	e = mountinfo_find(mi, "/srv/v6/a");
	assert_non_null(e);
	assert_string_equal(e->source, "[fd00::5]:/export/v6");
	assert_int_equal(mountinfo_nfs_source(e->source, server,
	    sizeof(server), path, sizeof(path)), 0);
	assert_string_equal(server, "fd00::5");
	assert_string_equal(path, "/export/v6");

	assert_int_equal(mountinfo_nfs_source("/dev/sda1", server,
	    sizeof(server), path, sizeof(path)), -EINVAL);
	assert_int_equal(mountinfo_nfs_source(":/x", server,
	    sizeof(server), path, sizeof(path)), -EINVAL);
	assert_int_equal(mountinfo_nfs_source("srv:/x", server, 3, path,
	    sizeof(path)), -EINVAL);
	mountinfo_free(mi);
}

static void
test_bind_local(void **state)
{
	struct mountinfo *mi = load("bind-local.mountinfo");
	const struct mountinfo_entry *e, *o;

	(void)state;
	e = mountinfo_find(mi, "/var/lib/libvirt/images/a.qcow2");
	assert_non_null(e);
	assert_int_equal(e->id, 41);
	assert_true(e->bind);
	assert_string_equal(e->root, "/images");
	assert_string_equal(e->fstype, "ext4");
	o = mountinfo_bind_origin(mi, e);
	assert_non_null(o);
	assert_string_equal(o->mountpoint, "/srv");
	e = mountinfo_find(mi, "/srv/x");
	assert_false(e->bind);
	assert_null(mountinfo_bind_origin(mi, e));
	assert_string_equal(fstype(mi, "/run/vms/a"), "tmpfs");
	assert_string_equal(fstype(mi, "/run/other"), "tmpfs");
	assert_string_equal(mp(mi, "/run/other"), "/run");
	assert_string_equal(fstype(mi, "/mnt/sshvms/a"), "fuse.sshfs");
	/* nsfs: root is not a path, and not a bind of a directory. */
	e = mountinfo_find(mi, "/run/netns/h1");
	assert_string_equal(e->root, "net:[4026532178]");
	assert_false(e->bind);
	mountinfo_free(mi);
}

static void
test_bind_nfs(void **state)
{
	struct mountinfo *mi = load("bind-nfs.mountinfo");
	const struct mountinfo_entry *e, *o;

	(void)state;
	/* The kernel shows "/" as root for NFS: the source tells. */
	e = mountinfo_find(mi, "/var/lib/libvirt/images/a.qcow2");
	assert_non_null(e);
	assert_int_equal(e->id, 52);
	assert_false(e->bind);
	assert_string_equal(e->source, "10.0.0.5:/export/vms/images");
	o = mountinfo_bind_origin(mi, e);
	assert_non_null(o);
	assert_int_equal(o->id, 50);
	assert_null(mountinfo_bind_origin(mi, o));
	mountinfo_free(mi);
}

static void
test_nested(void **state)
{
	struct mountinfo *mi = load("nested.mountinfo");

	(void)state;
	assert_string_equal(mp(mi, "/var/lib/nova/instances/u1/disk"),
	    "/var/lib/nova/instances");
	assert_string_equal(mp(mi, "/var/lib/nova/instances/archive/d"),
	    "/var/lib/nova/instances/archive");
	assert_string_equal(fstype(mi, "/var/lib/nova/instances/archive/d"),
	    "nfs");
	assert_string_equal(fstype(mi, "/var/lib/nova/instances/_base/b"),
	    "tmpfs");
	assert_string_equal(fstype(mi, "/var/lib/nova/instances/_base2"),
	    "nfs4");
	mountinfo_free(mi);
}

static void
test_escapes(void **state)
{
	struct mountinfo *mi = load("escapes.mountinfo");
	const struct mountinfo_entry *e;

	(void)state;
	e = mountinfo_find(mi, "/srv/vm images/d.qcow2");
	assert_non_null(e);
	assert_string_equal(e->mountpoint, "/srv/vm images");
	assert_string_equal(e->source, "10.0.0.5:/export/vm images");
	e = mountinfo_find(mi, "/mnt/tab\tdir/d");
	assert_non_null(e);
	assert_string_equal(e->mountpoint, "/mnt/tab\tdir");
	assert_string_equal(e->source, "10.0.0.5:/export/tab\tdir");
	e = mountinfo_find(mi, "/mnt/back\\slash");
	assert_non_null(e);
	assert_string_equal(e->source, "10.0.0.5:/export/back\\slash");
	e = mountinfo_find(mi, "/mnt/new\nline/x");
	assert_non_null(e);
	assert_string_equal(e->root, "/new\nline");
	assert_true(e->bind);
	/* The escaped spelling is not the path. */
	assert_string_equal(mp(mi, "/srv/vm\\040images/d"), "/");
	mountinfo_free(mi);
}

static void
test_overmount(void **state)
{
	struct mountinfo *mi = load("overmount.mountinfo");
	const struct mountinfo_entry *e;

	(void)state;
	/* NFS stacked on an ext4 mount point hides it. */
	e = mountinfo_find(mi, "/var/lib/libvirt/images/a.qcow2");
	assert_non_null(e);
	assert_int_equal(e->id, 41);
	assert_string_equal(e->fstype, "nfs4");
	/* tmpfs stacked on NFS hides it, and the NFS mount nested in it. */
	assert_string_equal(fstype(mi, "/mnt/shared/a"), "tmpfs");
	e = mountinfo_find(mi, "/mnt/shared/sub/a");
	assert_int_equal(e->id, 46);
	mountinfo_free(mi);
}

/* Without a root mount (a chrooted view) the flat rule applies: longest
 * mount point, the last of a stack. */
static void
test_flat(void **state)
{
	struct mountinfo *mi = NULL;
	const char *text =
	    "70 60 8:3 /vms /a rw - ext4 /dev/sda3 rw\n"
	    "71 60 0:45 / /a rw - nfs4 h:/e rw\n"
	    "72 60 0:46 / /a/b rw - tmpfs tmpfs rw\n";

	(void)state;
	assert_int_equal(mountinfo_parse(text, &mi, NULL, 0), 0);
	assert_int_equal(mountinfo_find(mi, "/a/x")->id, 71);
	assert_int_equal(mountinfo_find(mi, "/a/b/x")->id, 72);
	assert_null(mountinfo_find(mi, "/c"));
	mountinfo_free(mi);
}

static void
test_self(void **state)
{
	struct mountinfo *mi = NULL;
	char err[STORAGE_ERR_MAX];
	const struct mountinfo_entry *e;

	(void)state;
	assert_int_equal(mountinfo_read(NULL, &mi, err, sizeof(err)), 0);
	assert_true(mi->nentries > 0);
	e = mountinfo_find(mi, "/proc/self/status");
	assert_non_null(e);
	assert_string_equal(e->fstype, "proc");
	assert_non_null(mountinfo_find(mi, "/"));
	mountinfo_free(mi);

	assert_int_equal(mountinfo_read("/nonexistent/mountinfo", &mi, err,
	    sizeof(err)), -1);
	assert_null(mi);
	assert_non_null(strstr(err, "/nonexistent/mountinfo"));
}

static void
bad(const char *text, const char *want)
{
	struct mountinfo *mi = (struct mountinfo *)&mi;
	char err[STORAGE_ERR_MAX] = "";

	assert_int_equal(mountinfo_parse(text, &mi, err, sizeof(err)), -1);
	assert_null(mi);
	if (strstr(err, want) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err, want);
}

static void
test_malformed(void **state)
{
	const char *good = "26 1 8:2 / / rw,relatime shared:1 - ext4 "
	    "/dev/sda2 rw\n";
	char text[1024];

	(void)state;
	snprintf(text, sizeof(text), "%s%s", good,
	    "27 26 0:20 / /sys rw shared:7 sysfs sysfs rw\n");
	bad(text, "line 2: ");
	bad(text, "separator");
	snprintf(text, sizeof(text), "%s%s%s", good, good,
	    "x 26 0:20 / /sys rw - sysfs sysfs rw\n");
	bad(text, "line 3: bad mount id \"x\"");
	snprintf(text, sizeof(text), "%s%s", good,
	    "27 26 020 / /sys rw - sysfs sysfs rw\n");
	bad(text, "line 2: bad major:minor \"020\"");
	snprintf(text, sizeof(text), "%s%s", good,
	    "27 26 0:2x / /sys rw - sysfs sysfs rw\n");
	bad(text, "line 2: bad major:minor");
	snprintf(text, sizeof(text), "%s%s", good,
	    "27 26 0:20 / /sys rw - sysfs sysfs\n");
	bad(text, "line 2: ");
	snprintf(text, sizeof(text), "%s%s", good,
	    "27 26 0:20 / /sys rw - sysfs sysfs rw extra\n");
	bad(text, "line 2: 4 fields after \"-\"");
	snprintf(text, sizeof(text), "%s%s", good,
	    "27 26 0:20 / /s\\04ys rw - sysfs sysfs rw\n");
	bad(text, "line 2: bad escape");
	snprintf(text, sizeof(text), "%s%s", good,
	    "27 26 0:20 / /s\\000 rw - sysfs sysfs rw\n");
	bad(text, "line 2: bad escape");
	snprintf(text, sizeof(text), "%s%s", good,
	    "27 26 0:20 / sys rw - sysfs sysfs rw\n");
	bad(text, "line 2: mount point \"sys\" not absolute");
	snprintf(text, sizeof(text), "%s%s", good,
	    "27  26 0:20 / /sys rw - sysfs sysfs rw\n");
	bad(text, "line 2: empty field 2");
	snprintf(text, sizeof(text), "%s%s", good,
	    "27 26 0:20 / /sys rw - sysfs sysfs rw\r\n28 26 0:20");
	bad(text, "line 3: ");
	bad("", "no mounts");
	bad("\n\n", "no mounts");
}

static void
test_format(void **state)
{
	struct mountinfo *mi = NULL;
	const char *text =
	    "26 1 8:2 / / rw,relatime - ext4 /dev/sda2 rw\n"
	    "\n"
	    "27 26 0:20 / /sys rw shared:7 master:1 propagate_from:2 - "
	    "sysfs sysfs rw";	/* no final newline */

	(void)state;
	assert_int_equal(mountinfo_parse(text, &mi, NULL, 0), 0);
	assert_int_equal(mi->nentries, 2);
	assert_string_equal(mi->entries[0].optional, "");
	assert_string_equal(mi->entries[1].optional,
	    "shared:7 master:1 propagate_from:2");
	assert_string_equal(mi->entries[1].superopts, "rw");
	assert_int_equal(mi->entries[1].line, 3);
	mountinfo_free(mi);
	mountinfo_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nfs3),
		cmocka_unit_test(test_nfs4),
		cmocka_unit_test(test_bind_local),
		cmocka_unit_test(test_bind_nfs),
		cmocka_unit_test(test_nested),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_overmount),
		cmocka_unit_test(test_flat),
		cmocka_unit_test(test_self),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
