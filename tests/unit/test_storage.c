/* test_storage.c: disk classification, nonce files, timeouts. */
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "storage.h"

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

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Classify a file disk vda at path against a recorded file. */
static void
file_disk(const char *mifile, const char *path, struct storcheck_result *r)
{
	struct mountinfo *mi = load(mifile);
	struct storcheck_disk d = { .target = "vda", .type = "file",
	    .device = "disk", .source = path, .format = "qcow2" };

	assert_int_equal(storcheck_classify(&d, mi, r), 0);
	mountinfo_free(mi);
}

static void
assert_nfs_file(const struct storcheck_result *r, const char *server,
    const char *export, const char *relpath, const char *remote, int vers)
{
	if (r->kind != STORCHECK_NFS_FILE)
		fail_msg("kind %d: %s", r->kind, r->reason);
	assert_string_equal(r->server, server);
	assert_string_equal(r->export, export);
	assert_string_equal(r->relpath, relpath);
	assert_string_equal(r->remote, remote);
	assert_int_equal(r->nfsvers, vers);
}

static void
assert_blocked(const struct storcheck_result *r, const char *reason)
{
	assert_int_equal(r->kind, STORCHECK_BLOCKED);
	assert_string_equal(r->reason, reason);
}

static void
test_classify_nfs(void **state)
{
	struct storcheck_result r;

	(void)state;
	file_disk("nfs3.mountinfo", "/var/lib/libvirt/images/vm1/disk.qcow2",
	    &r);
	assert_nfs_file(&r, "10.0.0.5", "/export/vms", "vm1/disk.qcow2",
	    "/export/vms/vm1/disk.qcow2", 3);
	assert_string_equal(r.target, "vda");
	assert_string_equal(r.fstype, "nfs");
	assert_string_equal(r.mountpoint, "/var/lib/libvirt/images");
	assert_string_equal(r.path, "/var/lib/libvirt/images/vm1/disk.qcow2");
	assert_false(r.bind);
	assert_string_equal(r.reason, "");

	file_disk("nfs3.mountinfo", "/mnt/nfs/a.img", &r);
	assert_nfs_file(&r, "nas1.example.com", "/srv/nfs/", "a.img",
	    "/srv/nfs/a.img", 3);

	file_disk("nfs4.mountinfo", "/var/lib/nova/instances/u1/disk", &r);
	assert_nfs_file(&r, "10.0.0.5", "/export/vms", "u1/disk",
	    "/export/vms/u1/disk", 4);
	file_disk("nfs4.mountinfo", "/srv/v6/d.raw", &r);
	assert_nfs_file(&r, "fd00::5", "/export/v6", "d.raw",
	    "/export/v6/d.raw", 4);
	/* fstype nfs speaking v4 (vers=4.0). */
	file_disk("nfs4.mountinfo", "/mnt/legacy/d.raw", &r);
	assert_nfs_file(&r, "10.0.0.7", "/legacy", "d.raw", "/legacy/d.raw",
	    4);

	file_disk("nested.mountinfo", "/var/lib/nova/instances/archive/x/d",
	    &r);
	assert_nfs_file(&r, "10.0.0.6", "/export/archive", "x/d",
	    "/export/archive/x/d", 3);
	file_disk("escapes.mountinfo", "/srv/vm images/d 1.qcow2", &r);
	assert_nfs_file(&r, "10.0.0.5", "/export/vm images", "d 1.qcow2",
	    "/export/vm images/d 1.qcow2", 4);
	file_disk("overmount.mountinfo", "/var/lib/libvirt/images/a.qcow2",
	    &r);
	assert_nfs_file(&r, "10.0.0.5", "/export/vms", "a.qcow2",
	    "/export/vms/a.qcow2", 4);
}

static void
test_classify_bind_nfs(void **state)
{
	struct storcheck_result r, other;
	struct mountinfo *mi = NULL;
	struct storcheck_disk d = { .target = "vdb", .type = "file",
	    .source = "/images/x/a.qcow2" };
	char err[STORAGE_ERR_MAX];

	(void)state;
	file_disk("bind-nfs.mountinfo", "/var/lib/libvirt/images/a.qcow2", &r);
	assert_nfs_file(&r, "10.0.0.5", "/export/vms/images", "a.qcow2",
	    "/export/vms/images/a.qcow2", 4);
	assert_true(r.bind);
	assert_string_equal(r.reason, "disk vda: /var/lib/libvirt/images/"
	    "a.qcow2 is on a bind mount at /var/lib/libvirt/images of "
	    "10.0.0.5:/export/vms/images (also mounted at /mnt/vms)");

	/* The other host mounts the whole export: the same file. */
	file_disk("bind-nfs.mountinfo", "/mnt/vms/images/a.qcow2", &other);
	assert_false(other.bind);
	assert_int_equal(storcheck_same(&r, &other, err, sizeof(err)), 0);
	file_disk("bind-nfs.mountinfo", "/mnt/vms/a.qcow2", &other);
	assert_int_equal(storcheck_same(&r, &other, err, sizeof(err)), -1);
	assert_string_equal(err, "disk vda: 10.0.0.5:/export/vms/images/"
	    "a.qcow2 on the source, 10.0.0.5:/export/vms/a.qcow2 on the "
	    "destination");

	/* Were a kernel to print an NFS bind's root, it goes below the
	 * source. */
	assert_int_equal(mountinfo_parse(
	    "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n"
	    "2 1 0:40 /sub /images rw - nfs h:/export rw,vers=3\n",
	    &mi, NULL, 0), 0);
	assert_int_equal(storcheck_classify(&d, mi, &r), 0);
	assert_nfs_file(&r, "h", "/export", "sub/x/a.qcow2",
	    "/export/sub/x/a.qcow2", 3);
	assert_true(r.bind);
	assert_string_equal(r.reason, "disk vdb: /images/x/a.qcow2 is on a "
	    "bind mount at /images of /sub from h:/export");
	mountinfo_free(mi);
}

static void
test_classify_local(void **state)
{
	struct storcheck_result r;

	(void)state;
	file_disk("nfs3.mountinfo", "/mnt/nfs2/a.img", &r);
	assert_blocked(&r, "disk vda: file /mnt/nfs2/a.img is on ext4 mounted "
	    "at /mnt/nfs2 (/dev/sdb1), not on shared storage");
	file_disk("nfs3.mountinfo", "/var/lib/libvirt/a.img", &r);
	assert_blocked(&r, "disk vda: file /var/lib/libvirt/a.img is on ext4 "
	    "mounted at / (/dev/sda2), not on shared storage");
	file_disk("bind-local.mountinfo", "/var/lib/libvirt/images/a.qcow2",
	    &r);
	assert_blocked(&r, "disk vda: file /var/lib/libvirt/images/a.qcow2 is "
	    "on ext4 mounted at /var/lib/libvirt/images (bind mount of "
	    "/images of /dev/sda3), not on shared storage");
	assert_true(r.bind);
	file_disk("bind-local.mountinfo", "/data/vm/a.raw", &r);
	assert_blocked(&r, "disk vda: file /data/vm/a.raw is on xfs mounted "
	    "at /data (/dev/mapper/vg0-data), not on shared storage");
	file_disk("bind-local.mountinfo", "/mnt/sshvms/a.raw", &r);
	assert_blocked(&r, "disk vda: file /mnt/sshvms/a.raw is on fuse.sshfs "
	    "mounted at /mnt/sshvms (admin@10.0.0.9:/vms), not on shared storage");
	file_disk("bind-local.mountinfo", "/run/vms/a.raw", &r);
	assert_blocked(&r, "disk vda: file /run/vms/a.raw is on tmpfs mounted "
	    "at /run/vms (tmpfs), not on shared storage");
	/* --copy-storage may copy it: local, with its filesystem named */
	assert_true(r.local);
	assert_string_equal(r.fsname, "tmpfs");
	assert_string_equal(r.mountpoint, "/run/vms");
	file_disk("bind-local.mountinfo", "/var/lib/containers/ovl/a", &r);
	assert_blocked(&r, "disk vda: file /var/lib/containers/ovl/a is on "
	    "overlay mounted at /var/lib/containers/ovl (overlay), not on shared storage");
	file_disk("nested.mountinfo", "/var/lib/nova/instances/_base/b", &r);
	assert_blocked(&r, "disk vda: file /var/lib/nova/instances/_base/b is "
	    "on tmpfs mounted at /var/lib/nova/instances/_base (tmpfs), not "
	    "on shared storage");
	file_disk("overmount.mountinfo", "/mnt/shared/sub/a", &r);
	assert_blocked(&r, "disk vda: file /mnt/shared/sub/a is on tmpfs "
	    "mounted at /mnt/shared (tmpfs), not on shared storage");
	file_disk("nfs3.mountinfo", "images/a.img", &r);
	assert_blocked(&r, "disk vda: file images/a.img is not an absolute "
	    "path");
}

static void
test_classify_other(void **state)
{
	struct mountinfo *mi = load("nfs3.mountinfo");
	struct storcheck_result r;
	struct storcheck_disk d;

	(void)state;
	d = (struct storcheck_disk){ .target = "vdb", .type = "network",
	    .device = "disk", .protocol = "nfs", .host = "10.0.0.5",
	    .source = "/export/vms/vm1/disk.qcow2", .format = "qcow2" };
	assert_int_equal(storcheck_classify(&d, mi, &r), 0);
	assert_int_equal(r.kind, STORCHECK_NFS_NETWORK);
	assert_string_equal(r.server, "10.0.0.5");
	assert_string_equal(r.export, "/export/vms/vm1");
	assert_string_equal(r.relpath, "disk.qcow2");
	assert_string_equal(r.remote, "/export/vms/vm1/disk.qcow2");
	assert_int_equal(r.nfsvers, 3);
	d.source = "/disk.qcow2";
	assert_int_equal(storcheck_classify(&d, mi, &r), 0);
	assert_string_equal(r.export, "/");
	assert_string_equal(r.relpath, "disk.qcow2");
	d.source = "/export/vms/";
	storcheck_classify(&d, mi, &r);
	assert_blocked(&r, "disk vdb: nfs disk name /export/vms/ is not "
	    "/export/path/file");
	d.source = "/export/vms/a";
	d.host = NULL;
	storcheck_classify(&d, mi, &r);
	assert_blocked(&r, "disk vdb: nfs disk /export/vms/a has no host");

	d = (struct storcheck_disk){ .target = "vdb", .type = "network",
	    .device = "disk", .protocol = "rbd", .host = "mon1",
	    .source = "pool/image" };
	assert_int_equal(storcheck_classify(&d, mi, &r), 0);
	assert_int_equal(r.kind, STORCHECK_RBD_NETWORK);
	d.protocol = "http";
	storcheck_classify(&d, mi, &r);
	assert_blocked(&r, "disk vdb: protocol http is not supported by "
	    "Ferry's checks");

	d = (struct storcheck_disk){ .target = "vdc", .type = "block",
	    .device = "disk", .source = "/dev/sdb" };
	storcheck_classify(&d, mi, &r);
	assert_blocked(&r, "disk vdc: block device /dev/sdb is local");
	d = (struct storcheck_disk){ .target = "vdd", .type = "volume",
	    .device = "disk", .source = "default/vm1.qcow2" };
	storcheck_classify(&d, mi, &r);
	assert_blocked(&r, "disk vdd: storage pool volume default/vm1.qcow2 "
	    "is not supported by Ferry's checks");
	d = (struct storcheck_disk){ .target = "hda", .type = "dir",
	    .device = "disk", .source = "/srv/fat" };
	storcheck_classify(&d, mi, &r);
	assert_blocked(&r, "disk hda: directory /srv/fat as a disk is not "
	    "supported by Ferry's checks");

	d = (struct storcheck_disk){ .target = "sda", .type = "file",
	    .device = "cdrom" };
	assert_int_equal(storcheck_classify(&d, mi, &r), 0);
	assert_int_equal(r.kind, STORCHECK_IGNORED);
	assert_string_equal(r.reason, "disk sda: cdrom without media");
	d.device = "floppy";
	d.source = "";
	storcheck_classify(&d, mi, &r);
	assert_int_equal(r.kind, STORCHECK_IGNORED);
	/* A cdrom with media must be shared like any disk. */
	d.device = "cdrom";
	d.source = "/var/lib/libvirt/iso/boot.iso";
	storcheck_classify(&d, mi, &r);
	assert_blocked(&r, "disk sda: file /var/lib/libvirt/iso/boot.iso is "
	    "on ext4 mounted at / (/dev/sda2), not on shared storage");
	d = (struct storcheck_disk){ .target = "vde", .type = "file",
	    .device = "disk" };
	storcheck_classify(&d, mi, &r);
	assert_blocked(&r, "disk vde: file disk without a source");

	assert_int_equal(storcheck_classify(&d, NULL, &r), -EINVAL);
	assert_int_equal(storcheck_classify(&d, mi, NULL), -EINVAL);
	mountinfo_free(mi);
}

static void
assert_shared_file(const struct storcheck_result *r, const char *fsname,
    const char *server, const char *volume, const char *remote)
{
	if (r->kind != STORCHECK_SHARED_FILE)
		fail_msg("kind %d: %s", r->kind, r->reason);
	assert_string_equal(r->fsname, fsname);
	assert_string_equal(r->server, server);
	assert_string_equal(r->volume, volume);
	assert_string_equal(r->remote, remote);
}

/* GlusterFS (FUSE), CephFS, GFS2 and OCFS2 mounts, by their mountinfo types. */
static void
test_classify_shared(void **state)
{
	struct storcheck_result r, r2;
	char err[STORAGE_ERR_MAX];

	(void)state;
	/* The lab's own mount, as recorded on a lab host. */
	file_disk("shared.mountinfo", "/var/lib/ferry-lab/27/gluster-mnt/g1.qcow2",
	    &r);
	assert_shared_file(&r, "GlusterFS", "198.18.27.3", "ferry",
	    "/ferry/g1.qcow2");
	assert_string_equal(r.fstype, "fuse.glusterfs");
	assert_string_equal(r.mountpoint, "/var/lib/ferry-lab/27/gluster-mnt");
	assert_string_equal(r.relpath, "g1.qcow2");
	assert_true(storcheck_is_file(&r));
	assert_string_equal(storcheck_kind_name(&r), "file on GlusterFS");

	/* A subdirectory of a volume mounted: the volume is its first part. */
	file_disk("shared.mountinfo", "/var/lib/libvirt/images/vm1/d.qcow2", &r);
	assert_shared_file(&r, "GlusterFS", "gl1.example.com", "vmstore",
	    "/vmstore/images/vm1/d.qcow2");

	file_disk("shared.mountinfo", "/mnt/cephfs/a/disk.raw", &r);
	assert_shared_file(&r, "CephFS", "10.0.0.21,10.0.0.22:6789", "/vms",
	    "/vms/a/disk.raw");

	/* Cluster filesystems on shared block devices: no server; the nonce
	 * decides (device names may differ between hosts). */
	file_disk("shared.mountinfo", "/srv/gfs2/v/d.qcow2", &r);
	assert_shared_file(&r, "GFS2", "", "/dev/mapper/cluster-vms",
	    "/srv/gfs2/v/d.qcow2");
	file_disk("shared.mountinfo", "/srv/ocfs2/d.qcow2", &r);
	assert_shared_file(&r, "OCFS2", "", "/dev/sdc1", "/srv/ocfs2/d.qcow2");

	file_disk("shared.mountinfo", "/mnt/glusterbad/x.img", &r);
	assert_blocked(&r, "disk vda: file /mnt/glusterbad/x.img is on "
	    "fuse.glusterfs mounted at /mnt/glusterbad with source \"nocolon\", "
	    "not server:/volume");

	/* Same volume on both hosts, or not. */
	file_disk("shared.mountinfo", "/var/lib/ferry-lab/27/gluster-mnt/g1.qcow2",
	    &r);
	r2 = r;
	assert_int_equal(storcheck_same(&r, &r2, err, sizeof(err)), 0);
	snprintf(r2.server, sizeof(r2.server), "198.18.27.4");
	assert_int_equal(storcheck_same(&r, &r2, err, sizeof(err)), -1);
	assert_string_equal(err, "disk vda: GlusterFS 198.18.27.3:/ferry/g1.qcow2 "
	    "on the source, GlusterFS 198.18.27.4:/ferry/g1.qcow2 on the destination");
	file_disk("nfs3.mountinfo", "/var/lib/libvirt/images/vm1/disk.qcow2", &r2);
	assert_int_equal(storcheck_same(&r, &r2, err, sizeof(err)), -1);
	assert_string_equal(err, "disk vda: file on GlusterFS on the source, "
	    "file on NFS on the destination");
}

/* gluster://, rbd and iscsi disks: what their names and hosts become. */
static void
test_classify_network_kinds(void **state)
{
	struct mountinfo *mi = load("nfs3.mountinfo");
	struct storcheck_result r;
	struct storcheck_disk d;

	(void)state;
	d = (struct storcheck_disk){ .target = "vda", .type = "network",
	    .device = "disk", .protocol = "gluster", .host = "198.18.27.3",
	    .source = "ferry/g2.qcow2", .format = "qcow2" };
	assert_int_equal(storcheck_classify(&d, mi, &r), 0);
	assert_int_equal(r.kind, STORCHECK_GLUSTER_NETWORK);
	assert_string_equal(r.fsname, "GlusterFS");
	assert_string_equal(r.server, "198.18.27.3");
	assert_string_equal(r.volume, "ferry");
	assert_string_equal(r.relpath, "g2.qcow2");
	assert_string_equal(r.remote, "/ferry/g2.qcow2");
	assert_false(storcheck_is_file(&r));
	d.source = "/ferry/sub/g2.qcow2";
	assert_int_equal(storcheck_classify(&d, mi, &r), 0);
	assert_string_equal(r.volume, "ferry");
	assert_string_equal(r.relpath, "sub/g2.qcow2");
	d.source = "ferry";
	storcheck_classify(&d, mi, &r);
	assert_blocked(&r, "disk vda: gluster disk name ferry is not "
	    "volume/path");
	d.source = "ferry/g2.qcow2";
	d.host = NULL;
	storcheck_classify(&d, mi, &r);
	assert_blocked(&r, "disk vda: gluster disk ferry/g2.qcow2 has no host");

	d = (struct storcheck_disk){ .target = "vdb", .type = "network",
	    .device = "disk", .protocol = "rbd", .host = "mon1",
	    .source = "rbdpool/vm1-disk", .format = "raw" };
	assert_int_equal(storcheck_classify(&d, mi, &r), 0);
	assert_int_equal(r.kind, STORCHECK_RBD_NETWORK);
	assert_string_equal(r.fsname, "Ceph RBD");
	assert_string_equal(r.server, "mon1");
	assert_string_equal(r.volume, "rbdpool");
	assert_string_equal(r.export, "");
	assert_string_equal(r.relpath, "vm1-disk");
	assert_string_equal(r.remote, "rbdpool/vm1-disk");
	assert_string_equal(storcheck_kind_name(&r), "QEMU Ceph RBD");
	assert_false(storcheck_is_file(&r));
	/* every monitor, when the XML names several */
	d.hosts = "mon1:6789,mon2:3300";
	d.source = "rbdpool/ns1/vm1-disk";
	assert_int_equal(storcheck_classify(&d, mi, &r), 0);
	assert_string_equal(r.server, "mon1:6789,mon2:3300");
	assert_string_equal(r.export, "ns1");
	assert_string_equal(r.relpath, "vm1-disk");
	d.hosts = NULL;
	d.source = "rbdpool/vm1-disk@snap1";
	storcheck_classify(&d, mi, &r);
	assert_blocked(&r, "disk vdb: Ceph RBD image rbdpool/vm1-disk@snap1 is "
	    "a snapshot: not supported by Ferry's checks");
	d.source = "rbdpool";
	storcheck_classify(&d, mi, &r);
	assert_blocked(&r, "disk vdb: Ceph RBD disk name rbdpool is not "
	    "pool/image or pool/namespace/image");
	d.source = "rbdpool/a/b/c";
	storcheck_classify(&d, mi, &r);
	assert_blocked(&r, "disk vdb: Ceph RBD disk name rbdpool/a/b/c is not "
	    "pool/image or pool/namespace/image");
	d.source = "/vm1-disk";
	storcheck_classify(&d, mi, &r);
	assert_blocked(&r, "disk vdb: Ceph RBD disk name /vm1-disk is not "
	    "pool/image or pool/namespace/image");
	d.source = "rbdpool/vm1-disk";
	d.host = NULL;
	storcheck_classify(&d, mi, &r);
	assert_blocked(&r, "disk vdb: Ceph RBD image rbdpool/vm1-disk has no "
	    "monitor <host>");
	d.host = "mon1";
	d.protocol = "iscsi";
	d.host = "10.0.0.30";
	d.source = "iqn.2026-12.test.ferry:lun/1";
	assert_int_equal(storcheck_classify(&d, mi, &r), 0);
	assert_int_equal(r.kind, STORCHECK_ISCSI_NETWORK);
	assert_string_equal(r.volume, "iqn.2026-12.test.ferry:lun");
	assert_int_equal(r.lun, 1);
	assert_string_equal(r.server, "10.0.0.30");
	d.source = "iqn.2026-12.test.ferry:lun";
	assert_int_equal(storcheck_classify(&d, mi, &r), 0);
	assert_int_equal(r.lun, 0);
	d.source = "iqn.2026-12.test.ferry:lun/x1";
	storcheck_classify(&d, mi, &r);
	assert_blocked(&r, "disk vdb: iSCSI disk name "
	    "iqn.2026-12.test.ferry:lun/x1 is not IQN/LUN");
	d.source = "iqn.2026-12.test.ferry:lun/1";
	d.host = NULL;
	storcheck_classify(&d, mi, &r);
	assert_blocked(&r, "disk vdb: iSCSI disk iqn.2026-12.test.ferry:lun/1 "
	    "has no portal");
	d.host = "10.0.0.30";
	d.protocol = "sheepdog";
	storcheck_classify(&d, mi, &r);
	assert_blocked(&r, "disk vdb: protocol sheepdog is not supported by "
	    "Ferry's checks");
	mountinfo_free(mi);
}

/* A server that does not listen: refused at once; one that drops SYNs
 * (here: an address nobody answers on loopback is refused, so only the
 * refusal is tested; the hang is a lab test). */
static void
test_srvprobe(void **state)
{
	char err[STORAGE_ERR_MAX];
	int64_t t0 = now_ms();

	(void)state;
	/* port 1 on loopback: nothing listens there */
	assert_int_equal(srvprobe_tcp("127.0.0.1", 1, 2000, err, sizeof(err)),
	    -ECONNREFUSED);
	assert_non_null(strstr(err, "127.0.0.1 port 1"));
	assert_true(now_ms() - t0 < 2000);
	assert_int_equal(srvprobe_tcp("", 24007, 2000, err, sizeof(err)),
	    -EINVAL);
	{
		struct iscsiprobe_info info;

		t0 = now_ms();
		assert_int_not_equal(iscsiprobe_lun("127.0.0.1:1",
		    "iqn.2026-12.test.ferry:none", 1, 3000, &info, err,
		    sizeof(err)), 0);
		assert_non_null(strstr(err, "iqn.2026-12.test.ferry:none"));
		assert_true(now_ms() - t0 < 3500);
	}
}

/* librados against a monitor address nobody listens on: it retries until
 * its own timeout, and the probe returns in its deadline naming the
 * monitor; a key that is no cephx key is refused before any connection. */
static void
test_rbdprobe(void **state)
{
	struct rbdprobe_target t = { .monitors = "127.0.0.1:1", .user = "ferry",
	    .key = "AQBi0WlnAAAAABAAk4Mfa5ZRk+bxSQO5LHhiRg==", .pool = "rbd",
	    .image = "vm1" };
	struct rbdprobe_info info;
	char err[STORAGE_ERR_MAX];
	int64_t t0 = now_ms(), el;
	int r;

	(void)state;
	r = rbdprobe_image(&t, 3000, &info, err, sizeof(err));
	el = now_ms() - t0;
	print_message("# %s (%d ms)\n", err, (int)el);
	assert_true(r == -EHOSTUNREACH || r == -ETIMEDOUT);
	assert_non_null(strstr(err, "Ceph monitor 127.0.0.1:1"));
	assert_true(el < 4000);
	t.key = "not a key!";
	assert_int_equal(rbdprobe_image(&t, 3000, &info, err, sizeof(err)),
	    -EKEYREJECTED);
	assert_string_equal(err, "the key this host holds for client.ferry is "
	    "not a cephx key");
	t.image = "";
	assert_int_equal(rbdprobe_image(&t, 3000, &info, err, sizeof(err)),
	    -EINVAL);
}

static void
test_same(void **state)
{
	struct storcheck_result a, b;
	char err[STORAGE_ERR_MAX], dir[256], rel[256];

	(void)state;
	file_disk("nfs4.mountinfo", "/var/lib/nova/instances/u1/disk", &a);
	file_disk("nested.mountinfo", "/var/lib/nova/instances/u1/disk", &b);
	assert_int_equal(storcheck_same(&a, &b, err, sizeof(err)), 0);
	assert_int_equal(storcheck_dirs(&a, dir, sizeof(dir), rel,
	    sizeof(rel)), 0);
	assert_string_equal(dir, "/var/lib/nova/instances/u1");
	assert_string_equal(rel, "u1");

	file_disk("nfs3.mountinfo", "/var/lib/libvirt/images/u1/disk", &b);
	assert_int_equal(storcheck_same(&a, &b, err, sizeof(err)), 0);
	file_disk("nfs3.mountinfo", "/mnt/nfs/u1/disk", &b);
	assert_int_equal(storcheck_same(&a, &b, err, sizeof(err)), -1);
	assert_string_equal(err, "disk vda: 10.0.0.5:/export/vms/u1/disk on "
	    "the source, nas1.example.com:/srv/nfs/u1/disk on the "
	    "destination");
	file_disk("nfs3.mountinfo", "/mnt/nfs2/u1/disk", &b);
	assert_int_equal(storcheck_same(&a, &b, err, sizeof(err)), -1);
	assert_string_equal(err, b.reason);
	assert_int_equal(storcheck_dirs(&b, dir, sizeof(dir), rel,
	    sizeof(rel)), -EINVAL);
	/* The root of the export. */
	file_disk("nfs3.mountinfo", "/mnt/nfs/disk", &b);
	assert_int_equal(storcheck_dirs(&b, dir, sizeof(dir), rel,
	    sizeof(rel)), 0);
	assert_string_equal(dir, "/mnt/nfs");
	assert_string_equal(rel, "");
}

/* A temporary directory for the I/O tests. */
static int
tmpdir_setup(void **state)
{
	char *dir = strdup("/tmp/ferry-st-XXXXXX");

	if (dir == NULL || mkdtemp(dir) == NULL) {
		free(dir);
		return -1;
	}
	*state = dir;
	return 0;
}

static int
tmpdir_teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", (char *)*state);
	if (system(cmd) != 0)
		return -1;
	free(*state);
	return 0;
}

/* --copy-storage's image operations, on a real qcow2 and raw image. */
static void
test_localdisk(void **state)
{
	const char *dir = *state;
	struct localdisk_info li;
	char path[PATH_MAX], raw[PATH_MAX], err[STORAGE_ERR_MAX], cmd[PATH_MAX * 3];
	uint64_t avail = 0;
	int exists = 1;

	snprintf(path, sizeof(path), "%s/a.qcow2", dir);
	snprintf(raw, sizeof(raw), "%s/b.raw", dir);
	assert_int_equal(localdisk_room(path, 5000, &avail, &exists, err,
	    sizeof(err)), 0);
	assert_false(exists);
	assert_true(avail > 0);
	assert_int_equal(localdisk_create(path, "qcow2", 8 << 20, 5000, err,
	    sizeof(err)), 0);
	assert_int_equal(localdisk_room(path, 5000, &avail, &exists, err,
	    sizeof(err)), 0);
	assert_true(exists);
	/* never over an existing file */
	assert_int_equal(localdisk_create(path, "qcow2", 8 << 20, 5000, err,
	    sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, "File exists"));
	assert_int_equal(localdisk_info(path, 5000, &li, err, sizeof(err)), 0);
	assert_string_equal(li.format, "qcow2");
	assert_true(li.virtual_size == 8 << 20);
	assert_string_equal(li.backing, "");
	assert_int_equal(localdisk_create(raw, "raw", 4 << 20, 5000, err,
	    sizeof(err)), 0);
	assert_int_equal(localdisk_info(raw, 5000, &li, err, sizeof(err)), 0);
	assert_string_equal(li.format, "raw");
	assert_true(li.virtual_size == 4 << 20);
	/* a backing chain is seen */
	snprintf(cmd, sizeof(cmd), "qemu-img create -q -f qcow2 -b '%s' -F qcow2 "
	    "'%s/c.qcow2'", path, dir);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "%s/c.qcow2", dir);
	assert_int_equal(localdisk_info(cmd, 5000, &li, err, sizeof(err)), 0);
	assert_string_equal(li.backing, path);
	/* bad input: formats not copied, relative or unclean paths */
	assert_int_equal(localdisk_create(raw, "vmdk", 1, 5000, err,
	    sizeof(err)), -EINVAL);
	assert_int_equal(localdisk_create("a.qcow2", "qcow2", 1, 5000, err,
	    sizeof(err)), -EINVAL);
	assert_int_equal(localdisk_create("/tmp/../etc/x", "raw", 1, 5000, err,
	    sizeof(err)), -EINVAL);
	assert_int_equal(localdisk_info("/nonexistent/x.qcow2", 5000, &li, err,
	    sizeof(err)), -EIO);
	assert_non_null(strstr(err, "qemu-img info failed"));
	/* no directory */
	assert_int_equal(localdisk_room("/nonexistent/x.qcow2", 5000, &avail,
	    &exists, err, sizeof(err)), -ENOENT);
	assert_int_equal(localdisk_remove(path, 5000, err, sizeof(err)), 0);
	assert_int_equal(localdisk_remove(path, 5000, err, sizeof(err)),
	    -ENOENT);
}

static void
test_nonce(void **state)
{
	const char *dir = *state;
	struct nonce n, n2, wrong;
	char err[STORAGE_ERR_MAX], path[PATH_MAX], buf[64];
	struct stat st;
	FILE *f;

	assert_int_equal(nonce_write(dir, &n, 2000, err, sizeof(err)), 0);
	assert_int_equal(nonce_valid(&n), 0);
	assert_int_equal(strncmp(n.name, NONCE_PREFIX, strlen(NONCE_PREFIX)),
	    0);
	snprintf(path, sizeof(path), "%s/%s", dir, n.name);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, NONCE_HEXLEN);
	assert_non_null(f = fopen(path, "r"));
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, n.value);

	assert_int_equal(nonce_read(dir, &n, 2000, err, sizeof(err)), 0);
	/* Right name, wrong contents: another writer, or a stale copy. */
	wrong = n;
	wrong.value[0] = wrong.value[0] == '0' ? '1' : '0';
	assert_int_equal(nonce_read(dir, &wrong, 2000, err, sizeof(err)),
	    -EBADMSG);
	assert_non_null(strstr(err, "contents differ"));
	/* A nonce the other host never wrote. */
	assert_int_equal(nonce_write(dir, &n2, 2000, err, sizeof(err)), 0);
	assert_string_not_equal(n.name, n2.name);
	assert_string_not_equal(n.value, n2.value);
	assert_int_equal(nonce_remove(dir, &n2, 2000, err, sizeof(err)), 0);
	assert_int_equal(nonce_read(dir, &n2, 2000, err, sizeof(err)),
	    -ENOENT);
	assert_non_null(strstr(err, n2.name));
	/* Names from the wire are checked before use. */
	wrong = n;
	snprintf(wrong.name, sizeof(wrong.name), "../../etc/passwd");
	assert_int_equal(nonce_read(dir, &wrong, 2000, err, sizeof(err)),
	    -EINVAL);
	assert_int_equal(nonce_remove(dir, &wrong, 2000, err, sizeof(err)),
	    -EINVAL);
	assert_int_equal(nonce_read("relative", &n, 2000, err, sizeof(err)),
	    -EINVAL);

	assert_int_equal(nonce_remove(dir, &n, 2000, err, sizeof(err)), 0);
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(nonce_read(dir, &n, 2000, err, sizeof(err)),
	    -ENOENT);
	assert_int_equal(nonce_remove(dir, &n, 2000, err, sizeof(err)),
	    -ENOENT);
	assert_int_equal(nonce_write("/nonexistent-ferry-dir", &n, 2000, err,
	    sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent-ferry-dir/.ferry-nonce-"));
}

/* open() of a FIFO without a writer blocks like a hung NFS server. */
static void
test_nonce_timeout(void **state)
{
	const char *dir = *state;
	struct nonce n;
	char err[STORAGE_ERR_MAX], path[PATH_MAX];
	int64_t t0, dt;

	assert_int_equal(nonce_generate(&n), 0);
	snprintf(path, sizeof(path), "%s/%s", dir, n.name);
	assert_int_equal(mkfifo(path, 0600), 0);
	t0 = now_ms();
	assert_int_equal(nonce_read(dir, &n, 300, err, sizeof(err)),
	    -ETIMEDOUT);
	dt = now_ms() - t0;
	assert_string_equal(err, "timed out after 300 ms");
	assert_in_range(dt, 290, 1500);
	assert_int_equal(timed_pending(), 0);
	assert_int_equal(nonce_remove(dir, &n, 2000, err, sizeof(err)), 0);
}

static int
op_sleep(void *arg, void *out, size_t outlen, char *err, size_t errlen)
{
	(void)out;
	(void)outlen;
	(void)err;
	(void)errlen;
	sleep(*(unsigned int *)arg);
	return 0;
}

static int
op_answer(void *arg, void *out, size_t outlen, char *err, size_t errlen)
{
	memset(out, *(int *)arg, outlen);
	snprintf(err, errlen, "filled %zu", outlen);
	return *(int *)arg == 0 ? -ENOSPC : 0;
}

static int
op_die(void *arg, void *out, size_t outlen, char *err, size_t errlen)
{
	(void)arg;
	(void)out;
	(void)outlen;
	(void)err;
	(void)errlen;
	_exit(3);
}

static void
test_timed(void **state)
{
	unsigned int secs = 30;
	char err[STORAGE_ERR_MAX], big[200000];
	int64_t t0, dt;
	int v, i;

	(void)state;
	t0 = now_ms();
	assert_int_equal(timed_call(200, op_sleep, &secs, NULL, 0, err,
	    sizeof(err)), -ETIMEDOUT);
	dt = now_ms() - t0;
	assert_in_range(dt, 190, 1000);
	assert_string_equal(err, "timed out after 200 ms");
	assert_int_equal(timed_pending(), 0);

	/* Results larger than a pipe's buffer come back whole. */
	v = 'x';
	assert_int_equal(timed_call(5000, op_answer, &v, big, sizeof(big),
	    err, sizeof(err)), 0);
	for (i = 0; i < (int)sizeof(big); i++)
		if (big[i] != 'x')
			fail_msg("byte %d is %d", i, big[i]);
	assert_string_equal(err, "filled 200000");
	v = 0;
	assert_int_equal(timed_call(5000, op_answer, &v, big, 16, err,
	    sizeof(err)), -ENOSPC);
	assert_string_equal(err, "filled 16");

	assert_int_equal(timed_call(5000, op_die, NULL, NULL, 0, err,
	    sizeof(err)), -EIO);
	assert_string_equal(err, "check process died");
	assert_int_equal(timed_call(0, op_die, NULL, NULL, 0, err,
	    sizeof(err)), -EINVAL);
}

/* hostd calls from several worker threads at once: every call must get
 * its own child's answer, timeouts included. */
static void *
timed_thread(void *arg)
{
	int v = (int)(intptr_t)arg, i, j, bad = 0;
	unsigned int secs = 10;
	char out[3000], err[STORAGE_ERR_MAX];

	for (i = 0; i < 5; i++) {
		if (timed_call(5000, op_answer, &v, out, sizeof(out), err,
		    sizeof(err)) != 0)
			bad++;
		for (j = 0; j < (int)sizeof(out); j++)
			if (out[j] != (char)v)
				bad++;
		if (i == 2 && timed_call(100, op_sleep, &secs, NULL, 0, err,
		    sizeof(err)) != -ETIMEDOUT)
			bad++;
	}
	return (void *)(intptr_t)bad;
}

static void
test_timed_threads(void **state)
{
	pthread_t th[4];
	void *bad;
	int i;

	(void)state;
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, timed_thread,
		    (void *)(intptr_t)('a' + i)), 0);
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], &bad), 0);
		assert_ptr_equal(bad, NULL);
	}
	assert_int_equal(timed_pending(), 0);
}

/* storcheck_disk on real files, against a mount table that puts the
 * temporary directory on NFS (right device) or lies about the device. */
static void
test_disk_io(void **state)
{
	const char *dir = *state;
	struct storcheck_disk d = { .target = "vda", .type = "file",
	    .device = "disk", .format = "raw" };
	struct storcheck_result r;
	struct mountinfo *mi = NULL;
	char text[2 * PATH_MAX], path[PATH_MAX], link[PATH_MAX], want[1024];
	struct stat st;
	FILE *f;

	snprintf(path, sizeof(path), "%s/disk.raw", dir);
	assert_non_null(f = fopen(path, "w"));
	fclose(f);
	assert_int_equal(stat(path, &st), 0);
	snprintf(text, sizeof(text),
	    "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n"
	    "2 1 %u:%u / %s rw - nfs4 10.0.0.5:/export/vms rw,vers=4.2\n",
	    major(st.st_dev), minor(st.st_dev), dir);
	assert_int_equal(mountinfo_parse(text, &mi, NULL, 0), 0);

	d.source = path;
	assert_int_equal(storcheck_disk(&d, mi, 2000, &r), 0);
	assert_nfs_file(&r, "10.0.0.5", "/export/vms", "disk.raw",
	    "/export/vms/disk.raw", 4);
	/* Through a symlink: the resolved path is what counts. */
	snprintf(link, sizeof(link), "%s/link.raw", dir);
	assert_int_equal(symlink(path, link), 0);
	d.source = link;
	assert_int_equal(storcheck_disk(&d, mi, 2000, &r), 0);
	assert_string_equal(r.path, path);
	assert_string_equal(r.relpath, "disk.raw");

	snprintf(path, sizeof(path), "%s/missing.raw", dir);
	d.source = path;
	assert_int_equal(storcheck_disk(&d, mi, 2000, &r), -1);
	/* the message names the storage the path is on */
	snprintf(want, sizeof(want), "disk vda: %s: no such file (on nfs4 "
	    "10.0.0.5:/export/vms mounted at %s)", path, dir);
	assert_blocked(&r, want);

	snprintf(path, sizeof(path), "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	d.source = path;
	assert_int_equal(storcheck_disk(&d, mi, 2000, &r), -1);
	snprintf(want, sizeof(want), "disk vda: %s is not a regular file",
	    path);
	assert_blocked(&r, want);
	mountinfo_free(mi);

	/* The mount table says NFS, the file's device says otherwise. */
	snprintf(text, sizeof(text),
	    "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n"
	    "2 1 0:4242 / %s rw - nfs4 10.0.0.5:/export/vms rw,vers=4.2\n",
	    dir);
	assert_int_equal(mountinfo_parse(text, &mi, NULL, 0), 0);
	snprintf(path, sizeof(path), "%s/disk.raw", dir);
	d.source = path;
	assert_int_equal(storcheck_disk(&d, mi, 2000, &r), -1);
	snprintf(want, sizeof(want), "disk vda: %s is on device %u:%u, not on "
	    "the nfs4 mount at %s", path, major(st.st_dev), minor(st.st_dev),
	    dir);
	assert_blocked(&r, want);
	mountinfo_free(mi);

	/* This machine's own mount table: /tmp is not on shared storage here. */
	assert_int_equal(storcheck_disk(&d, NULL, 2000, &r), -1);
	assert_non_null(strstr(r.reason, "not on shared storage"));
	assert_non_null(strstr(r.reason, path));
}

/* No NFS server on 127.0.0.1 exports this: a prompt, named failure. */
static void
test_nfsprobe_fails(void **state)
{
	struct nfsprobe_target t = { "127.0.0.1", "/ferry-no-such-export", 3 };
	struct storcheck_disk d = { .target = "vdb", .type = "network",
	    .device = "disk", .protocol = "nfs", .host = "127.0.0.1",
	    .source = "/ferry-no-such-export/d.qcow2", .format = "qcow2" };
	struct storcheck_result r;
	struct mountinfo *mi = NULL;
	char err[STORAGE_ERR_MAX];
	int64_t t0;

	(void)state;
	t0 = now_ms();
	assert_true(nfsprobe_export(&t, 2000, err, sizeof(err)) < 0);
	assert_true(now_ms() - t0 < 2500);
	assert_non_null(strstr(err, "nfs://127.0.0.1/ferry-no-such-export"));

	assert_int_equal(mountinfo_parse("1 0 8:1 / / rw - ext4 /dev/sda1 "
	    "rw\n", &mi, NULL, 0), 0);
	assert_int_equal(storcheck_disk(&d, mi, 2000, &r), -1);
	assert_int_equal(r.kind, STORCHECK_BLOCKED);
	assert_true(strncmp(r.reason, "disk vdb: nfs://127.0.0.1/"
	    "ferry-no-such-export", 40) == 0);
	mountinfo_free(mi);

	t.export = "relative";
	assert_int_equal(nfsprobe_export(&t, 2000, err, sizeof(err)),
	    -EINVAL);
	t.export = "/x";
	assert_int_equal(nfsprobe_file(&t, "/abs", NULL, 2000, err,
	    sizeof(err)), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify_nfs),
		cmocka_unit_test(test_classify_bind_nfs),
		cmocka_unit_test(test_classify_local),
		cmocka_unit_test(test_classify_other),
		cmocka_unit_test(test_classify_shared),
		cmocka_unit_test(test_classify_network_kinds),
		cmocka_unit_test(test_srvprobe),
		cmocka_unit_test(test_rbdprobe),
		cmocka_unit_test(test_same),
		cmocka_unit_test_setup_teardown(test_nonce, tmpdir_setup,
		    tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_nonce_timeout,
		    tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test(test_timed),
		cmocka_unit_test(test_timed_threads),
		cmocka_unit_test_setup_teardown(test_disk_io, tmpdir_setup,
		    tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_localdisk, tmpdir_setup,
		    tmpdir_teardown),
		cmocka_unit_test(test_nfsprobe_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
