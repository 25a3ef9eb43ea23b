/* test_http.c: the coordinator's HTTPS API (http*.c) in the unit tests'
 * cluster (real hostd cores on fake hypervisors, the real coordinator and
 * store): TLS with a certificate made by certtool, the token file and its
 * roles, the statuses of refusals, body limits, a token file edited while
 * running, an answer the loop does not give in time, and two operators
 * POSTing the same migration at once. The client is curl, run from a
 * thread while the test's thread drives the loop. */
#include <sys/stat.h>

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <json.h>

#include "cluster.h"
#include "coordinator.h"
#include "fake_hv.h"
#include "http.h"
#include "job.h"
#include "store.h"

static int http_port;
static int answer_timeout_s = 30;
static int rate = 1000;

struct req {
	struct cluster	*cl;
	char		 method[8];
	char		 path[256];
	char		 token[128];
	char		*body;		/* NULL: none */
	int		 max_time;	/* curl's --max-time; 0: 20 s */
	int		 status;	/* out */
	char		 out[65536];
	volatile int	 done;
	pthread_t	 th;
};

static void
http_coord_conf(struct cluster *cl, struct coord_conf *cc)
{
	struct coord_http_conf *h = &cc->http;

	h->enabled = 1;
	snprintf(h->listen, sizeof(h->listen), "127.0.0.1:%d", http_port);
	snprintf(h->cert, sizeof(h->cert), "%s/cert.pem", cl->dir);
	snprintf(h->key, sizeof(h->key), "%s/key.pem", cl->dir);
	snprintf(h->tokens, sizeof(h->tokens), "%s/tokens", cl->dir);
	h->max_connections = 32;
	h->max_connections_per_ip = 32;
	h->idle_timeout_s = 2;
	h->max_header_kib = 16;
	h->max_body_kib = 4;
	h->rate = rate;
	h->answer_timeout_s = answer_timeout_s;
	h->events_kept = 64;
	/* The tree's web view (tests/run runs the tests from the top). */
	snprintf(h->www, sizeof(h->www), "www");
}

static const struct cluster_opts http_opts = {
	.tag = "http",
	.coord_conf = http_coord_conf,
};

static char read_tok[80], op_tok[80];

/* A token into the file, as ferryctl token add writes it. */
static void
add_token(struct cluster *cl, const char *name, const char *role,
    const char *tok)
{
	char path[256], hex[65];
	FILE *f;

	assert_int_equal(http_token_hash_hex(tok, hex), 0);
	snprintf(path, sizeof(path), "%s/tokens", cl->dir);
	assert_non_null(f = fopen(path, "a"));
	fprintf(f, "%s %s %s\n", name, role, hex);
	fclose(f);
	assert_int_equal(chmod(path, 0600), 0);
}

static void *
req_main(void *arg)
{
	struct req *r = arg;
	char cmd[2048], bodyf[300], outf[300];
	FILE *p;
	size_t n;

	snprintf(outf, sizeof(outf), "%s/out.%p", r->cl->dir, (void *)r);
	snprintf(bodyf, sizeof(bodyf), "%s/body.%p", r->cl->dir, (void *)r);
	if (r->body != NULL) {
		FILE *f = fopen(bodyf, "w");

		fputs(r->body, f);
		fclose(f);
	}
	snprintf(cmd, sizeof(cmd), "curl -s --max-time %d --cacert %s/cert.pem "
	    "-o %s -w '%%{http_code}' -X %s %s%s%s %s%s%s "
	    "'https://127.0.0.1:%d%s'", r->max_time ? r->max_time : 20,
	    r->cl->dir, outf, r->method,
	    r->token[0] ? "-H 'Authorization: Bearer " : "", r->token,
	    r->token[0] ? "'" : "", r->body ? "-H 'Content-Type: "
	    "application/json' --data-binary @" : "", r->body ? bodyf : "",
	    "", http_port, r->path);
	if ((p = popen(cmd, "r")) != NULL) {
		if (fscanf(p, "%d", &r->status) != 1)
			r->status = -1;
		pclose(p);
	}
	if ((p = fopen(outf, "r")) != NULL) {
		n = fread(r->out, 1, sizeof(r->out) - 1, p);
		r->out[n] = '\0';
		fclose(p);
	}
	unlink(outf);
	unlink(bodyf);
	__atomic_store_n(&r->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void
req_start_for(struct cluster *cl, struct req *r, const char *method,
    const char *path, const char *token, const char *body, int max_time)
{
	memset(r, 0, sizeof(*r));
	r->cl = cl;
	r->max_time = max_time;
	snprintf(r->method, sizeof(r->method), "%s", method);
	snprintf(r->path, sizeof(r->path), "%s", path);
	snprintf(r->token, sizeof(r->token), "%s", token ? token : "");
	r->body = body ? strdup(body) : NULL;
	assert_int_equal(pthread_create(&r->th, NULL, req_main, r), 0);
}

static void
req_start(struct cluster *cl, struct req *r, const char *method,
    const char *path, const char *token, const char *body)
{
	req_start_for(cl, r, method, path, token, body, 0);
}

static int
req_done(struct cluster *cl, void *arg)
{
	(void)cl;
	return __atomic_load_n(&((struct req *)arg)->done, __ATOMIC_SEQ_CST);
}

static void
req_wait(struct cluster *cl, struct req *r)
{
	assert_true(cluster_run_until(cl, req_done, r, 30000));
	pthread_join(r->th, NULL);
	free(r->body);
	r->body = NULL;
}

/* One request, the loop driven until it is answered. */
static int
req(struct cluster *cl, struct req *r, const char *method, const char *path,
    const char *token, const char *body)
{
	req_start(cl, r, method, path, token, body);
	req_wait(cl, r);
	return r->status;
}

static const char *
err_code(const struct req *r, char *buf, size_t len)
{
	struct json_object *o, *e, *c;

	buf[0] = '\0';
	if ((o = json_tokener_parse(r->out)) != NULL &&
	    json_object_object_get_ex(o, "error", &e) &&
	    json_object_object_get_ex(e, "code", &c))
		snprintf(buf, len, "%s", json_object_get_string(c));
	json_object_put(o);
	return buf;
}

static int
setup(void **state)
{
	struct cluster *cl;
	int i;

	http_port = 21000 + getpid() % 20000;
	cl = cluster_new(&http_opts);
	cluster_sh("cd %s && certtool --generate-privkey --key-type=ecdsa "
	    "--outfile key.pem 2>/dev/null && printf 'cn = test\\nip_address = "
	    "127.0.0.1\\nca\\ntls_www_server\\nexpiration_days = 2\\n' > tpl && "
	    "certtool --generate-self-signed --load-privkey key.pem --template "
	    "tpl --outfile cert.pem 2>/dev/null && chmod 600 key.pem", cl->dir);
	snprintf(read_tok, sizeof(read_tok), "fy_read%d", getpid());
	snprintf(op_tok, sizeof(op_tok), "fy_operate%d", getpid());
	add_token(cl, "viewer", "read", read_tok);
	add_token(cl, "alice", "operate", op_tok);
	for (i = 0; i < CLUSTER_NHOSTS; i++)
		cluster_hostd_start(cl, i);
	cluster_coord_start(cl);
	*state = cl;
	return 0;
}

static int
teardown(void **state)
{
	return cluster_teardown(state);
}

/* A quiet event stream outlives the idle timeout (2 s here): its comments
 * come at a third of it. With a comment every 5 s whatever the timeout,
 * the server cut the stream after 2 s of quiet and the event pushed at
 * 3.5 s never reached it (t_api, lab: idle_timeout_s 5, under load). */
static void
test_events_quiet_stream(void **state)
{
	struct cluster *cl = *state;
	struct req r;

	/* curl ends the stream itself after 6 s. */
	req_start_for(cl, &r, "GET", "/v1/events", read_tok, NULL, 6);
	cluster_pump(cl, 3500);
	http_events_push(&cl->co, "job", json_object_new_string("after-quiet"));
	req_wait(cl, &r);
	assert_non_null(strstr(r.out, ": ping"));
	assert_non_null(strstr(r.out, "after-quiet"));
}

/* GET /v1/hosts: TLS, a read token, the hosts as ferryctl prints them. */
static void
test_hosts(void **state)
{
	struct cluster *cl = *state;
	struct json_object *o, *h, *v;
	struct req r;

	assert_int_equal(req(cl, &r, "GET", "/v1/hosts", read_tok, NULL), 200);
	assert_non_null(o = json_tokener_parse(r.out));
	assert_true(json_object_is_type(o, json_type_array));
	assert_int_equal(json_object_array_length(o), CLUSTER_NHOSTS);
	h = json_object_array_get_idx(o, 0);
	assert_true(json_object_object_get_ex(h, "name", &v));
	assert_string_equal(json_object_get_string(v), "h1");
	assert_true(json_object_object_get_ex(h, "state", &v));
	assert_string_equal(json_object_get_string(v), "up");
	assert_true(json_object_object_get_ex(h, "labels", &v));
	json_object_put(o);
}

/* 401 without a token or with an unknown one; 403 for a read token that
 * acts; 404 for what is not there; 400 for bad bodies; 413 too big. */
static void
test_refusals(void **state)
{
	struct cluster *cl = *state;
	char code[64], big[8192];
	struct req r;

	assert_int_equal(req(cl, &r, "GET", "/v1/hosts", NULL, NULL), 401);
	assert_string_equal(err_code(&r, code, sizeof(code)), "unauthorized");
	assert_int_equal(req(cl, &r, "GET", "/v1/hosts", "fy_nope", NULL), 401);
	assert_int_equal(req(cl, &r, "POST", "/v1/migrations", read_tok,
	    "{\"vm\":\"vm1\"}"), 403);
	assert_string_equal(err_code(&r, code, sizeof(code)), "forbidden");
	assert_int_equal(req(cl, &r, "GET", "/v1/jobs/999", read_tok, NULL),
	    404);
	assert_string_equal(err_code(&r, code, sizeof(code)), "not_found");
	assert_int_equal(req(cl, &r, "GET", "/v1/nothing", read_tok, NULL), 404);
	assert_int_equal(req(cl, &r, "DELETE", "/v1/hosts", read_tok, NULL),
	    405);
	assert_int_equal(req(cl, &r, "POST", "/v1/migrations", op_tok,
	    "{\"vm\":"), 400);
	assert_string_equal(err_code(&r, code, sizeof(code)), "bad_request");
	assert_int_equal(req(cl, &r, "POST", "/v1/migrations", op_tok,
	    "{\"vm\":\"vm1\",\"bandwith_mib\":5}"), 400);
	assert_non_null(strstr(r.out, "unknown field 'bandwith_mib'"));
	assert_int_equal(req(cl, &r, "POST", "/v1/migrations", op_tok,
	    "{\"vm\":\"no-such-vm\"}"), 404);
	assert_int_equal(req(cl, &r, "POST", "/v1/hosts/h9/maintenance", op_tok,
	    "{\"action\":\"enter\",\"dry_run\":true}"), 404);
	memset(big, ' ', sizeof(big) - 1);
	big[0] = '{';
	big[sizeof(big) - 2] = '}';
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(req(cl, &r, "POST", "/v1/checks", op_tok, big), 413);
	assert_string_equal(err_code(&r, code, sizeof(code)), "too_large");
	/* The OpenAPI document needs no token. */
	assert_int_equal(req(cl, &r, "GET", "/v1/openapi.json", NULL, NULL),
	    200);
	assert_non_null(strstr(r.out, "\"openapi\""));
}

/* A token added, then the file made world-readable, while running: the
 * new token works at once; a readable file opens nothing (fail closed). */
static void
test_token_file_edited(void **state)
{
	struct cluster *cl = *state;
	char path[256];
	struct req r;

	assert_int_equal(req(cl, &r, "GET", "/v1/hosts", "fy_later", NULL),
	    401);
	add_token(cl, "later", "read", "fy_later");
	assert_int_equal(req(cl, &r, "GET", "/v1/hosts", "fy_later", NULL),
	    200);
	snprintf(path, sizeof(path), "%s/tokens", cl->dir);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(req(cl, &r, "GET", "/v1/hosts", read_tok, NULL), 401);
	assert_int_equal(chmod(path, 0600), 0);
	/* Same size and maybe the same mtime: touch it so it is read. */
	cluster_sh("echo '# fixed' >> %s", path);
	assert_int_equal(req(cl, &r, "GET", "/v1/hosts", read_tok, NULL), 200);
}

static int
seen_on_h1(struct cluster *cl, void *arg)
{
	return cluster_inventory_has(cl, arg, 0);
}

/* One refused request: its status, its error code, and want in its
 * message. */
static void
refused(struct cluster *cl, const char *method, const char *path,
    const char *body, int status, const char *code, const char *want)
{
	char got[64];
	struct req r;

	assert_int_equal(req(cl, &r, method, path, op_tok, body), status);
	assert_string_equal(err_code(&r, got, sizeof(got)), code);
	if (strstr(r.out, want) == NULL)
		fail_msg("%s %s: '%s' has no '%s'", method, path, r.out, want);
}

/*
 * Each refusal's status follows the code its handler gave (msg.h's
 * FERRY_E*), not its words: the handlers return -FERRY_ENOTFOUND and
 * -FERRY_ECONFLICT, and the same call made directly returns them. When
 * the status was read from the message, a VM that was shut off got a 400
 * and any store error that said "no such" a 404.
 */
static void
test_refusal_codes(void **state)
{
	struct cluster *cl = *state;
	Ferry__MaintenanceRequest mr = FERRY__MAINTENANCE_REQUEST__INIT;
	struct hv_domain off;
	char err[256];

	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vm1", NULL,
	    0), 0);
	memset(&off, 0, sizeof(off));
	snprintf(off.name, sizeof(off.name), "vmoff");
	snprintf(off.uuid, sizeof(off.uuid),
	    "0000000a-1111-4000-8000-00000000000a");
	off.state = HV_STATE_SHUTOFF;
	snprintf(off.state_str, sizeof(off.state_str), "shutoff");
	off.mem_mib = 64;
	off.vcpus = 1;
	off.persistent = 1;
	assert_int_equal(fake_hv_add_domain(cluster_host_uri(0), &off), 0);
	hostd_inventory_refresh(&cl->hd[0]);
	assert_true(cluster_run_until(cl, seen_on_h1, (void *)"vm1", 20000));

	refused(cl, "GET", "/v1/vms?host=h9", NULL, 404, "not_found",
	    "unknown host 'h9'");
	refused(cl, "POST", "/v1/jobs/999/abort", "{}", 404, "not_found",
	    "no job 999");
	refused(cl, "POST", "/v1/migrations", "{\"vm\":\"vm1\",\"to\":\"h9\"}",
	    404, "not_found", "unknown host 'h9'");
	refused(cl, "POST", "/v1/migrations", "{\"vm\":\"vmoff\"}", 409,
	    "conflict", "not running");
	refused(cl, "POST", "/v1/migrations", "{\"vm\":\"vm1\",\"to\":\"h1\"}",
	    400, "bad_request", "already runs on h1");
	refused(cl, "POST", "/v1/hosts/h1/maintenance",
	    "{\"action\":\"cancel\"}", 409, "conflict", "is not being drained");

	mr.host = "h9";
	assert_int_equal(drain_enter(&cl->co, &mr, NULL, MSG_CTL_MAINT_ENTER,
	    1, err, sizeof(err)), -FERRY_ENOTFOUND);
	assert_int_equal(drain_cancel(&cl->co, "h1", NULL, MSG_CTL_MAINT_CANCEL,
	    1, err, sizeof(err)), -FERRY_ECONFLICT);
	assert_int_equal(job_abort(&cl->co, 999, "test", err, sizeof(err)),
	    -FERRY_ECONFLICT);
}

static int
seen_on_h2(struct cluster *cl, void *arg)
{
	return cluster_inventory_has(cl, arg, 1);
}

/* Two operators POST the same migration at once: exactly one 202, the
 * other 409, and one job. */
static void
test_same_migration_twice(void **state)
{
	struct cluster *cl = *state;
	struct req a, b;
	struct json_object *o, *v;
	const char *body = "{\"vm\":\"vm1\",\"to\":\"h2\",\"bandwidth_mib\":40}";
	int n202, n409;

	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vm1", NULL,
	    0), 0);
	cluster_script(0, "vm1", 8, 0, NULL);
	hostd_inventory_refresh(&cl->hd[0]);
	assert_true(cluster_run_until(cl, seen_on_h1, (void *)"vm1", 20000));
	req_start(cl, &a, "POST", "/v1/migrations", op_tok, body);
	req_start(cl, &b, "POST", "/v1/migrations", op_tok, body);
	req_wait(cl, &a);
	req_wait(cl, &b);
	n202 = (a.status == 202) + (b.status == 202);
	n409 = (a.status == 409) + (b.status == 409);
	assert_int_equal(n202, 1);
	assert_int_equal(n409, 1);
	assert_non_null(strstr(a.status == 409 ? a.out : b.out, "in flight"));
	assert_non_null(o = json_tokener_parse(a.status == 202 ? a.out : b.out));
	assert_true(json_object_object_get_ex(o, "id", &v));
	cluster_wait_final(cl, json_object_get_int64(v), 20000);
	cluster_expect_job(cl, json_object_get_int64(v), "succeeded", NULL);
	json_object_put(o);
}


/* A 400 whose message has want in it, and no job started for vm. */
static void
refused_400(struct cluster *cl, const char *body, const char *want)
{
	struct req r;

	assert_int_equal(req(cl, &r, "POST", "/v1/migrations", op_tok, body),
	    400);
	if (strstr(r.out, want) == NULL)
		fail_msg("%s: '%s' not in %s", body, want, r.out);
	assert_null(job_find_vm(&cl->co, "vo"));
}

/*
 * POST /v1/migrations takes every option ferryctl migrate has, with its
 * ranges: a bad value is a 400 naming the member and nothing starts; the
 * good ones reach the job and libvirt (bandwidth, downtime, timeout,
 * postcopy mode, auto-converge, streams, TLS, copy-storage); POST
 * /v1/checks takes the shared ones (tls: true checks the destination's
 * TLS set-up, which the fake hosts do not have).
 */
static void
test_migrate_options(void **state)
{
	struct cluster *cl = *state;
	struct fake_hv_migrate_rec rec;
	struct json_object *o, *v;
	struct job *j;
	struct req r;
	int64_t id;

	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vo", NULL,
	    0), 0);
	cluster_script(0, "vo", 6, 0, NULL);
	hostd_inventory_refresh(&cl->hd[0]);
	assert_true(cluster_run_until(cl, seen_on_h1, (void *)"vo", 20000));

	refused_400(cl, "{\"vm\":\"vo\",\"bandwidth_mib\":0}",
	    "'bandwidth_mib' must be an integer from 1 to 1048576, not 0");
	refused_400(cl, "{\"vm\":\"vo\",\"bandwidth_mib\":1048577}",
	    "'bandwidth_mib' must be an integer from 1 to 1048576");
	refused_400(cl, "{\"vm\":\"vo\",\"bandwidth_mib\":\"40\"}",
	    "'bandwidth_mib' must be an integer");
	refused_400(cl, "{\"vm\":\"vo\",\"max_downtime_ms\":60001}",
	    "'max_downtime_ms' must be an integer from 1 to 60000");
	refused_400(cl, "{\"vm\":\"vo\",\"timeout_s\":0}",
	    "'timeout_s' must be an integer from 1 to 86400");
	refused_400(cl, "{\"vm\":\"vo\",\"parallel\":17}",
	    "'parallel' must be an integer from 1 to 16, not 17");
	refused_400(cl, "{\"vm\":\"vo\",\"postcopy\":\"sometimes\"}",
	    "'postcopy' must be true, false, \\\"never\\\", \\\"stalled\\\" or "
	    "\\\"always\\\", not \\\"sometimes\\\"");
	refused_400(cl, "{\"vm\":\"vo\",\"tls\":\"yes\"}",
	    "'tls' must be true or false");
	refused_400(cl, "{\"vm\":\"vo\",\"auto_converge\":1}",
	    "'auto_converge' must be true or false");
	refused_400(cl, "{\"vm\":\"vo\",\"copy_storage\":null,\"paralel\":2}",
	    "unknown field 'paralel'");
	/* The coordinator's own refusal, as ferryctl gets it. */
	refused_400(cl, "{\"vm\":\"vo\",\"to\":\"h2\",\"parallel\":4,"
	    "\"postcopy\":\"always\"}", "cannot run post-copy over several");

	/* tls: true reaches the destination's pre-check. */
	assert_int_equal(req(cl, &r, "POST", "/v1/checks", op_tok,
	    "{\"vm\":\"vo\",\"to\":\"h2\",\"tls\":true,\"parallel\":2}"), 200);
	assert_non_null(strstr(r.out, "no TLS for migrations set up"));
	assert_int_equal(req(cl, &r, "POST", "/v1/checks", op_tok,
	    "{\"vm\":\"vo\",\"parallel\":0}"), 400);

	/* Every option at once: each lands in the job. */
	assert_int_equal(req(cl, &r, "POST", "/v1/migrations", op_tok,
	    "{\"vm\":\"vo\",\"to\":\"h2\",\"bandwidth_mib\":33,"
	    "\"max_downtime_ms\":400,\"timeout_s\":600,\"postcopy\":\"always\","
	    "\"auto_converge\":true,\"parallel\":1,\"tls\":false,"
	    "\"copy_storage\":true}"), 202);
	assert_non_null(o = json_tokener_parse(r.out));
	assert_true(json_object_object_get_ex(o, "id", &v));
	id = json_object_get_int64(v);
	json_object_put(o);
	assert_non_null(j = job_find(&cl->co, id));
	assert_int_equal(j->opts.bandwidth_mibs, 33);
	assert_int_equal(j->opts.max_downtime_ms, 400);
	assert_int_equal(j->opts.timeout_s, 600);
	assert_int_equal(j->opts.postcopy, 2);
	assert_true(j->opts.auto_converge);
	assert_int_equal(j->opts.parallel, 1);
	assert_false(j->opts.tls);
	assert_true(j->opts.copy_storage);
	cluster_wait_final(cl, id, 30000);
	cluster_expect_job(cl, id, "succeeded", NULL);
	assert_int_equal(fake_hv_last_migrate(cluster_host_uri(0), &rec), 0);
	assert_int_equal(rec.bandwidth_mibs, 33);
	assert_true(rec.allow_postcopy);
	assert_true(rec.auto_converge);
	assert_false(rec.tls);

	/* Back, several streams, post-copy off (false: --no-postcopy). */
	cluster_script(1, "vo", 6, 0, NULL);
	hostd_inventory_refresh(&cl->hd[1]);
	assert_true(cluster_run_until(cl, seen_on_h2, (void *)"vo", 20000));
	assert_int_equal(req(cl, &r, "POST", "/v1/migrations", op_tok,
	    "{\"vm\":\"vo\",\"to\":\"h1\",\"parallel\":3,\"postcopy\":false}"),
	    202);
	assert_non_null(o = json_tokener_parse(r.out));
	assert_true(json_object_object_get_ex(o, "id", &v));
	id = json_object_get_int64(v);
	json_object_put(o);
	assert_non_null(j = job_find(&cl->co, id));
	assert_int_equal(j->opts.postcopy, -1);
	cluster_wait_final(cl, id, 30000);
	cluster_expect_job(cl, id, "succeeded", NULL);
	assert_int_equal(fake_hv_last_migrate(cluster_host_uri(1), &rec), 0);
	assert_int_equal(rec.parallel, 3);
	assert_false(rec.allow_postcopy);
}

/* The audit row of the last command named what (caller frees). */
static struct store_audit *
last_audit(struct cluster *cl, const char *what)
{
	struct store_audit *a = NULL, *out = NULL;
	size_t n = 0, i;

	assert_int_equal(store_audit_list(cl->co.store, 0, 1000, &a, &n), 0);
	for (i = n; i-- > 0;)
		if (strcmp(a[i].what, what) == 0) {
			assert_non_null(out = calloc(1, sizeof(*out)));
			*out = a[i];
			out->args = out->message = NULL;
			if (a[i].message != NULL)
				out->message = strdup(a[i].message);
			break;
		}
	store_audit_list_free(a, n);
	return out;
}

static int
audit_final(struct cluster *cl, void *arg)
{
	struct store_audit *a = last_audit(cl, arg);
	int rc = a != NULL && strcmp(a->outcome, "pending") != 0;

	if (a != NULL)
		free(a->message);
	free(a);
	return rc;
}

/*
 * A rebalance apply whose caller is gone before it is answered (the
 * source's pre-check is slow, so the API gives up on it with 504 while
 * the rebalance goes on): its audit row still ends with the rebalance's
 * outcome, not pending.
 */
static void
test_audit_client_gone(void **state)
{
	struct cluster *cl = *state;
	struct store_audit *a;
	struct req r;

	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vg", NULL,
	    0), 0);
	hostd_inventory_refresh(&cl->hd[0]);
	assert_true(cluster_run_until(cl, seen_on_h1, (void *)"vg", 20000));
	fake_hv_delay(cluster_host_uri(0), FAKE_OP_DOMAIN_INFO, 2500);
	assert_int_equal(req(cl, &r, "POST", "/v1/rebalance/apply", op_tok,
	    "{}"), 504);
	assert_non_null(a = last_audit(cl, "rebalance-apply"));
	assert_string_equal(a->outcome, "pending");	/* not answered yet */
	free(a->message);
	free(a);
	assert_true(cluster_run_until(cl, audit_final,
	    (void *)"rebalance-apply", 10000));
	fake_hv_delay(cluster_host_uri(0), FAKE_OP_DOMAIN_INFO, 0);
	assert_non_null(a = last_audit(cl, "rebalance-apply"));
	/* What the rebalance did: planned (nothing to move in a cluster
	 * this small) and said so. */
	if (strcmp(a->outcome, "accepted") != 0)
		fail_msg("outcome %s (%s)", a->outcome, a->message ?
		    a->message : "");
	assert_true(a->ended_ms > 0);
	assert_non_null(a->message);
	assert_non_null(strstr(a->message, "move"));
	free(a->message);
	free(a);
}

/* The loop does not answer in time (it is not run): 504, and the late
 * request is dropped when the loop comes back, nothing done. */
static void
test_loop_does_not_answer(void **state)
{
	struct cluster *cl = *state;
	struct http_stats st;
	struct req r;

	req_start(cl, &r, "GET", "/v1/hosts", read_tok, NULL);
	while (!req_done(cl, &r))
		usleep(10000);		/* the loop is not run meanwhile */
	pthread_join(r.th, NULL);
	assert_int_equal(r.status, 504);
	cluster_pump(cl, 300);
	http_get_stats(&cl->co, &st);
	assert_true(st.timeouts >= 1);
	assert_int_equal(req(cl, &r, "GET", "/v1/hosts", read_tok, NULL), 200);
}

struct burst {
	struct cluster	*cl;
	int		 n200, n429;
	volatile int	 done;
};

/* One curl, twelve requests on one kept-alive connection. */
static void *
burst_main(void *arg)
{
	struct burst *b = arg;
	char cmd[4096], line[64];
	size_t off;
	FILE *p;
	int i, code;

	off = (size_t)snprintf(cmd, sizeof(cmd), "curl -s --max-time 20 "
	    "--cacert %s/cert.pem -H 'Authorization: Bearer %s' -w "
	    "'%%{http_code}\\n'", b->cl->dir, read_tok);
	for (i = 0; i < 12; i++)
		off += (size_t)snprintf(cmd + off, sizeof(cmd) - off,
		    " -o /dev/null 'https://127.0.0.1:%d/v1/jobs'", http_port);
	if ((p = popen(cmd, "r")) != NULL) {
		while (fgets(line, sizeof(line), p) != NULL) {
			code = atoi(line);
			b->n200 += code == 200;
			b->n429 += code == 429;
		}
		pclose(p);
	}
	__atomic_store_n(&b->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static int
burst_done(struct cluster *cl, void *arg)
{
	(void)cl;
	return __atomic_load_n(&((struct burst *)arg)->done, __ATOMIC_SEQ_CST);
}

/* Over the request rate (3 a second here): 429, and the API answers
 * again the next second. */
static void
test_rate(void **state)
{
	struct cluster *cl = *state;
	struct burst b;
	struct req r;
	pthread_t th;

	memset(&b, 0, sizeof(b));
	b.cl = cl;
	assert_int_equal(pthread_create(&th, NULL, burst_main, &b), 0);
	assert_true(cluster_run_until(cl, burst_done, &b, 30000));
	pthread_join(th, NULL);
	assert_int_equal(b.n200 + b.n429, 12);
	assert_true(b.n429 >= 12 - 2 * 3);	/* at most two seconds' worth */
	cluster_pump(cl, 1100);
	assert_int_equal(req(cl, &r, "GET", "/v1/jobs", read_tok, NULL), 200);
}

static int
setup_rate(void **state)
{
	rate = 3;
	return setup(state);
}

/* After setup_rate and setup_short: the defaults again. */
static int
setup_normal(void **state)
{
	answer_timeout_s = 30;
	rate = 1000;
	return setup(state);
}

static int
setup_short(void **state)
{
	answer_timeout_s = 1;
	rate = 1000;
	return setup(state);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_hosts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_events_quiet_stream, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_file_edited, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_refusal_codes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_same_migration_twice, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_loop_does_not_answer,
		    setup_short, teardown),
		cmocka_unit_test_setup_teardown(test_rate, setup_rate, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_options,
		    setup_normal, teardown),
		cmocka_unit_test_setup_teardown(test_audit_client_gone,
		    setup_short, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
