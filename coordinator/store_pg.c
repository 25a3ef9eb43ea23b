/* store_pg.c: the statement layer on PostgreSQL through libpq; see
 * store_db.h.
 *
 * One connection, synchronous_commit = on: a COMMIT returns once the
 * server has flushed it (to its standbys too, when the server is set up
 * so), exactly as SQLite's synchronous=FULL. Statements are sent with
 * PQsendQueryParams (text values, binary blobs; the parameter types come
 * from what was bound) and waited for with poll(2) up to a deadline, so
 * no round trip holds the coordinator's loop longer than PG_TIMEOUT_MS
 * whatever the network does; the server's statement_timeout and
 * lock_timeout end its side first. A connection that is lost (or times
 * out) is dropped; the next statement outside a transaction connects
 * again, at most once per backoff period (PG_BACKOFF_*), so a database
 * that is gone costs the loop one connect_timeout per period, not one per
 * call. A transaction whose connection was lost fails to its end: nothing
 * of it is taken, and the store's caller retries (the journal rule).
 * Migrations hold a transaction-scoped advisory lock, so two coordinators
 * starting on one database do not both migrate it.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "clock.h"
#include "log.h"
#include "store_db.h"

#define PG_TIMEOUT_MS		6000	/* one round trip, client side */
#define PG_MIGRATE_TIMEOUT_MS	300000	/* one migration step */
#define PG_BACKOFF_MIN_MS	500
#define PG_BACKOFF_MAX_MS	8000
#define PG_MAXPARAMS		64
#define PG_SCHEMA_LOCK		"7020160001"	/* advisory lock key */

/* Server-side limits, set on every connection (see README, Store). */
#define PG_SESSION \
	"SET synchronous_commit = on;" \
	"SET statement_timeout = 5000;" \
	"SET lock_timeout = 4000;" \
	"SET idle_in_transaction_session_timeout = 30000;" \
	"SET client_min_messages = warning"

/* ferry_fence()'s refusal (store.c, schema 5) */
#define PG_FENCED	"FE001"

#define OID_BYTEA	17
#define OID_INT8	20
#define OID_TEXT	25

struct db_pg {
	struct db	 base;
	PGconn		*conn;
	char		*conninfo;
	char		 err[512];
	char		 connerr[400];	/* why the last connection attempt failed */
	int64_t		 changes;
	int		 in_tx;		/* BEGIN sent, no COMMIT/ROLLBACK yet */
	int		 tx_lost;	/* ... and its connection is gone */
	int		 migrating;
	uint64_t	 retry_ms;	/* no connection attempt before */
	uint64_t	 backoff_ms;
	uint64_t	 fence_epoch;	/* SET ferry.epoch on every connection */
	int		 fenced;	/* a write was refused for it (FE001) */
};

struct db_pg_stmt {
	struct db_stmt	 base;
	char		*sql;		/* $N placeholders */
	int		 nparams;
	Oid		 types[PG_MAXPARAMS];
	const char	*values[PG_MAXPARAMS];
	int		 lengths[PG_MAXPARAMS];
	int		 formats[PG_MAXPARAMS];
	char		 num[PG_MAXPARAMS][24];
	PGresult	*res;
	int		 row;
	unsigned char	*blob;		/* the last col_blob's, PQfreemem */
};

#define PDB(d)	((struct db_pg *)(void *)(d))
#define PST(s)	((struct db_pg_stmt *)(void *)(s))

static void
pg_seterr(struct db_pg *d, const char *msg)
{
	size_t l;

	if (msg == NULL || *msg == '\0')
		msg = "PostgreSQL: unknown error";
	/* libpq's own messages: "FATAL:  why", then hints and the query's
	 * text on further lines; the first line says it. */
	if (strncmp(msg, "FATAL:  ", 8) == 0 || strncmp(msg, "ERROR:  ", 8) == 0)
		msg += 8;
	snprintf(d->err, sizeof(d->err), "%.*s", (int)strcspn(msg, "\n"),
	    msg);
	while ((l = strlen(d->err)) > 0 && d->err[l - 1] == ' ')
		d->err[l - 1] = '\0';
	for (l = 0; d->err[l] != '\0'; l++)
		if (d->err[l] == '\t')
			d->err[l] = ' ';
}

/* The server's message without its "ERROR:  " and LINE/caret
 * decoration, with its detail when there is one. */
static void
pg_result_err(struct db_pg *d, const PGresult *r)
{
	const char *m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	const char *det = PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL);
	const char *code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	char msg[512];

	if (code != NULL && strcmp(code, PG_FENCED) == 0)
		d->fenced = 1;

	if (m == NULL) {
		pg_seterr(d, PQresultErrorMessage(r));
		return;
	}
	snprintf(msg, sizeof(msg), "%s%s%s%s", m, det ? " (" : "",
	    det ? det : "", det ? ")" : "");
	pg_seterr(d, msg);
}

/* Notices (CREATE ... IF NOT EXISTS and the like) are not errors. */
static void
pg_notice(void *arg, const char *msg)
{
	(void)arg;
	log_debug("store: postgresql: %s", msg);
}

static void
pg_drop(struct db_pg *d)
{
	if (d->conn != NULL)
		PQfinish(d->conn);
	d->conn = NULL;
	if (d->in_tx)
		d->tx_lost = 1;
}

static int pg_wait(struct db_pg *, uint64_t);

/* Connects, sets the session's limits. Blocks up to connect_timeout. */
static int
pg_connect(struct db_pg *d)
{
	/* Ours first: what the operator's conninfo says wins. */
	static const char *const keys[] = {
		"connect_timeout", "tcp_user_timeout", "keepalives",
		"keepalives_idle", "keepalives_interval", "keepalives_count",
		"application_name", "dbname", NULL
	};
	const char *vals[] = {
		"5", "5000", "1", "5", "2", "2", "ferry-coordinator",
		d->conninfo, NULL
	};
	char session[sizeof(PG_SESSION) + 64];
	PGresult *r;
	int ok;

	/* A leader's epoch holds on every connection it makes again. */
	snprintf(session, sizeof(session), "%s;SET ferry.epoch = '%" PRIu64
	    "'", PG_SESSION, d->fence_epoch);
	d->conn = PQconnectdbParams(keys, vals, 1);
	if (d->conn == NULL) {
		pg_seterr(d, "cannot connect to PostgreSQL: out of memory");
		return -1;
	}
	if (PQstatus(d->conn) != CONNECTION_OK) {
		char msg[512];

		snprintf(msg, sizeof(msg), "cannot connect to PostgreSQL: %s",
		    PQerrorMessage(d->conn));
		pg_seterr(d, msg);
		PQfinish(d->conn);
		d->conn = NULL;
		return -1;
	}
	PQsetNoticeProcessor(d->conn, pg_notice, NULL);
	if (PQsetnonblocking(d->conn, 1) != 0 ||
	    !PQsendQuery(d->conn, session)) {
		pg_seterr(d, PQerrorMessage(d->conn));
		pg_drop(d);
		return -1;
	}
	ok = pg_wait(d, clock_mono_ms() + PG_TIMEOUT_MS) == 0;
	while (ok && d->conn != NULL && (r = PQgetResult(d->conn)) != NULL) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			pg_result_err(d, r);
			ok = 0;
		}
		PQclear(r);
		if (ok && pg_wait(d, clock_mono_ms() + PG_TIMEOUT_MS) == -1)
			ok = 0;
	}
	if (!ok) {
		pg_drop(d);
		return -1;
	}
	return 0;
}

/* A usable connection: connects again outside a transaction, at most
 * once per backoff period. */
static int
pg_ready(struct db_pg *d)
{
	uint64_t now;
	char last[sizeof(d->err)];

	if (d->conn != NULL && PQstatus(d->conn) == CONNECTION_OK)
		return 0;
	if (d->conn != NULL)
		pg_drop(d);
	if (d->in_tx) {
		d->tx_lost = 1;
		pg_seterr(d, "connection to PostgreSQL lost in a transaction");
		return -1;
	}
	now = clock_mono_ms();
	if (now < d->retry_ms) {
		snprintf(d->err, sizeof(d->err), "PostgreSQL unreachable "
		    "(next attempt in %" PRIu64 " ms): %s", d->retry_ms - now,
		    d->connerr);
		return -1;
	}
	if (pg_connect(d) == -1) {
		d->backoff_ms = d->backoff_ms ? d->backoff_ms * 2 :
		    PG_BACKOFF_MIN_MS;
		if (d->backoff_ms > PG_BACKOFF_MAX_MS)
			d->backoff_ms = PG_BACKOFF_MAX_MS;
		d->retry_ms = clock_mono_ms() + d->backoff_ms;
		snprintf(last, sizeof(last), "%s", d->err);
		snprintf(d->connerr, sizeof(d->connerr), "%s", d->err);
		log_warnx("store: %s (next attempt in %" PRIu64 " ms)", last,
		    d->backoff_ms);
		return -1;
	}
	if (d->backoff_ms != 0)
		log_info("store: connected to PostgreSQL again");
	d->backoff_ms = 0;
	d->retry_ms = 0;
	return 0;
}

/*
 * Flushes what was sent and waits until a result can be read without
 * blocking, up to deadline (monotonic ms). On a timeout or a lost
 * connection the connection is dropped.
 */
static int
pg_wait(struct db_pg *d, uint64_t deadline)
{
	struct pollfd pfd;
	uint64_t now;
	int flush = 1, n;

	for (;;) {
		if (flush && (flush = PQflush(d->conn)) == -1)
			goto lost;
		if (!flush && !PQisBusy(d->conn))
			return 0;
		now = clock_mono_ms();
		if (now >= deadline) {
			pg_seterr(d, "no answer from PostgreSQL in time");
			pg_drop(d);
			return -1;
		}
		pfd.fd = PQsocket(d->conn);
		pfd.events = POLLIN | (flush ? POLLOUT : 0);
		pfd.revents = 0;
		n = poll(&pfd, 1, (int)(deadline - now));
		if (n == -1 && errno != EINTR) {
			pg_seterr(d, strerror(errno));
			pg_drop(d);
			return -1;
		}
		if (n > 0 && (pfd.revents & (POLLIN | POLLERR | POLLHUP)) &&
		    !PQconsumeInput(d->conn))
			goto lost;
	}
 lost:
	pg_seterr(d, PQerrorMessage(d->conn));
	pg_drop(d);
	return -1;
}

/*
 * Runs sql (nparams < 0: a script of several statements, no parameters)
 * and returns its last result, or NULL with d->err set. A failed result
 * is cleared and NULL returned.
 */
static PGresult *
pg_query(struct db_pg *d, const char *sql, int nparams, const Oid *types,
    const char *const *values, const int *lengths, const int *formats)
{
	PGresult *r, *last = NULL;
	uint64_t deadline;
	int sent, failed = 0;

	if (d->tx_lost) {
		pg_seterr(d, "connection to PostgreSQL lost in a transaction");
		return NULL;
	}
	if (pg_ready(d) == -1)
		return NULL;
	deadline = clock_mono_ms() + (d->migrating ? PG_MIGRATE_TIMEOUT_MS :
	    PG_TIMEOUT_MS);
	if (nparams < 0)
		sent = PQsendQuery(d->conn, sql);
	else
		sent = PQsendQueryParams(d->conn, sql, nparams, types, values,
		    lengths, formats, 0);
	if (!sent) {
		pg_seterr(d, PQerrorMessage(d->conn));
		if (PQstatus(d->conn) != CONNECTION_OK)
			pg_drop(d);
		return NULL;
	}
	for (;;) {
		if (pg_wait(d, deadline) == -1) {
			PQclear(last);
			return NULL;
		}
		if ((r = PQgetResult(d->conn)) == NULL)
			break;
		switch (PQresultStatus(r)) {
		case PGRES_COMMAND_OK:
		case PGRES_TUPLES_OK:
		case PGRES_EMPTY_QUERY:
			break;
		default:
			if (!failed)
				pg_result_err(d, r);
			failed = 1;
			break;
		}
		PQclear(last);
		last = r;
	}
	if (PQstatus(d->conn) != CONNECTION_OK)
		pg_drop(d);
	if (failed) {
		PQclear(last);
		return NULL;
	}
	return last;
}

static int
pg_simple(struct db_pg *d, const char *sql)
{
	PGresult *r = pg_query(d, sql, -1, NULL, NULL, NULL, NULL);

	if (r == NULL)
		return -1;
	PQclear(r);
	return 0;
}

static void
pg_close(struct db *db)
{
	struct db_pg *d = PDB(db);

	if (d->conn != NULL)
		PQfinish(d->conn);
	free(d->conninfo);
	free(d);
}

static const char *
pg_errmsg(struct db *db)
{
	return PDB(db)->err;
}

static int
pg_exec(struct db *db, const char *sql)
{
	return pg_simple(PDB(db), sql);
}

static int
pg_prepare(struct db *db, const char *sql, struct db_stmt **out)
{
	struct db_pg_stmt *s;
	const char *p;
	long n;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->sql = db_sql_dollar(sql)) == NULL) {
		free(s);
		pg_seterr(PDB(db), "out of memory");
		return -1;
	}
	s->base.db = db;
	/* The highest $N is the number of parameters. */
	for (p = s->sql; (p = strchr(p, '$')) != NULL; p++) {
		n = strtol(p + 1, NULL, 10);
		if (n > PG_MAXPARAMS) {
			pg_seterr(PDB(db), "too many parameters");
			free(s->sql);
			free(s);
			return -1;
		}
		if (n > s->nparams)
			s->nparams = (int)n;
	}
	*out = &s->base;
	return 0;
}

static void
pg_reset(struct db_stmt *st)
{
	struct db_pg_stmt *s = PST(st);

	PQclear(s->res);
	s->res = NULL;
	PQfreemem(s->blob);
	s->blob = NULL;
	memset(s->types, 0, sizeof(s->types));
	memset(s->values, 0, sizeof(s->values));
	memset(s->lengths, 0, sizeof(s->lengths));
	memset(s->formats, 0, sizeof(s->formats));
}

static void
pg_finalize(struct db_stmt *st)
{
	pg_reset(st);
	free(PST(st)->sql);
	free(st);
}

static int
pg_slot(struct db_stmt *st, int i)
{
	if (i < 1 || i > PST(st)->nparams) {
		pg_seterr(PDB(st->db), "parameter out of range");
		return -1;
	}
	return i - 1;
}

static int
pg_bind_null(struct db_stmt *st, int i)
{
	if ((i = pg_slot(st, i)) == -1)
		return -1;
	PST(st)->types[i] = 0;
	PST(st)->values[i] = NULL;
	PST(st)->formats[i] = 0;
	return 0;
}

static int
pg_bind_text(struct db_stmt *st, int i, const char *v)
{
	if ((i = pg_slot(st, i)) == -1)
		return -1;
	PST(st)->types[i] = OID_TEXT;
	PST(st)->values[i] = v;
	PST(st)->formats[i] = 0;
	return 0;
}

static int
pg_bind_int64(struct db_stmt *st, int i, int64_t v)
{
	struct db_pg_stmt *s = PST(st);

	if ((i = pg_slot(st, i)) == -1)
		return -1;
	snprintf(s->num[i], sizeof(s->num[i]), "%" PRId64, v);
	s->types[i] = OID_INT8;
	s->values[i] = s->num[i];
	s->formats[i] = 0;
	return 0;
}

static int
pg_bind_blob(struct db_stmt *st, int i, const void *p, size_t len)
{
	struct db_pg_stmt *s = PST(st);

	if ((i = pg_slot(st, i)) == -1)
		return -1;
	if (len > INT32_MAX) {
		pg_seterr(PDB(st->db), "blob too large");
		return -1;
	}
	s->types[i] = OID_BYTEA;
	s->values[i] = p;
	s->lengths[i] = (int)len;
	s->formats[i] = 1;
	return 0;
}

static int
pg_step(struct db_stmt *st)
{
	struct db_pg_stmt *s = PST(st);
	struct db_pg *d = PDB(st->db);
	const char *tag;

	if (s->res == NULL) {
		s->res = pg_query(d, s->sql, s->nparams, s->types,
		    s->values, s->lengths, s->formats);
		if (s->res == NULL)
			return -1;
		tag = PQcmdTuples(s->res);
		d->changes = tag && *tag ? strtoll(tag, NULL, 10) : 0;
		s->row = -1;
	}
	PQfreemem(s->blob);
	s->blob = NULL;
	if (PQresultStatus(s->res) != PGRES_TUPLES_OK ||
	    ++s->row >= PQntuples(s->res))
		return DB_DONE;
	return DB_ROW;
}

static int
pg_col_null(struct db_stmt *st, int col)
{
	return PQgetisnull(PST(st)->res, PST(st)->row, col);
}

static const char *
pg_col_text(struct db_stmt *st, int col)
{
	if (pg_col_null(st, col))
		return NULL;
	return PQgetvalue(PST(st)->res, PST(st)->row, col);
}

static int64_t
pg_col_int64(struct db_stmt *st, int col)
{
	const char *v = pg_col_text(st, col);

	return v ? strtoll(v, NULL, 10) : 0;
}

static const void *
pg_col_blob(struct db_stmt *st, int col, size_t *len)
{
	struct db_pg_stmt *s = PST(st);
	const char *v = pg_col_text(st, col);

	*len = 0;
	PQfreemem(s->blob);
	s->blob = NULL;
	if (v == NULL)
		return NULL;
	s->blob = PQunescapeBytea((const unsigned char *)v, len);
	return s->blob;
}

static int64_t
pg_changes(struct db *db)
{
	return PDB(db)->changes;
}

static int
pg_begin(struct db *db)
{
	struct db_pg *d = PDB(db);

	if (d->in_tx) {
		pg_seterr(d, "a transaction is already open");
		return -1;
	}
	if (pg_simple(d, "BEGIN") == -1)
		return -1;
	d->in_tx = 1;
	d->tx_lost = 0;
	return 0;
}

static void
pg_tx_end(struct db_pg *d)
{
	d->in_tx = 0;
	d->tx_lost = 0;
	d->migrating = 0;
}

/* A COMMIT of a transaction that failed answers "ROLLBACK": not ours. */
static int
pg_commit(struct db *db)
{
	struct db_pg *d = PDB(db);
	PGresult *r;
	int rc = 0;

	r = pg_query(d, "COMMIT", 0, NULL, NULL, NULL, NULL);
	if (r == NULL)
		rc = -1;
	else if (strcmp(PQcmdStatus(r), "COMMIT") != 0) {
		pg_seterr(d, "transaction rolled back by the server");
		rc = -1;
	}
	PQclear(r);
	pg_tx_end(d);
	return rc;
}

static void
pg_rollback(struct db *db)
{
	struct db_pg *d = PDB(db);
	char keep[sizeof(d->err)];

	if (!d->in_tx)
		return;
	snprintf(keep, sizeof(keep), "%s", d->err);
	if (!d->tx_lost && d->conn != NULL && pg_simple(d, "ROLLBACK") == -1)
		log_warnx("store: rollback: %s", d->err);
	snprintf(d->err, sizeof(d->err), "%s", keep);
	pg_tx_end(d);
}

/* In the migration's transaction: one migrator at a time per database;
 * the version table exists from then on. */
static int
pg_lock_schema(struct db *db)
{
	struct db_pg *d = PDB(db);

	d->migrating = 1;
	return pg_simple(d,
	    "SET LOCAL statement_timeout = 300000;"
	    "SET LOCAL lock_timeout = 300000;"
	    "SELECT pg_advisory_xact_lock(" PG_SCHEMA_LOCK ");"
	    "CREATE TABLE IF NOT EXISTS ferry_schema ("
	    "  one INTEGER PRIMARY KEY CHECK (one = 1),"
	    "  version INTEGER NOT NULL)");
}

static int
pg_version_get(struct db *db, int *v)
{
	PGresult *r;

	r = pg_query(PDB(db), "SELECT version FROM ferry_schema", 0, NULL,
	    NULL, NULL, NULL);
	if (r == NULL)
		return -1;
	*v = PQntuples(r) > 0 ? atoi(PQgetvalue(r, 0, 0)) : 0;
	PQclear(r);
	return 0;
}

static int
pg_version_set(struct db *db, int v)
{
	char sql[160];

	snprintf(sql, sizeof(sql), "INSERT INTO ferry_schema (one, version) "
	    "VALUES (1, %d) ON CONFLICT (one) DO UPDATE SET version = %d",
	    v, v);
	return pg_simple(PDB(db), sql);
}

/* The epoch is set now when connected (a lost connection sets it when
 * made again, in pg_connect); never inside a transaction, whose rollback
 * would undo it. */
static int
pg_fence(struct db *db, uint64_t epoch)
{
	struct db_pg *d = PDB(db);
	char sql[64];

	if (d->in_tx) {
		pg_seterr(d, "cannot change the fencing epoch in a transaction");
		return -1;
	}
	d->fence_epoch = epoch;
	d->fenced = 0;
	if (d->conn == NULL || PQstatus(d->conn) != CONNECTION_OK)
		return 0;
	snprintf(sql, sizeof(sql), "SET ferry.epoch = '%" PRIu64 "'", epoch);
	return pg_simple(d, sql);
}

static int
pg_fenced(struct db *db)
{
	return PDB(db)->fenced;
}

static const struct db_ops pg_ops = {
	.name = "postgresql",
	.close = pg_close,
	.errmsg = pg_errmsg,
	.exec = pg_exec,
	.prepare = pg_prepare,
	.finalize = pg_finalize,
	.reset = pg_reset,
	.bind_null = pg_bind_null,
	.bind_text = pg_bind_text,
	.bind_int64 = pg_bind_int64,
	.bind_blob = pg_bind_blob,
	.step = pg_step,
	.col_null = pg_col_null,
	.col_text = pg_col_text,
	.col_int64 = pg_col_int64,
	.col_blob = pg_col_blob,
	.changes = pg_changes,
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.lock_schema = pg_lock_schema,
	.version_get = pg_version_get,
	.version_set = pg_version_set,
	.fence = pg_fence,
	.fenced = pg_fenced,
};

/* The first connection must succeed: a coordinator that cannot reach its
 * database at start says so and exits. */
int
db_pg_open(const char *conninfo, struct db **out, char *err, size_t errlen)
{
	struct db_pg *d;

	*out = NULL;
	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->conninfo = strdup(conninfo)) == NULL) {
		free(d);
		snprintf(err, errlen, "%s", strerror(errno));
		return -1;
	}
	d->base.ops = &pg_ops;
	if (pg_connect(d) == -1) {
		snprintf(err, errlen, "%s", d->err);
		pg_close(&d->base);
		return -1;
	}
	*out = &d->base;
	return 0;
}
