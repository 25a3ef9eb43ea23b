/* test_fence.c: leader epochs at the hosts (hostd/fence.c, issue 16).
 * fence.c's file on its own (durable, survives a restart, never guessed
 * low), then real hostd cores on the fake hypervisor over the real SSH
 * transport: EPOCH raises, a lower epoch is refused with FERRY_EFENCED on
 * every acting call and nothing reaches libvirt, calls that only read
 * pass, and a coordinator without HA works as before on a host that never
 * saw an epoch. */
#include <sys/stat.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cluster.h"
#include "coordinator.h"
#include "fake_hv.h"
#include "hostd.h"
#include "log.h"

/* ---- fence.c's file ---- */

static void
read_file(const char *path, char *buf, size_t len)
{
	FILE *fp;
	size_t n;

	assert_non_null(fp = fopen(path, "r"));
	n = fread(buf, 1, len - 1, fp);
	buf[n] = '\0';
	fclose(fp);
}

static void
test_fence_file(void **state)
{
	struct fence f;
	char dir[] = "/tmp/ferry-fence.XXXXXX", sub[128], path[160];
	char buf[256], leader[64], err[512];
	uint64_t cur;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/state", dir);
	snprintf(path, sizeof(path), "%s/epoch", sub);
	/* No file yet: epoch 0, nothing created until a raise. */
	assert_int_equal(fence_init(&f, sub, err, sizeof(err)), 0);
	assert_true(fence_epoch(&f) == 0);
	assert_int_equal(fence_check(&f, 0, err, sizeof(err)), 0);
	assert_int_equal(access(sub, F_OK), -1);
	assert_int_equal(fence_raise(&f, 7, "c2", &cur, leader, sizeof(leader),
	    err, sizeof(err)), 0);
	assert_true(cur == 7);
	assert_string_equal(leader, "c2");
	read_file(path, buf, sizeof(buf));
	assert_string_equal(buf, "epoch 7 leader c2\n");
	/* The same epoch again is fine (a leader's second session). */
	assert_int_equal(fence_raise(&f, 7, "c2", &cur, leader, sizeof(leader),
	    err, sizeof(err)), 0);
	/* Lower: refused, with who holds the higher one. */
	assert_int_equal(fence_raise(&f, 6, "c1", &cur, leader, sizeof(leader),
	    err, sizeof(err)), -FERRY_EFENCED);
	assert_true(cur == 7);
	assert_non_null(strstr(err, "leader c2"));
	assert_int_equal(fence_check(&f, 6, err, sizeof(err)), -FERRY_EFENCED);
	assert_non_null(strstr(err, "older than epoch 7"));
	assert_int_equal(fence_check(&f, 0, err, sizeof(err)), -FERRY_EFENCED);
	assert_int_equal(fence_check(&f, 7, err, sizeof(err)), 0);
	assert_int_equal(fence_check(&f, 8, err, sizeof(err)), 0);
	fence_free(&f);
	fence_free(NULL);

	/* A restart remembers it; no temporary file is left behind. */
	assert_int_equal(fence_init(&f, sub, err, sizeof(err)), 0);
	assert_true(fence_epoch(&f) == 7);
	assert_int_equal(fence_check(&f, 6, err, sizeof(err)), -FERRY_EFENCED);
	snprintf(buf, sizeof(buf), "%s.tmp", path);
	assert_int_equal(access(buf, F_OK), -1);
	fence_free(&f);

	/* A file that is not an epoch: refuse to start rather than guess 0. */
	cluster_sh("echo garbage > %s", path);
	assert_int_equal(fence_init(&f, sub, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not an epoch file"));
	fence_free(&f);

	/* A directory that cannot be written: the raise fails, nothing
	 * changes (the caller is told, the epoch is not raised in memory). */
	cluster_sh("rm -f %s; chmod 0500 %s", path, sub);
	assert_int_equal(fence_init(&f, sub, err, sizeof(err)), 0);
	if (geteuid() != 0) {
		assert_int_equal(fence_raise(&f, 9, "c1", &cur, leader,
		    sizeof(leader), err, sizeof(err)), -EIO);
		assert_true(fence_epoch(&f) == 0);
	}
	fence_free(&f);
	cluster_sh("chmod 0700 %s; rm -rf %s", sub, dir);
}

/* ---- over the wire ---- */

struct reply {
	int	 done;
	int	 ok;
	int	 code;
	char	 err[512];
	uint64_t epoch;
};

static void
reply_cb(struct host *h, const struct frame *f, const char *err, void *arg)
{
	struct reply *r = arg;
	Ferry__EpochReply *er;

	r->done = 1;
	r->ok = f != NULL;
	r->code = f == NULL ? h->reply_code : 0;
	snprintf(r->err, sizeof(r->err), "%s", err ? err : "");
	if (f != NULL && f->hdr.type == MSG_EPOCH &&
	    (er = (Ferry__EpochReply *)frame_unpack(f,
	    &ferry__epoch_reply__descriptor)) != NULL) {
		r->epoch = er->epoch;
		ferry__epoch_reply__free_unpacked(er, NULL);
	}
}

static int
reply_done(struct cluster *cl, void *arg)
{
	(void)cl;
	return ((struct reply *)arg)->done;
}

static void
call(struct cluster *cl, int host, uint16_t type, ProtobufCMessage *m,
    struct reply *r)
{
	memset(r, 0, sizeof(*r));
	assert_int_equal(peer_call(&cl->co.hosts[host], type, m, 10000,
	    reply_cb, r), 0);
	assert_true(cluster_run_until(cl, reply_done, r, 15000));
}

static void
announce(struct cluster *cl, int host, uint64_t epoch, const char *leader,
    struct reply *r)
{
	Ferry__EpochRequest req = FERRY__EPOCH_REQUEST__INIT;

	req.epoch = epoch;
	req.leader = (char *)leader;
	call(cl, host, MSG_EPOCH, &req.base, r);
}

static void
source_check(struct cluster *cl, int host, const char *vm, struct reply *r)
{
	Ferry__SourceCheckRequest req = FERRY__SOURCE_CHECK_REQUEST__INIT;

	req.name = (char *)vm;
	call(cl, host, MSG_PRECHECK_SOURCE, &req.base, r);
}

static void
expect_fenced(const struct reply *r)
{
	assert_true(r->done);
	assert_false(r->ok);
	if (r->code != FERRY_EFENCED)
		fail_msg("code %d (%s), not FERRY_EFENCED", r->code, r->err);
	assert_non_null(strstr(r->err, "fenced"));
}

static const struct cluster_opts fence_opts = { .tag = "fence" };

static int
setup(void **state)
{
	return cluster_setup(state, &fence_opts);
}

static int
teardown(void **state)
{
	return cluster_teardown(state);
}

static void
test_fence_calls(void **state)
{
	struct cluster *cl = *state;
	Ferry__MigrateRequest mr = FERRY__MIGRATE_REQUEST__INIT;
	Ferry__Policy pol = FERRY__POLICY__INIT;
	Ferry__DestroyRequest dr = FERRY__DESTROY_REQUEST__INIT;
	Ferry__JobRef jr = FERRY__JOB_REF__INIT;
	Ferry__StorageCleanup sc = FERRY__STORAGE_CLEANUP__INIT;
	Ferry__DomainRef ds = FERRY__DOMAIN_REF__INIT;
	struct reply r;
	char path[160], buf[256];

	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vm1", NULL,
	    0), 0);
	/* Without HA (epoch 0) on a host that never saw one: as before. */
	cl->co.epoch = 0;
	source_check(cl, 0, "vm1", &r);
	if (!r.ok)
		fail_msg("precheck without HA: %s", r.err);

	/* Leader c2 announces epoch 5 to h1; it is on h1's disk. */
	announce(cl, 0, 5, "c2", &r);
	assert_true(r.ok);
	assert_true(r.epoch == 5);
	snprintf(path, sizeof(path), "%s/state0/epoch", cl->dir);
	read_file(path, buf, sizeof(buf));
	assert_string_equal(buf, "epoch 5 leader c2\n");
	assert_false(cl->co.fenced);

	/* A deposed leader with epoch 3: every acting call is refused. */
	cl->co.epoch = 3;
	source_check(cl, 0, "vm1", &r);
	expect_fenced(&r);
	assert_true(cl->co.fenced);	/* it learns it is deposed */
	mr.job_id = 1;
	mr.name = "vm1";
	mr.dest_uri = (char *)cluster_host_uri(1);
	mr.policy = &pol;
	call(cl, 0, MSG_MIGRATE, &mr.base, &r);
	expect_fenced(&r);
	assert_int_equal(fake_hv_calls(cluster_host_uri(0), FAKE_OP_MIGRATE),
	    0);
	jr.job_id = 1;
	call(cl, 0, MSG_ABORT, &jr.base, &r);
	expect_fenced(&r);
	dr.name = "vm1";
	dr.uuid = "0badc0de-0000-4000-8000-000000000001";
	call(cl, 0, MSG_DESTROY_LEFTOVER, &dr.base, &r);
	expect_fenced(&r);
	call(cl, 0, MSG_UNDEFINE_LEFTOVER, &dr.base, &r);
	expect_fenced(&r);
	assert_int_equal(fake_hv_calls(cluster_host_uri(0), FAKE_OP_DESTROY),
	    0);
	sc.vm = "vm1";
	call(cl, 0, MSG_STORAGE_CLEANUP, &sc.base, &r);
	expect_fenced(&r);
	/* Its own EPOCH is refused too: it cannot take the host back. */
	announce(cl, 0, 3, "c1", &r);
	expect_fenced(&r);
	/* Nor can a coordinator without HA. */
	cl->co.epoch = 0;
	source_check(cl, 0, "vm1", &r);
	expect_fenced(&r);
	/* Reading is not fenced: a standby keeps its picture fresh. */
	ds.name = "vm1";
	call(cl, 0, MSG_DOMAIN_STATE, &ds.base, &r);
	assert_true(r.ok);
	/* A host that never saw epoch 5 still takes epoch 3's calls: the
	 * new leader announces to every host before it acts anywhere. */
	cl->co.epoch = 3;
	assert_int_equal(fake_hv_add_running(cluster_host_uri(1), "vm2", NULL,
	    0), 0);
	source_check(cl, 1, "vm2", &r);
	if (!r.ok)
		fail_msg("h2: %s", r.err);

	/* The leader itself, and a later one, act. */
	cl->co.epoch = 5;
	cl->co.fenced = 0;
	source_check(cl, 0, "vm1", &r);
	if (!r.ok)
		fail_msg("epoch 5: %s", r.err);
	announce(cl, 0, 6, "c1", &r);
	assert_true(r.ok && r.epoch == 6);
	source_check(cl, 0, "vm1", &r);
	expect_fenced(&r);
	cl->co.epoch = 6;
	source_check(cl, 0, "vm1", &r);
	assert_true(r.ok);
	assert_true(fence_epoch(&cl->hd[0].fence) == 6);
	assert_true(fence_epoch(&cl->hd[1].fence) == 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fence_file),
		cmocka_unit_test_setup_teardown(test_fence_calls, setup,
		    teardown),
	};

	log_init("test_fence", 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
