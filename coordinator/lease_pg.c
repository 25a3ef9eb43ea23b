/*
 * lease_pg.c: the lease row in PostgreSQL (lease.h's backend), on a libpq
 * connection of its own, used from the lease thread only.
 *
 *   ferry_lease (id = 1, holder, epoch, expires)
 *
 * Expiry is on the database's clock (now()); each statement is one UPDATE
 * of the one row, so two coordinators racing for it are serialized by the
 * row lock and the loser's WHERE sees the winner's row. Every call is
 * asynchronous libpq polled against a deadline: a database that is gone,
 * paused or behind a cut link costs timeout_ms, never more, and the
 * connection is dropped (and made anew at the next call) after a timeout.
 * The table is the lease's own (PostgreSQL only; SQLite has no HA), made
 * here with CREATE TABLE IF NOT EXISTS.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "clock.h"
#include "lease.h"

struct lease_pg {
	char	*conninfo;	/* owned */
	PGconn	*conn;		/* NULL: not connected */
	int	 ready;		/* table and row exist */
};

static void
lease_pg_drop(struct lease_pg *lp)
{
	if (lp->conn != NULL)
		PQfinish(lp->conn);
	lp->conn = NULL;
}

/* Waits until fd is ready for events or the deadline passes. */
static int
lease_pg_wait(int fd, short events, uint64_t deadline)
{
	struct pollfd pfd;
	uint64_t now;
	int rc;

	for (;;) {
		if ((now = clock_mono_ms()) >= deadline)
			return -ETIMEDOUT;
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		rc = poll(&pfd, 1, (int)(deadline - now));
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR)
			return -errno;
	}
}

/* NOTICEs (CREATE TABLE IF NOT EXISTS says it exists) are not errors. */
static void
lease_pg_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

static int
lease_pg_connect(struct lease_pg *lp, uint64_t deadline, char *err,
    size_t errlen)
{
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	int rc;

	if (lp->conn != NULL && PQstatus(lp->conn) == CONNECTION_OK)
		return 0;
	lease_pg_drop(lp);
	if ((lp->conn = PQconnectStart(lp->conninfo)) == NULL) {
		snprintf(err, errlen, "postgresql: out of memory");
		return -1;
	}
	if (PQstatus(lp->conn) == CONNECTION_BAD)
		goto bad;
	while (st != PGRES_POLLING_OK) {
		if (st == PGRES_POLLING_FAILED)
			goto bad;
		if ((rc = lease_pg_wait(PQsocket(lp->conn),
		    st == PGRES_POLLING_READING ? POLLIN : POLLOUT,
		    deadline)) < 0) {
			snprintf(err, errlen, "postgresql: connect: %s",
			    strerror(-rc));
			lease_pg_drop(lp);
			return -1;
		}
		st = PQconnectPoll(lp->conn);
	}
	(void)PQsetNoticeProcessor(lp->conn, lease_pg_notice, NULL);
	return 0;
bad:
	snprintf(err, errlen, "postgresql: %s", PQerrorMessage(lp->conn));
	err[strcspn(err, "\n")] = '\0';
	lease_pg_drop(lp);
	return -1;
}

/*
 * Runs one statement with its parameters, waiting at most until deadline.
 * Returns the result (PQclear it) or NULL with err; after a timeout the
 * connection is dropped, so a late answer is never taken for a new one.
 */
static PGresult *
lease_pg_exec(struct lease_pg *lp, const char *sql, int nparams,
    const char *const *params, uint64_t deadline, char *err, size_t errlen)
{
	PGresult *res = NULL, *r;
	int rc;

	if (lease_pg_connect(lp, deadline, err, errlen) < 0)
		return NULL;
	if (!PQsendQueryParams(lp->conn, sql, nparams, NULL, params, NULL,
	    NULL, 0))
		goto bad;
	while (PQflush(lp->conn) == 1)
		if ((rc = lease_pg_wait(PQsocket(lp->conn), POLLOUT,
		    deadline)) < 0)
			goto timeout;
	for (;;) {
		while (PQisBusy(lp->conn)) {
			if ((rc = lease_pg_wait(PQsocket(lp->conn), POLLIN,
			    deadline)) < 0)
				goto timeout;
			if (!PQconsumeInput(lp->conn))
				goto bad;
		}
		if ((r = PQgetResult(lp->conn)) == NULL)
			break;
		if (res == NULL)
			res = r;
		else
			PQclear(r);
	}
	if (res == NULL)
		goto bad;
	rc = PQresultStatus(res);
	if (rc != PGRES_COMMAND_OK && rc != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "postgresql: %s",
		    PQresultErrorMessage(res));
		err[strcspn(err, "\n")] = '\0';
		PQclear(res);
		return NULL;
	}
	return res;
timeout:
	snprintf(err, errlen, "postgresql: no answer within the call's "
	    "timeout: %s", strerror(-rc));
	if (res)
		PQclear(res);
	lease_pg_drop(lp);
	return NULL;
bad:
	snprintf(err, errlen, "postgresql: %s", PQerrorMessage(lp->conn));
	err[strcspn(err, "\n")] = '\0';
	if (res)
		PQclear(res);
	lease_pg_drop(lp);
	return NULL;
}

static int
lease_pg_prepare(struct lease_pg *lp, uint64_t deadline, char *err,
    size_t errlen)
{
	static const char *const sql[] = {
		"CREATE TABLE IF NOT EXISTS ferry_lease ("
		" id INTEGER PRIMARY KEY CHECK (id = 1),"
		" holder TEXT NOT NULL,"
		" epoch BIGINT NOT NULL,"
		" expires TIMESTAMPTZ NOT NULL)",
		"INSERT INTO ferry_lease (id, holder, epoch, expires)"
		" VALUES (1, '', 0, 'epoch') ON CONFLICT (id) DO NOTHING",
	};
	PGresult *res;
	size_t i;

	if (lp->ready && lp->conn != NULL)
		return 0;
	/* Two coordinators creating it at once: one fails, tries again. */
	for (i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
		if ((res = lease_pg_exec(lp, sql[i], 0, NULL, deadline, err,
		    errlen)) == NULL)
			return -1;
		PQclear(res);
	}
	lp->ready = 1;
	return 0;
}

#define LEASE_COLS	"holder, epoch, " \
	"(extract(epoch FROM (expires - now())) * 1000)::bigint"

static void
lease_pg_row(PGresult *res, struct lease_row *row)
{
	snprintf(row->holder, sizeof(row->holder), "%s",
	    PQgetvalue(res, 0, 0));
	row->epoch = strtoull(PQgetvalue(res, 0, 1), NULL, 10);
	row->remaining_ms = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
}

/* The row as it is, when an UPDATE did not match. */
static int
lease_pg_current(struct lease_pg *lp, uint64_t deadline,
    struct lease_row *row, char *err, size_t errlen)
{
	PGresult *res;

	if ((res = lease_pg_exec(lp, "SELECT " LEASE_COLS " FROM ferry_lease "
	    "WHERE id = 1", 0, NULL, deadline, err, errlen)) == NULL)
		return -1;
	if (PQntuples(res) != 1) {
		snprintf(err, errlen, "postgresql: ferry_lease has no row");
		PQclear(res);
		lp->ready = 0;
		return -1;
	}
	lease_pg_row(res, row);
	PQclear(res);
	return 0;
}

static int
lease_pg_update(struct lease_pg *lp, const char *sql, int nparams,
    const char *const *params, int timeout_ms, struct lease_row *row,
    char *err, size_t errlen)
{
	uint64_t deadline = clock_mono_ms() + (uint64_t)timeout_ms;
	PGresult *res;
	int rc;

	memset(row, 0, sizeof(*row));
	if (lease_pg_prepare(lp, deadline, err, errlen) < 0)
		return -1;
	if ((res = lease_pg_exec(lp, sql, nparams, params, deadline, err,
	    errlen)) == NULL)
		return -1;
	if (PQntuples(res) == 1) {
		lease_pg_row(res, row);
		rc = 1;
	} else
		rc = lease_pg_current(lp, deadline, row, err, errlen) < 0 ?
		    -1 : 0;
	PQclear(res);
	return rc;
}

/* Takes the lease when it has expired or is this node's own (a restarted
 * coordinator): always with a new epoch, a new term of leadership. */
static int
lease_pg_acquire(void *arg, const char *node, int ttl_ms, int timeout_ms,
    struct lease_row *row, char *err, size_t errlen)
{
	char ttl[32];
	const char *params[2] = { node, ttl };

	snprintf(ttl, sizeof(ttl), "%d", ttl_ms);
	return lease_pg_update(arg, "UPDATE ferry_lease SET holder = $1, "
	    "epoch = epoch + 1, expires = now() + $2::bigint * "
	    "interval '1 millisecond' WHERE id = 1 AND (expires <= now() OR "
	    "holder = $1) RETURNING " LEASE_COLS, 2, params, timeout_ms, row,
	    err, errlen);
}

/* Extends it, only while it is still this node's, this epoch's, unexpired. */
static int
lease_pg_renew(void *arg, const char *node, uint64_t epoch, int ttl_ms,
    int timeout_ms, struct lease_row *row, char *err, size_t errlen)
{
	char ttl[32], ep[32];
	const char *params[3] = { node, ep, ttl };

	snprintf(ttl, sizeof(ttl), "%d", ttl_ms);
	snprintf(ep, sizeof(ep), "%" PRIu64, epoch);
	return lease_pg_update(arg, "UPDATE ferry_lease SET expires = now() + "
	    "$3::bigint * interval '1 millisecond' WHERE id = 1 AND "
	    "holder = $1 AND epoch = $2::bigint AND expires > now() "
	    "RETURNING " LEASE_COLS, 3, params, timeout_ms, row, err, errlen);
}

static int
lease_pg_release(void *arg, const char *node, uint64_t epoch, int timeout_ms,
    char *err, size_t errlen)
{
	struct lease_pg *lp = arg;
	uint64_t deadline = clock_mono_ms() + (uint64_t)timeout_ms;
	char ep[32];
	const char *params[2] = { node, ep };
	PGresult *res;

	snprintf(ep, sizeof(ep), "%" PRIu64, epoch);
	if ((res = lease_pg_exec(lp, "UPDATE ferry_lease SET expires = now() "
	    "WHERE id = 1 AND holder = $1 AND epoch = $2::bigint", 2, params,
	    deadline, err, errlen)) == NULL)
		return -1;
	PQclear(res);
	return 0;
}

static void
lease_pg_close(void *arg)
{
	struct lease_pg *lp = arg;

	if (lp == NULL)
		return;
	lease_pg_drop(lp);
	free(lp->conninfo);
	free(lp);
}

/* Nothing is connected yet: the lease thread connects at its first call. */
int
lease_pg_open(const char *conninfo, struct lease_backend *be, char *err,
    size_t errlen)
{
	struct lease_pg *lp;
	PQconninfoOption *opts;
	char *perr = NULL;

	if ((opts = PQconninfoParse(conninfo, &perr)) == NULL) {
		snprintf(err, errlen, "conninfo: %s", perr ? perr :
		    "out of memory");
		err[strcspn(err, "\n")] = '\0';
		PQfreemem(perr);
		return -1;
	}
	PQconninfoFree(opts);
	if ((lp = calloc(1, sizeof(*lp))) == NULL ||
	    (lp->conninfo = strdup(conninfo)) == NULL) {
		free(lp);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memset(be, 0, sizeof(*be));
	be->arg = lp;
	be->acquire = lease_pg_acquire;
	be->renew = lease_pg_renew;
	be->release = lease_pg_release;
	be->close = lease_pg_close;
	return 0;
}
