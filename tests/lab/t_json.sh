#!/usr/bin/env bash
# One JSON vocabulary (issue 13): every --json output of every command, on a
# live cluster, validates against its schema in docs/schema/ (with Debian's
# python3-jsonschema, tests/lab/jsonschema-check), and carries no number of
# more than 6 significant digits. With --json an error is
# {"error":{"code","message"}} on stdout, with the exit status it has without
# --json. `ferryctl watch ID --json | head -1` returns within 1 s.
. "$(dirname "$0")/lib.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
SCHEMA="$REPO/tests/lab/jsonschema-check"

# valid DESC SCHEMA[|SCHEMA] FILE
valid() {
	if "$SCHEMA" "$2" "$3" 2> "$tmp/verr"; then
		ok "$1"
	else
		notok "$1"
		head -20 "$tmp/verr" | sed 's/^/# /'
	fi
}
# run NAME ARGS...: ferryctl ARGS > $tmp/NAME.json, its status in $tmp/NAME.rc
run() {
	local n=$1
	shift
	ferryctl "$@" > "$tmp/$n.json" 2> "$tmp/$n.err"
	echo $? > "$tmp/$n.rc"
}
rc_of() { cat "$tmp/$1.rc"; }

lab vm create js1 --host h1 --mem 256 --dirty-mib 16 --dirty-rate 8 > /dev/null
check "js1 runs on h1" wait_until 20 exactly_one js1 h1

# --- the cluster's objects ----------------------------------------------------
run hosts hosts --json
check "hosts --json exits 0" [ "$(rc_of hosts)" = 0 ]
valid "hosts --json is hosts" hosts "$tmp/hosts.json"
run accept hosts accept h1 --json
valid "hosts accept --json is a host or an error (exit $(rc_of accept))" "host|error" "$tmp/accept.json"
run vms vms --json
valid "vms --json is vms" vms "$tmp/vms.json"
run vmsh vms --host h1 --json
valid "vms --host --json is vms" vms "$tmp/vmsh.json"
run check check js1 --to h2 --json
check "check --json exits 0" [ "$(rc_of check)" = 0 ]
valid "check --json is a check report" check "$tmp/check.json"
run place place js1 --json
valid "place --json is a placement" place "$tmp/place.json"
run cpub cpu-baseline --json
valid "cpu-baseline --json is a CPU baseline" cpu-baseline "$tmp/cpub.json"
ferryctl snapshot > "$tmp/snap.json"
valid "snapshot is a snapshot" snapshot "$tmp/snap.json"
run plan plan --snapshot "$tmp/snap.json" --json
valid "plan --json is a plan" plan "$tmp/plan.json"
run plan2 plan --snapshot "$tmp/snap.json" --policy consolidate --json
valid "plan --policy consolidate --json is a plan" plan "$tmp/plan2.json"
run rebal rebalance --json
valid "rebalance --json is a plan" plan "$tmp/rebal.json"
run status status --json
check "status --json exits 0" [ "$(rc_of status)" = 0 ]
valid "status --json is a coordinator status" status "$tmp/status.json"
check "... the leader, 3 hosts up of 3" jqe '.role == "leader" and .hosts_up == 3 and .hosts == 3' "$tmp/status.json"

# --- a job while it runs: its vms entries, watch, watch | head -1, abort -------
run nowait migrate js1 --to h2 --bandwidth 5 --no-wait --json
check "migrate --no-wait --json exits 0" [ "$(rc_of nowait)" = 0 ]
valid "migrate --no-wait --json is a started event" job-event "$tmp/nowait.json"
job=$(jq -r .job "$tmp/nowait.json")
migrating() { ferryctl vms --json | jq -e 'any(.[]; .role == "incoming") and any(.[]; .role == "outgoing")' > /dev/null; }
check "js1 is listed on both hosts while it migrates" wait_until 30 migrating
run vmsmig vms --json
valid "vms --json of a migrating VM is vms" vms "$tmp/vmsmig.json"
check "both copies name job $job" jqe --argjson j "$job" '[.[] | select(.name == "js1") | .job] == [$j, $j]' "$tmp/vmsmig.json"
progress() { ferryctl job "$job" --json | jq -e '[.history[] | select(.type == "progress")] | length > 0' > /dev/null; }
wait_until 30 progress
t0=$(now_ms)
timeout 10 bash -c "ferryctl watch $job --json | head -1" > "$tmp/head.json"
t1=$(now_ms)
note "watch --json | head -1 took $((t1 - t0)) ms"
check "watch $job --json | head -1 returns within 1 s ($((t1 - t0)) ms)" [ $((t1 - t0)) -lt 1000 ]
valid "... and its line is a job event" job-event "$tmp/head.json"
run jobrun job "$job" --json
valid "job --json of a running job is a job and its history" job-detail "$tmp/jobrun.json"
run jobs jobs --json
valid "jobs --json is jobs" jobs "$tmp/jobs.json"
run abort abort "$job" --json
check "abort --json exits 0" [ "$(rc_of abort)" = 0 ]
valid "abort --json is a job" job "$tmp/abort.json"
run watch watch "$job" --json
note "watch of the aborted job exits $(rc_of watch)"
valid "watch --json is a stream of job events" "job-event|error" "$tmp/watch.json"
check "... ending with done" jqe -s '.[-1].event == "done"' "$tmp/watch.json"
run jobend job "$job" --json
valid "job --json of an ended job is a job and its history" job-detail "$tmp/jobend.json"
check "js1 still runs on h1 only" wait_until 20 exactly_one js1 h1

# --- a migration followed to its end ---------------------------------------------
run mig migrate js1 --to h3 --json
check "migrate --json exits 0" [ "$(rc_of mig)" = 0 ]
valid "migrate --json is a stream of job events" "job-event|error" "$tmp/mig.json"
check "... started, progress or state, done" jqe -s '.[0].event == "started" and .[-1].event == "done" and .[-1].state == "succeeded"' "$tmp/mig.json"
job2=$(jq -s -r '.[0].job' "$tmp/mig.json")
run job2 job "$job2" --json
valid "job --json of a succeeded migration is a job and its history" job-detail "$tmp/job2.json"
check "js1 runs on h3" wait_until 20 exactly_one js1 h3

# --- maintenance: dry run, a followed drain, its restore, cancel ----------------
run dry maintenance enter h3 --dry-run --json
valid "maintenance enter --dry-run --json is a drain" drain "$tmp/dry.json"
run drain maintenance enter h3 --wait --json
check "maintenance enter --wait --json exits 0" [ "$(rc_of drain)" = 0 ]
valid "maintenance enter --wait --json is a stream of drain events" "drain-event|error" "$tmp/drain.json"
check "... plan, items, done with the run's id" jqe -s '.[0].event == "plan" and .[-1].event == "done" and .[-1].run == .[0].drain.id' "$tmp/drain.json"
run hostsm hosts --json
valid "hosts --json with a host in maintenance is hosts" hosts "$tmp/hostsm.json"
run cancel maintenance cancel h3 --json
valid "maintenance cancel --json of no drain is a drain or an error (exit $(rc_of cancel))" "drain|error" "$tmp/cancel.json"
run restore maintenance exit h3 --restore --wait --json
check "maintenance exit --restore --wait --json exits 0" [ "$(rc_of restore)" = 0 ]
valid "maintenance exit --restore --wait --json is a stream of drain events" "drain-event|error" "$tmp/restore.json"
check "js1 is back on h3" wait_until 30 exactly_one js1 h3
run dry2 maintenance enter h2 --dry-run --json
run exit2 maintenance exit h2 --json
valid "maintenance exit --json is a drain" "drain" "$tmp/exit2.json"
run apply rebalance --apply --json
note "rebalance --apply exits $(rc_of apply)"
valid "rebalance --apply --json is a plan, then drain events" "plan|drain-event|error" "$tmp/apply.json"
check "... its first line is the plan" jqe -s '.[0] | has("moves")' "$tmp/apply.json"
run audit audit --json
check "audit --json exits 0" [ "$(rc_of audit)" = 0 ]
valid "audit --json is the audit trail" audit "$tmp/audit.json"
check "... naming this test's migrate of js1" jqe 'any(.[]; .what == "migrate" and .args.vm == "js1")' "$tmp/audit.json"

# --- errors: JSON on stdout, the same exit status as without --json ------------
# jerr NAME CODE ARGS...: ferryctl ARGS with and without --json.
jerr() {
	local n=$1 code=$2 rc_plain
	shift 2
	ferryctl "$@" > /dev/null 2> "$tmp/$n.plain.err"
	rc_plain=$?
	ferryctl "$@" --json > "$tmp/$n.json" 2> "$tmp/$n.err"
	echo $? > "$tmp/$n.rc"
	check "$* --json exits $rc_plain, as without --json" [ "$(rc_of "$n")" = "$rc_plain" ]
	valid "... and prints an error object" error "$tmp/$n.json"
	check "... with code $code" jqe --arg c "$code" '.error.code == $c and (.error.message | length > 0)' "$tmp/$n.json"
}
jerr unknownvm failed check nosuch-vm
check "... naming the VM" grep -q nosuch-vm "$tmp/unknownvm.json"
jerr unknownmig failed migrate nosuch-vm --to h2
jerr unknownjob failed job 99999
jerr badopt usage vms --bogus
jerr badid usage watch 12x
FERRY_SOCKET="$tmp/nobody.sock" jerr unreachable unreachable hosts
check "unreachable exits 4" [ "$(rc_of unreachable)" = 4 ]

lab vm destroy js1 > /dev/null
finish
