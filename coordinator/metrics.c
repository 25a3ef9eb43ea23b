/* metrics.c: what the coordinator knows, in the Prometheus text
 * exposition format (GET /metrics, ferryctl metrics). Names follow
 * Prometheus' conventions: the ferry_ prefix, base units (_seconds,
 * _bytes), _total for counters, histograms as _bucket/_sum/_count. The
 * running migrations' gauges are KubeVirt's kubevirt_vmi_migration_*
 * under Ferry's prefix. Histograms and counters count the jobs that
 * ended since the coordinator started (a restart resets them, as
 * Prometheus expects of counters), from each job's final figures: the
 * destination's completed-job statistics, never a progress sample. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator.h"
#include "log.h"

#define METRICS_LAG_MS	500	/* the loop-lag timer's period */
#define METRICS_MAX_RUNS 64

struct metrics_hist {
	const double	*le;		/* upper bounds, ascending */
	size_t		 n;
	uint64_t	 counts[16];	/* per bucket, not cumulative */
	uint64_t	 count;
	double		 sum;
};

static const double metrics_le_downtime[] = { 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
static const double metrics_le_duration[] = { 1, 2.5, 5, 10, 30, 60, 120,
	300, 600, 1800, 3600 };
static const double metrics_le_lag[] = { 0.001, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 5 };
static const double metrics_le_commit[] = { 0.0005, 0.001, 0.0025, 0.005,
	0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5 };

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

struct metrics {
	uv_timer_t		 lag_timer;
	int			 timer_open;
	uint64_t		 lag_due_ns;	/* uv_hrtime the timer is due */
	double			 lag_last;
	uint64_t		 start_ms;	/* wall */
	uint64_t		 ended[JOB_NSTATES];	/* by final state */
	uint64_t		 downtime_unknown;
	uint64_t		 bytes;
	struct metrics_hist	 downtime, duration, lag, commit;
};

static void
metrics_hist_init(struct metrics_hist *h, const double *le, size_t n)
{
	memset(h, 0, sizeof(*h));
	h->le = le;
	h->n = n;
}

static void
metrics_hist_observe(struct metrics_hist *h, double v)
{
	size_t i;

	for (i = 0; i < h->n && v > h->le[i]; i++)
		;
	if (i < h->n)
		h->counts[i]++;
	h->count++;
	h->sum += v;
}

static void
metrics_commit_cb(void *arg, double seconds)
{
	struct metrics *m = arg;

	metrics_hist_observe(&m->commit, seconds);
}

/* How late the loop runs this timer: the time any callback waits. */
static void
metrics_lag_cb(uv_timer_t *t)
{
	struct metrics *m = t->data;
	uint64_t now = uv_hrtime();
	double lag = now > m->lag_due_ns ? (now - m->lag_due_ns) / 1e9 : 0;

	m->lag_last = lag;
	metrics_hist_observe(&m->lag, lag);
	m->lag_due_ns = now + (uint64_t)METRICS_LAG_MS * 1000000;
}

int
metrics_start(struct coord *co)
{
	struct metrics *m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return -1;
	m->start_ms = clock_wall_ms();
	metrics_hist_init(&m->downtime, metrics_le_downtime,
	    NELEM(metrics_le_downtime));
	metrics_hist_init(&m->duration, metrics_le_duration,
	    NELEM(metrics_le_duration));
	metrics_hist_init(&m->lag, metrics_le_lag, NELEM(metrics_le_lag));
	metrics_hist_init(&m->commit, metrics_le_commit,
	    NELEM(metrics_le_commit));
	co->metrics = m;
	if (co->store != NULL)
		store_set_commit_hook(co->store, metrics_commit_cb, m);
	if (co->loop != NULL) {
		uv_timer_init(co->loop, &m->lag_timer);
		m->lag_timer.data = m;
		m->timer_open = 1;
		m->lag_due_ns = uv_hrtime() + (uint64_t)METRICS_LAG_MS * 1000000;
		uv_timer_start(&m->lag_timer, metrics_lag_cb, METRICS_LAG_MS,
		    METRICS_LAG_MS);
	}
	return 0;
}

void
metrics_stop(struct coord *co)
{
	struct metrics *m = co->metrics;

	if (m != NULL && m->timer_open) {
		m->timer_open = 0;
		uv_close((uv_handle_t *)&m->lag_timer, NULL);
	}
}

/* After the loop has closed the timer. */
void
metrics_free(struct coord *co)
{
	if (co->metrics == NULL)
		return;
	if (co->store != NULL)
		store_set_commit_hook(co->store, NULL, NULL);
	free(co->metrics);
	co->metrics = NULL;
}

/* A job's end, with its final figures (job_done). Checks count nothing. */
void
metrics_job_done(struct coord *co, const struct job *j)
{
	struct metrics *m = co->metrics;

	if (m == NULL || j->id == 0 || strcmp(j->vm, "") == 0 ||
	    !job_state_final(j->state))
		return;
	m->ended[j->state]++;
	if (j->state != JOB_SUCCEEDED)
		return;
	if (j->has_downtime)
		metrics_hist_observe(&m->downtime, j->downtime_ms / 1000.0);
	else
		m->downtime_unknown++;
	if (j->has_migration_ms)
		metrics_hist_observe(&m->duration, j->migration_ms / 1000.0);
	if (j->has_data)
		m->bytes += j->data_bytes;
}

/* ---- the text format ---------------------------------------------------- */

static void
metrics_head(FILE *fp, const char *name, const char *type, const char *help)
{
	fprintf(fp, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value: \, " and newline escaped as the format wants; other
 * control characters (a host's name may hold anything) as the text
 * \xHH, as Ferry's logs show them. */
static void
metrics_label(FILE *fp, const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p; p++) {
		if (*p == '\\')
			fputs("\\\\", fp);
		else if (*p == '"')
			fputs("\\\"", fp);
		else if (*p == '\n')
			fputs("\\n", fp);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(fp, "\\\\x%02x", *p);
		else
			fputc(*p, fp);
	}
}

static void
metrics_value(FILE *fp, double v)
{
	if (isnan(v))
		fputs(" NaN\n", fp);
	else if (isinf(v))
		fputs(v > 0 ? " +Inf\n" : " -Inf\n", fp);
	else if (v == floor(v) && fabs(v) < 1e15)
		fprintf(fp, " %.0f\n", v);
	else
		fprintf(fp, " %.9g\n", v);
}

/* name{k1="v1",k2="v2"} value; labels is "k1", v1, "k2", v2, ..., NULL. */
static void
metrics_sample(FILE *fp, const char *name, double v, ...)
{
	const char *k, *val;
	va_list ap;
	int first = 1;

	fputs(name, fp);
	va_start(ap, v);
	while ((k = va_arg(ap, const char *)) != NULL) {
		val = va_arg(ap, const char *);
		fprintf(fp, "%s%s=\"", first ? "{" : ",", k);
		metrics_label(fp, val != NULL ? val : "");
		fputc('"', fp);
		first = 0;
	}
	va_end(ap);
	if (!first)
		fputc('}', fp);
	metrics_value(fp, v);
}

static void
metrics_hist(FILE *fp, const char *name, const char *help,
    const struct metrics_hist *h)
{
	char bname[128], le[32];
	uint64_t cum = 0;
	size_t i;

	metrics_head(fp, name, "histogram", help);
	snprintf(bname, sizeof(bname), "%s_bucket", name);
	for (i = 0; i < h->n; i++) {
		cum += h->counts[i];
		snprintf(le, sizeof(le), "%g", h->le[i]);
		metrics_sample(fp, bname, (double)cum, "le", le, NULL);
	}
	metrics_sample(fp, bname, (double)h->count, "le", "+Inf", NULL);
	fprintf(fp, "%s_sum", name);
	metrics_value(fp, h->sum);
	fprintf(fp, "%s_count", name);
	metrics_value(fp, (double)h->count);
}

static void
metrics_hosts(FILE *fp, struct coord *co)
{
	static const char *const admin[] = { "active", "draining",
	    "maintenance" };
	size_t i, k, up = 0;
	uint32_t vcpus;

	for (i = 0; i < co->nhosts; i++)
		up += co->hosts[i].up != 0;
	metrics_head(fp, "ferry_hosts", "gauge", "Hosts by connection state.");
	metrics_sample(fp, "ferry_hosts", (double)up, "state", "up", NULL);
	metrics_sample(fp, "ferry_hosts", (double)(co->nhosts - up), "state",
	    "down", NULL);
	metrics_head(fp, "ferry_host_up", "gauge",
	    "1 when the host's hostd is connected and has reported.");
	for (i = 0; i < co->nhosts; i++)
		metrics_sample(fp, "ferry_host_up", co->hosts[i].up ? 1 : 0,
		    "host", co->hosts[i].conf.name, NULL);
	metrics_head(fp, "ferry_host_admin_state", "gauge",
	    "1 for the host's administrative state, 0 for the others.");
	for (i = 0; i < co->nhosts; i++) {
		const char *st = co->hosts[i].admin_state[0] ?
		    co->hosts[i].admin_state : "active";

		for (k = 0; k < NELEM(admin); k++)
			metrics_sample(fp, "ferry_host_admin_state",
			    strcmp(st, admin[k]) == 0 ? 1 : 0, "host",
			    co->hosts[i].conf.name, "state", admin[k], NULL);
	}
	/* Capacity and use: only of hosts whose report is in memory. */
	metrics_head(fp, "ferry_host_memory_bytes", "gauge",
	    "The host's memory, as its hostd reports it.");
	for (i = 0; i < co->nhosts; i++)
		if (co->hosts[i].inv != NULL)
			metrics_sample(fp, "ferry_host_memory_bytes",
			    co->hosts[i].inv->host->mem_mib * 1048576.0,
			    "host", co->hosts[i].conf.name, NULL);
	metrics_head(fp, "ferry_host_memory_reserved_bytes", "gauge",
	    "Memory the host keeps for itself, never placed on.");
	for (i = 0; i < co->nhosts; i++)
		if (co->hosts[i].inv != NULL)
			metrics_sample(fp, "ferry_host_memory_reserved_bytes",
			    co->hosts[i].inv->host->reserve_mib * 1048576.0,
			    "host", co->hosts[i].conf.name, NULL);
	metrics_head(fp, "ferry_host_memory_used_bytes", "gauge",
	    "Memory of the host's guests, and of migrations on their way.");
	for (i = 0; i < co->nhosts; i++)
		if (co->hosts[i].inv != NULL)
			metrics_sample(fp, "ferry_host_memory_used_bytes",
			    cluster_host_mem_used(&co->hosts[i]) * 1048576.0,
			    "host", co->hosts[i].conf.name, NULL);
	metrics_head(fp, "ferry_host_cpus", "gauge", "The host's CPUs.");
	for (i = 0; i < co->nhosts; i++)
		if (co->hosts[i].inv != NULL)
			metrics_sample(fp, "ferry_host_cpus",
			    co->hosts[i].inv->host->cpus, "host",
			    co->hosts[i].conf.name, NULL);
	metrics_head(fp, "ferry_host_vcpus_used", "gauge",
	    "vCPUs of the guests the host runs.");
	for (i = 0; i < co->nhosts; i++) {
		const Ferry__Inventory *inv = co->hosts[i].inv;

		if (inv == NULL)
			continue;
		for (k = 0, vcpus = 0; k < inv->n_domains; k++)
			vcpus += inv->domains[k]->vcpus;
		metrics_sample(fp, "ferry_host_vcpus_used", vcpus, "host",
		    co->hosts[i].conf.name, NULL);
	}
	metrics_head(fp, "ferry_host_vms", "gauge",
	    "Domains in the host's inventory.");
	for (i = 0; i < co->nhosts; i++)
		if (co->hosts[i].inv != NULL)
			metrics_sample(fp, "ferry_host_vms",
			    co->hosts[i].inv->n_domains, "host",
			    co->hosts[i].conf.name, NULL);
}

static void
metrics_migrations(FILE *fp, struct coord *co, struct metrics *m)
{
	static const enum job_state running[] = { JOB_PENDING, JOB_CHECKING,
	    JOB_MIGRATING, JOB_VERIFYING };
	static const enum job_state final[] = { JOB_SUCCEEDED, JOB_REFUSED,
	    JOB_ROLLED_BACK, JOB_FAILED };
	static const struct {
		const char *name, *help;
	} gauges[] = {
		{ "ferry_migration_data_total_bytes",
		  "The running migration's memory (or data) total." },
		{ "ferry_migration_data_processed_bytes",
		  "Sent so far; passes resend dirty pages, so it may pass the "
		  "total." },
		{ "ferry_migration_data_remaining_bytes",
		  "Still to send, as of the last sample." },
		{ "ferry_migration_dirty_memory_rate_bytes_per_second",
		  "How fast the guest dirties its memory." },
		{ "ferry_migration_memory_transfer_rate_bytes_per_second",
		  "How fast memory is sent." },
		{ "ferry_migration_iteration",
		  "The pre-copy pass." },
		{ "ferry_migration_start_time_seconds",
		  "When the job started (Unix time)." },
	};
	struct job *j;
	size_t i, k, n;
	char id[24];

	metrics_head(fp, "ferry_migrations_total", "counter",
	    "Migrations that ended since the coordinator started, by result.");
	for (i = 0; i < NELEM(final); i++)
		metrics_sample(fp, "ferry_migrations_total",
		    (double)m->ended[final[i]], "result",
		    job_state_name(final[i]), NULL);
	metrics_hist(fp, "ferry_migration_downtime_seconds",
	    "Guest downtime of succeeded migrations (destination's completed-"
	    "job statistics).", &m->downtime);
	metrics_head(fp, "ferry_migration_downtime_unknown_total", "counter",
	    "Succeeded migrations whose downtime libvirt did not report.");
	metrics_sample(fp, "ferry_migration_downtime_unknown_total",
	    (double)m->downtime_unknown, NULL);
	metrics_hist(fp, "ferry_migration_duration_seconds",
	    "libvirt's time of succeeded migrations.", &m->duration);
	metrics_head(fp, "ferry_migration_transferred_bytes_total", "counter",
	    "Data sent by succeeded migrations.");
	metrics_sample(fp, "ferry_migration_transferred_bytes_total",
	    (double)m->bytes, NULL);

	metrics_head(fp, "ferry_migrations_running", "gauge",
	    "Migration jobs not yet final.");
	for (n = 0, j = TAILQ_FIRST(&co->jobs); j; j = TAILQ_NEXT(j, entry))
		n += j->id != 0 && !job_state_final(j->state);
	metrics_sample(fp, "ferry_migrations_running", (double)n, NULL);
	metrics_head(fp, "ferry_migrations_in_state", "gauge",
	    "Migration jobs not yet final, by state.");
	for (i = 0; i < NELEM(running); i++) {
		n = 0;
		TAILQ_FOREACH(j, &co->jobs, entry)
			n += j->id != 0 && j->state == running[i];
		metrics_sample(fp, "ferry_migrations_in_state", (double)n,
		    "state", job_state_name(running[i]), NULL);
	}
	for (k = 0; k < NELEM(gauges); k++) {
		metrics_head(fp, gauges[k].name, "gauge", gauges[k].help);
		TAILQ_FOREACH(j, &co->jobs, entry) {
			double v;

			if (j->id == 0 || j->state != JOB_MIGRATING ||
			    j->nsamples == 0)
				continue;
			switch (k) {
			case 0: v = (double)j->last_total; break;
			case 1: v = (double)j->last_processed; break;
			case 2: v = (double)j->last_remaining; break;
			case 3: v = (double)j->last_dirty_bps; break;
			case 4: v = (double)j->last_bps; break;
			case 5: v = (double)j->last_iteration; break;
			default: v = j->started_ms / 1000.0; break;
			}
			snprintf(id, sizeof(id), "%lld", (long long)j->id);
			metrics_sample(fp, gauges[k].name, v, "job", id, "vm",
			    j->vm, "source", j->source, "destination",
			    j->destination, NULL);
		}
	}
}

static void
metrics_drains(FILE *fp, struct coord *co)
{
	static const char *const states[] = { "planning", "draining",
	    "cancelling" };
	struct drain_stat st[METRICS_MAX_RUNS];
	size_t n, i, k, c;
	char id[24];

	n = drain_stats(co, st, METRICS_MAX_RUNS);
	metrics_head(fp, "ferry_drains", "gauge",
	    "Drains, restores and rebalances in flight, by kind and state.");
	for (k = 0; k < NELEM(states); k++) {
		for (c = 0, i = 0; i < n; i++)
			c += strcmp(st[i].kind, "drain") == 0 &&
			    strcmp(st[i].state, states[k]) == 0;
		metrics_sample(fp, "ferry_drains", (double)c, "kind", "drain",
		    "state", states[k], NULL);
	}
	for (i = 0; i < n; i++) {
		if (strcmp(st[i].kind, "drain") == 0)
			continue;
		metrics_sample(fp, "ferry_drains", 1, "kind", st[i].kind,
		    "state", st[i].state, NULL);
	}
	metrics_head(fp, "ferry_drain_vms", "gauge",
	    "VMs of each run in flight, by their state in it.");
	for (i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "%lld", (long long)st[i].id);
		for (k = 0; k < DRAIN_STAT_ITEM_STATES; k++)
			metrics_sample(fp, "ferry_drain_vms", st[i].items[k],
			    "drain", id, "kind", st[i].kind, "host",
			    st[i].host, "state", drain_item_state_name(k), NULL);
	}
	metrics_head(fp, "ferry_drain_vms_remaining", "gauge",
	    "VMs a run in flight still has to move (planned or migrating).");
	for (i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "%lld", (long long)st[i].id);
		metrics_sample(fp, "ferry_drain_vms_remaining",
		    st[i].items[0] + st[i].items[2], "drain", id, "kind",
		    st[i].kind, "host", st[i].host, NULL);
	}
}

/*
 * The whole exposition, malloc'd (NUL-terminated; *lenp its length if not
 * NULL); NULL without memory. Reads only the loop's own state: call it on
 * the loop thread.
 */
char *
metrics_render(struct coord *co, size_t *lenp)
{
	struct metrics *m = co->metrics;
	struct metrics zero;
	char *buf = NULL;
	size_t len = 0, i, sessions = 0;
	double score;
	FILE *fp;

	ha_standby_refresh(co, clock_mono_ms());	/* a standby: the leader's word */
	if (m == NULL) {
		/* Not started (some tests): the figures of nothing. */
		memset(&zero, 0, sizeof(zero));
		metrics_hist_init(&zero.downtime, metrics_le_downtime,
		    NELEM(metrics_le_downtime));
		metrics_hist_init(&zero.duration, metrics_le_duration,
		    NELEM(metrics_le_duration));
		metrics_hist_init(&zero.lag, metrics_le_lag,
		    NELEM(metrics_le_lag));
		metrics_hist_init(&zero.commit, metrics_le_commit,
		    NELEM(metrics_le_commit));
		m = &zero;
	}
	if ((fp = open_memstream(&buf, &len)) == NULL)
		return NULL;
	metrics_head(fp, "ferry_coordinator_start_time_seconds", "gauge",
	    "When the coordinator started (Unix time).");
	metrics_sample(fp, "ferry_coordinator_start_time_seconds",
	    m->start_ms / 1000.0, NULL);
	metrics_hosts(fp, co);
	metrics_migrations(fp, co, m);
	metrics_drains(fp, co);
	metrics_head(fp, "ferry_rebalance_score", "gauge",
	    "The balance policy's score of the cluster (lower is more even).");
	if (rebalance_score(co, &score) == 0)
		metrics_sample(fp, "ferry_rebalance_score", score, NULL);
	metrics_head(fp, "ferry_loop_lag_last_seconds", "gauge",
	    "How late the coordinator's loop ran its last 500 ms timer.");
	metrics_sample(fp, "ferry_loop_lag_last_seconds", m->lag_last, NULL);
	metrics_hist(fp, "ferry_loop_lag_seconds",
	    "How late the coordinator's loop runs a 500 ms timer.", &m->lag);
	metrics_hist(fp, "ferry_store_commit_seconds",
	    "Store transactions' COMMIT (the fsync), on the loop.", &m->commit);
	for (i = 0; i < co->nhosts; i++)
		sessions += co->hosts[i].conn != NULL && co->hosts[i].up;
	metrics_head(fp, "ferry_hostd_sessions", "gauge",
	    "hostd sessions open and said hello.");
	metrics_sample(fp, "ferry_hostd_sessions", (double)sessions, NULL);
	metrics_head(fp, "ferry_control_clients", "gauge",
	    "ferryctl clients on the control socket.");
	metrics_sample(fp, "ferry_control_clients",
	    (double)control_nclients(co), NULL);
	if (fclose(fp) != 0) {
		free(buf);
		return NULL;
	}
	if (lenp != NULL)
		*lenp = len;
	return buf;
}
