#!/usr/bin/env bash
# Live migration in the lab, against real libvirtd/QEMU/NFS: success with
# progress, a local disk refused, and at 5-10 MiB/s: abort, destination
# libvirtd stopped, coordinator killed -- each must end with the VM running
# on exactly one host (asked of libvirt itself), a final state that says so,
# and a guest heartbeat that never reset.
. "$(dirname "$0")/lib.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

job_state() { ferryctl job "$1" --json | jq -r .job.state; }
final() { case "$(job_state "$1")" in succeeded|refused|rolled_back|failed) return 0;; esac; return 1; }
in_state() { [ "$(job_state "$1")" = "$2" ]; }
migrating_with_data() { # JOB: migrating and data has moved
	in_state "$1" migrating && [ "$(ferryctl job "$1" --json | jq '[.history[] | select(.type == "progress")] | length')" -ge 1 ]
}

# --- 1. a guest dirtying memory moves h1 -> h2 ---------------------------------
lab vm create mg1 --host h1 --mem 256 --dirty-mib 64 --dirty-rate 16 > /dev/null
wait_until 10 exactly_one mg1 h1
sleep 3
ferryctl migrate mg1 --to h2 --bandwidth 50 --json > "$tmp/m1.json"; rc=$?
end=$(now_ms)
check "migrate exits 0 on success" [ $rc = 0 ]
check "done event says succeeded, running on h2" \
	jqe -s 'map(select(.event == "done"))[0] | .state == "succeeded" and .running_on == "h2" and .source == "h1" and .destination == "h2"' "$tmp/m1.json"
check "first line is the started event" jqe -s '.[0].event == "started" and .[0].vm == "mg1"' "$tmp/m1.json"
np=$(jq -s 'map(select(.event == "progress")) | length' "$tmp/m1.json")
check "at least three progress events ($np)" [ "$np" -ge 3 ]
check "data processed never decreases" \
	jqe -s '[.[] | select(.event == "progress") | .data_processed_mib] | . == sort' "$tmp/m1.json"
check "progress events carry percent, rates, iteration, eta" \
	jqe -s 'map(select(.event == "progress"))[-1] | has("percent") and has("mib_per_s") and has("dirty_mib_per_s") and has("iteration") and has("expected_downtime_ms") and has("eta_s") and has("data_total_mib")' "$tmp/m1.json"
check "mg1 runs on h2 only (libvirt and Ferry agree)" wait_until 5 exactly_one mg1 h2
check "mg1's heartbeat is continuous across the move" beats_after mg1 "$end"
job=$(jq -s 'map(select(.event == "started"))[0].job' "$tmp/m1.json")
check "the job's history has every state in order" \
	bash -c "ferryctl job $job --json | jq -e '[.history[] | select(.type == \"state\") | .state] | . == [\"pending\", \"checking\", \"migrating\", \"verifying\", \"succeeded\"]' > /dev/null"
check "jobs --json lists it with times" \
	bash -c "ferryctl jobs --json | jq -e '.[] | select(.id == $job) | .started_ms > 0 and .ended_ms >= .started_ms and .state == \"succeeded\"' > /dev/null"

# --- 2. refusals --------------------------------------------------------------
lab vm create mloc --host h1 --mem 128 --disk local > /dev/null
wait_until 10 exactly_one mloc h1
out=$(ferryctl check mloc --to h2 2>&1); rc=$?
names_disk() { [ "$rc" = 3 ] && grep -q "vda" <<< "$out" && grep -q BLOCKED <<< "$out"; }
check "check of a local-disk VM exits 3 naming disk vda" names_disk
ferryctl migrate mloc --to h2 --json > "$tmp/m2.json"; rc=$?
check "migrate of a local-disk VM exits 3" [ $rc = 3 ]
check "... ends refused, naming vda" jqe -s 'map(select(.event == "done"))[0] | .state == "refused" and (.error | test("vda"))' "$tmp/m2.json"
check "mloc keeps running on h1" exactly_one mloc h1
out=$(ferryctl migrate mg1 --to h2 2>&1); rc=$?
own_host() { [ "$rc" = 1 ] && grep -q "already runs on h2" <<< "$out"; }
check "migrating to its own host is refused" own_host
ferryctl migrate nosuchvm --to h2 > /dev/null 2>&1; rc=$?
check "an unknown VM is refused with exit 1" [ $rc = 1 ]
lab vm destroy mloc > /dev/null

# --- 3. abort mid-flight at 5 MiB/s ----------------------------------------------
# Dirtying slower than 5 MiB/s, so that the capped migrations converge:
# these are about faults, not convergence.
lab vm create mab --host h1 --mem 128 --dirty-mib 16 --dirty-rate 2 > /dev/null
wait_until 10 exactly_one mab h1
job=$(ferryctl migrate mab --to h2 --bandwidth 5 --no-wait)
check "migrate --no-wait prints the job id ($job)" is_number "$job"
wait_until 30 migrating_with_data "$job"
out=$(ferryctl migrate mab --to h3 2>&1); rc=$?
busy() { [ "$rc" = 1 ] && grep -q "in flight" <<< "$out"; }
check "a second migration of a VM in flight is refused" busy
ferryctl abort "$job" > /dev/null
check "aborted job ends within 30 s" wait_until 30 final "$job"
check "... as rolled_back" in_state "$job" rolled_back
abort_fate() {
	ferryctl job "$1" --json | jq -e --arg p "$2" \
	    '[.history[] | select(.type == "abort") | .data | tostring] | any(test($p))' > /dev/null
}
check "the history says libvirt accepted the abort" abort_fate "$job" "libvirt on h1 accepted it"
check "... and how the migration ended" abort_fate "$job" "the migration ended \\(not completed\\)"
check "mab runs on h1 only after the abort" wait_until 10 exactly_one mab h1
check "mab's heartbeat is continuous" beats_after mab "$(now_ms)"

# --- 4. destination libvirtd stopped mid-flight ---------------------------------
job=$(ferryctl migrate mab --to h3 --bandwidth 5 --no-wait)
wait_until 30 migrating_with_data "$job"
lab stop h3 libvirtd > /dev/null
note "h3's libvirtd stopped during job $job"
# The source notices through libvirt's keepalive; the outcome cannot be known
# until h3 answers again, so the job must not end before libvirtd returns.
wait_until 60 in_state "$job" verifying
sleep 3
not_final() { ! final "$1"; }
check "the job waits for the destination to answer (not final while it cannot)" not_final "$job"
lab start h3 libvirtd > /dev/null
check "job ends once h3's libvirtd is back" wait_until 120 final "$job"
st=$(job_state "$job")
host=$(on_one_host mab)
check "mab runs on exactly one host ($host) after a destination failure" [ -n "$host" ]
truthful() { { [ "$st" = rolled_back ] && [ "$host" = h1 ]; } || { [ "$st" = succeeded ] && [ "$host" = h3 ]; }; }
check "the final state ($st) agrees with where it runs ($host)" truthful
check "Ferry's records agree" wait_until 10 exactly_one mab "$host"
check "mab's heartbeat is continuous" beats_after mab "$(now_ms)"

# --- 5. the coordinator killed mid-flight, then restarted ------------------------
src=$host; dst=h2; [ "$src" = h2 ] && dst=h1
job=$(ferryctl migrate mab --to "$dst" --bandwidth 10 --no-wait)
wait_until 30 migrating_with_data "$job"
lab stop coordinator > /dev/null
note "coordinator killed (SIGKILL) during job $job"
sleep 2
lab start coordinator > /dev/null
ferryctl watch "$job" --json > "$tmp/w.json"
check "after restart, watch follows the job to its end" jqe -s 'map(select(.event == "done")) | length == 1' "$tmp/w.json"
st=$(job_state "$job")
host=$(on_one_host mab)
check "mab runs on exactly one host ($host) after the coordinator's crash" [ -n "$host" ]
truthful2() { { [ "$st" = succeeded ] && [ "$host" = "$dst" ]; } || { [ "$st" = rolled_back ] && [ "$host" = "$src" ]; }; }
check "the recovered job's final state ($st) agrees with libvirt ($host)" truthful2
check "Ferry's records agree" wait_until 10 exactly_one mab "$host"
check "no job is left unfinished" bash -c "[ \"\$(ferryctl jobs --json | jq '[.[] | select(.ended_ms == null)] | length')\" = 0 ]"
check "mab's heartbeat is continuous" beats_after mab "$(now_ms)"

lab vm destroy mg1 > /dev/null
lab vm destroy mab > /dev/null
finish
