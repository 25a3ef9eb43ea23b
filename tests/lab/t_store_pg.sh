#!/usr/bin/env bash
# The coordinator on PostgreSQL (store = { backend = "postgresql"; ... }):
# a coordinator whose database cannot be reached refuses to start; a real
# migration's record is in PostgreSQL (and not in the SQLite file); the
# database stopped while a migration is in flight: the transitions that
# cannot be journaled are not taken, the hosts finish the migration, and
# when the database is back the job reaches the state libvirt confirms,
# its journal complete. The lab's coordinator is put back on SQLite after.
. "$(dirname "$0")/lib.sh"

PG="$(dirname "$LAB")/pg"
STATE=/var/lib/ferry-lab/$LAB_ID
RUN=/run/ferry-lab/$LAB_ID
CONF=$STATE/coordinator/coordinator.conf
PGDIR=$STATE/pg-store
vm=pg$RANDOM
vm2=${vm}b

psqlq() { psql "$CI" -qAtX -c "$1"; }
job_state() { ferryctl job "$1" --json 2> /dev/null | jq -r .job.state; }
migrating() { [ "$(job_state "$1")" = migrating ]; }
job_final() { case "$(job_state "$1")" in succeeded|rolled_back|failed|refused) return 0;; esac; return 1; }
hosts_up() { [ "$(ferryctl hosts --json | jq '[.[] | select(.state == "up")] | length')" = "$(ferryctl hosts --json | jq length)" ]; }
libvirt_only_on() { [ "$(running_on_libvirt "$vm" | tr '\n' ' ')" = "$1 " ]; }
pg_state() { psqlq "SELECT state FROM jobs WHERE id = $1"; }

cleanup() {
	lab vm destroy "$vm" > /dev/null 2>&1
	lab vm destroy "$vm2" > /dev/null 2>&1
	lab stop coordinator > /dev/null 2>&1
	[ -f "$CONF.sqlite" ] && mv "$CONF.sqlite" "$CONF"
	lab start coordinator > /dev/null 2>&1
	"$PG" stop "$PGDIR" > /dev/null 2>&1
	rm -rf "$PGDIR"
}
trap cleanup EXIT

CI=$("$PG" start "$PGDIR") || { notok "PostgreSQL started"; finish; }
ok "PostgreSQL started ($CI)"

# Unreachable at start: a clear error and a non-zero exit, no socket.
sed '/^socket = /d' "$CONF" > "$STATE/coordinator/bad.conf"
printf 'socket = "%s";\nstore = { backend = "postgresql"; conninfo = "host=%s/nowhere dbname=ferry user=ferry"; };\n' \
	"$RUN/bad.sock" "$STATE" >> "$STATE/coordinator/bad.conf"
out=$(timeout 30 "${FERRY_BUILD:-$REPO/build}/ferry-coordinator" -f "$STATE/coordinator/bad.conf" 2>&1); rc=$?
note "unreachable: rc $rc: $(echo "$out" | grep -m1 store_open)"
check "a coordinator whose database is unreachable exits non-zero" test "$rc" = 1
check "... saying it cannot connect to PostgreSQL" grep -q "store_open: cannot connect to PostgreSQL" <<< "$out"
check "... and never listened" test ! -e "$RUN/bad.sock"
rm -f "$STATE/coordinator/bad.conf"

# The lab's coordinator on PostgreSQL.
lab stop coordinator > /dev/null
cp "$CONF" "$CONF.sqlite"
printf 'store = { backend = "postgresql"; conninfo = "%s"; };\n' "$CI" >> "$CONF"
sqlite_jobs=$(sqlite3 "$STATE/coordinator/ferry.db" "SELECT count(*) FROM jobs")
sqlite_jobs_max=$(sqlite3 "$STATE/coordinator/ferry.db" "SELECT COALESCE(MAX(id), 0) FROM jobs")
lab start coordinator > /dev/null
check "hosts up with the PostgreSQL store" wait_until 30 hosts_up
check "the coordinator says its store is postgresql" \
	grep -q "store postgresql;" "$STATE/coordinator/coordinator.log"
check "the schema is at its version in PostgreSQL" test "$(psqlq 'SELECT version FROM ferry_schema')" -ge 3
check "the hosts are in PostgreSQL" test "$(psqlq 'SELECT count(*) FROM hosts')" -ge 2
# The hostds remember the results of the job ids they ran (for a
# coordinator that asks after a restart) and refuse an id again ("already
# ran here"); a new database numbers from 1. Above every id this lab's
# hosts can have seen: the SQLite store's, and earlier runs of this test.
base=$(( ${sqlite_jobs_max:-0} + 1000 + $(date +%s) % 100000 ))
psqlq "ALTER TABLE jobs ALTER COLUMN id RESTART WITH $base" > /dev/null

lab vm create "$vm" --host h1 --mem 128 --dirty-mib 8 --dirty-rate 1 > /dev/null
lab vm create "$vm2" --host h2 --mem 128 --dirty-mib 4 --dirty-rate 1 > /dev/null
check "$vm runs on h1" wait_until 30 exactly_one "$vm" h1
check "$vm2 runs on h2" wait_until 30 exactly_one "$vm2" h2
job=$(ferryctl migrate "$vm" --to h2 --no-wait)
check "job $job ended" wait_until 60 job_final "$job"
check "job $job succeeded" test "$(job_state "$job")" = succeeded
check "$vm runs on h2 only, Ferry agrees" wait_until 20 exactly_one "$vm" h2
row=$(psqlq "SELECT kind, vm, source, destination, state, finished FROM jobs WHERE id = $job")
note "PostgreSQL: $row"
check "PostgreSQL holds job $job as a finished migration h1 -> h2" \
	test "$row" = "migrate|$vm|h1|h2|succeeded|1"
nev=$(psqlq "SELECT count(*) FROM job_events WHERE job_id = $job")
check "PostgreSQL holds its whole journal (ferryctl shows the same $nev events)" \
	test "$nev" = "$(ferryctl job "$job" --json | jq '.history | length')"
check "the SQLite file got nothing" \
	test "$(sqlite3 "$STATE/coordinator/ferry.db" "SELECT count(*) FROM jobs")" = "$sqlite_jobs"

# The database lost in the middle of a migration (5 MiB/s: ~25 s).
job2=$(ferryctl migrate "$vm" --to h1 --bandwidth 5 --no-wait)
check "job $job2 migrating" wait_until 30 migrating "$job2"
"$PG" stop "$PGDIR" > /dev/null
ok "PostgreSQL stopped during job $job2"
out=$(ferryctl migrate "$vm2" --to h1 2>&1); rc=$?
note "a new migration meanwhile: rc $rc: $out"
check "a new job cannot be started without the database" test "$rc" != 0
check "... and ferryctl is told why" grep -qi "postgresql\|store" <<< "$out"
check "the hosts finish the migration: $vm on h1 only (libvirt)" \
	wait_until 90 libvirt_only_on h1
check "the coordinator could not journal it" \
	wait_until 30 grep -q "cannot journal" "$STATE/coordinator/coordinator.log"
CI=$("$PG" start "$PGDIR") || notok "PostgreSQL restarted"
check "job $job2 ends once the database is back" wait_until 60 job_final "$job2"
check "job $job2 succeeded" test "$(job_state "$job2")" = succeeded
check "PostgreSQL says so" test "$(pg_state "$job2")" = succeeded
check "$vm runs on h1 only, Ferry agrees" wait_until 20 exactly_one "$vm" h1
check "its journal in PostgreSQL has no repeated state" \
	test "$(psqlq "SELECT count(*) - count(DISTINCT state) FROM job_events WHERE job_id = $job2 AND type = 'state'")" = 0
check "$vm's heartbeat never reset" beats_after "$vm" "$(now_ms)"
check "$vm2 never moved: on h2 only, Ferry agrees" wait_until 20 exactly_one "$vm2" h2
check "no job for $vm2 in PostgreSQL" test "$(psqlq "SELECT count(*) FROM jobs WHERE vm = '$vm2'")" = 0
ferryctl job "$job2" 2>&1 | tail -8 | sed 's/^/# /'
finish
