#!/usr/bin/env bash
# Metrics (issue 17): a scrape after a real migration passes `promtool
# check metrics` (Debian's prometheus), counts the migration under its
# result, and observes its downtime in the histogram: the job's recorded
# downtime (the destination's completed-job statistics), not a sample's.
# While it runs, its data remaining and transfer rate are exported.
. "$(dirname "$0")/lib.sh"

tmp=$(mktemp -d)
trap 'lab vm destroy mt1 > /dev/null 2>&1; rm -rf "$tmp"' EXIT

# scrape FILE: the metrics as GET /metrics serves them when the lab has the
# HTTPS API (FERRY_API), else as ferryctl prints them (the same renderer).
scrape() {
	if [ -n "${FERRY_API:-}" ]; then
		curl -sSf --cacert "$FERRY_CA" -H "Authorization: Bearer ${FERRY_READ_TOKEN:-$FERRY_TOKEN}" \
		    "$FERRY_API/metrics" > "$1"
	else
		ferryctl metrics > "$1"
	fi
}
# val FILE SERIES: the value of the sample SERIES (name{labels} as rendered).
val() { awk -v s="$2" '$1 == s { print $2; f = 1 } END { if (!f) print "none" }' "$1"; }
# plus1 A B: B is the number A plus one.
plus1() { is_number "$1" && is_number "$2" && [ "$2" = $(($1 + 1)) ]; }

lab vm create mt1 --host h1 --mem 256 --dirty-mib 32 --dirty-rate 8 > /dev/null
check "mt1 runs on h1" wait_until 20 exactly_one mt1 h1
scrape "$tmp/before.txt"; rc=$?
check "a scrape answers" [ $rc = 0 ]
check "promtool check metrics passes before" promtool check metrics < "$tmp/before.txt"
s0=$(val "$tmp/before.txt" 'ferry_migrations_total{result="succeeded"}')
c0=$(val "$tmp/before.txt" ferry_migration_downtime_seconds_count)
sum0=$(val "$tmp/before.txt" ferry_migration_downtime_seconds_sum)
check "hosts are up in the metrics" [ "$(val "$tmp/before.txt" 'ferry_hosts{state="up"}')" = 3 ]
check "h1's memory is exported" is_number "$(val "$tmp/before.txt" 'ferry_host_memory_bytes{host="h1"}')"

ferryctl migrate mt1 --to h2 --bandwidth 20 --no-wait > "$tmp/id"; rc=$?
job=$(cat "$tmp/id")
check "migration started (job $job)" [ $rc = 0 ]
running_gauge() {
	scrape "$tmp/during.txt" &&
	    grep -q "^ferry_migration_data_remaining_bytes{job=\"$job\",vm=\"mt1\",source=\"h1\",destination=\"h2\"} " "$tmp/during.txt"
}
check "while it runs, its data remaining is exported" wait_until 60 running_gauge
check "and its transfer rate" grep -q "^ferry_migration_memory_transfer_rate_bytes_per_second{job=\"$job\"" "$tmp/during.txt"
check "ferry_migrations_running counts it" [ "$(val "$tmp/during.txt" ferry_migrations_running)" = 1 ]
check "promtool check metrics passes during" promtool check metrics < "$tmp/during.txt"
ended() { ferryctl job "$job" --json | jq -e '.job.ended_ms != null' > /dev/null; }
check "the migration ends" wait_until 120 ended
ferryctl job "$job" --json > "$tmp/job.json"
state=$(jq -r .job.state "$tmp/job.json")
down=$(jq -r '[.history[] | select(.data | type == "object") | .data.downtime_ms | select(. != null)][-1]' "$tmp/job.json")
check "it succeeded ($state), downtime $down ms" bash -c "[ '$state' = succeeded ] && [[ '$down' =~ ^[0-9]+$ ]]"

scrape "$tmp/after.txt"
promtool check metrics < "$tmp/after.txt" > "$tmp/promtool.txt" 2>&1; rc=$?
check "promtool check metrics passes after the migration" [ $rc = 0 ]
[ $rc = 0 ] || note "promtool: $(head -c 600 "$tmp/promtool.txt")"
s1=$(val "$tmp/after.txt" 'ferry_migrations_total{result="succeeded"}')
c1=$(val "$tmp/after.txt" ferry_migration_downtime_seconds_count)
sum1=$(val "$tmp/after.txt" ferry_migration_downtime_seconds_sum)
note "succeeded $s0 -> $s1, downtime count $c0 -> $c1, sum $sum0 -> $sum1 s"
check "the migration is counted as succeeded" plus1 "$s0" "$s1"
check "its downtime is observed once" plus1 "$c0" "$c1"
check "the histogram's sum grew by its downtime ($down ms)" is_number "$down"
check "  by exactly that" awk -v a="$sum0" -v b="$sum1" -v d="$down" \
    'BEGIN { x = (b - a) * 1000 - d; if (x < 0) x = -x; exit !(x < 0.5) }'
# The first bucket at or above the downtime counted it.
le=$(awk -v d="$down" 'BEGIN { n = split("0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10", b, " ");
	for (i = 1; i <= n; i++) if (d / 1000 <= b[i] + 0) { print b[i]; exit } print "+Inf" }')
b0=$(val "$tmp/before.txt" "ferry_migration_downtime_seconds_bucket{le=\"$le\"}")
b1=$(val "$tmp/after.txt" "ferry_migration_downtime_seconds_bucket{le=\"$le\"}")
check "bucket le=$le counts it ($b0 -> $b1)" plus1 "$b0" "$b1"
check "no running gauge is left for it" bash -c "! grep -q 'job=\"$job\"' '$tmp/after.txt'"
check "bytes transferred grew" awk -v a="$(val "$tmp/before.txt" ferry_migration_transferred_bytes_total)" \
    -v b="$(val "$tmp/after.txt" ferry_migration_transferred_bytes_total)" 'BEGIN { exit !(b > a) }'
check "loop lag and commit latency are observed" awk -v a="$(val "$tmp/after.txt" ferry_loop_lag_seconds_count)" \
    -v b="$(val "$tmp/after.txt" ferry_store_commit_seconds_count)" 'BEGIN { exit !(a > 0 && b > 0) }'
finish
