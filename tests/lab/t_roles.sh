#!/usr/bin/env bash
# Which copy is which (issue 13): a VM being migrated is listed on both
# hosts, the destination's marked incoming and the source's outgoing, with
# the job; and a host's administrative state (active, draining,
# maintenance) survives its connection state (up, down).
. "$(dirname "$0")/lib.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

lab vm create rg1 --host h1 --mem 256 --dirty-mib 32 --dirty-rate 8 > /dev/null
check "rg1 runs on h1" wait_until 20 exactly_one rg1 h1
job=$(ferryctl migrate rg1 --to h2 --bandwidth 5 --no-wait); rc=$?
check "a slow migration starts ($job)" [ $rc = 0 ]
role_of() { ferryctl vms --json | jq -r --arg h "$1" '.[] | select(.name == "rg1" and .host == $h) | "\(.role)/\(.job)"'; }
both_marked() { [ "$(role_of h2)" = "incoming/$job" ] && [ "$(role_of h1)" = "outgoing/$job" ]; }
check "vms --json: incoming on h2, outgoing on h1, with job $job" wait_until 60 both_marked
note "h1: $(role_of h1), h2: $(role_of h2)"
check "the table marks the incoming copy" bash -c "ferryctl vms | grep -E '^rg1 +h2 .*incoming:$job' > /dev/null"
ferryctl abort "$job" > /dev/null 2>&1
final() { case "$(ferryctl job "$job" --json | jq -r .job.state)" in succeeded|rolled_back|failed) return 0;; esac; return 1; }
check "the job ends" wait_until 120 final
unmarked() { [ "$(ferryctl vms --json | jq '[.[] | select(.name == "rg1" and .role != null)] | length')" = 0 ]; }
check "after the job no copy is marked" wait_until 20 unmarked
lab vm destroy rg1 > /dev/null

ferryctl maintenance enter h3 --wait > /dev/null; rc=$?
check "h3 (empty) enters maintenance" [ $rc = 0 ]
check "h3: up and maintenance" [ "$(host_state h3)/$(host_admin h3)" = up/maintenance ]
lab stop h3 hostd > /dev/null
check "h3's hostd stopped: down, and still in maintenance" wait_until 30 bash -c "[ \"\$(ferryctl hosts --json | jq -r '.[] | select(.name == \"h3\") | \"\(.state)/\(.admin_state)\"')\" = down/maintenance ]"
check "the table shows both" bash -c "ferryctl hosts | grep -E '^h3 +down +maintenance ' > /dev/null"
lab start h3 hostd > /dev/null
check "h3 back: up, still in maintenance" wait_until 30 bash -c "[ \"\$(ferryctl hosts --json | jq -r '.[] | select(.name == \"h3\") | \"\(.state)/\(.admin_state)\"')\" = up/maintenance ]"
ferryctl maintenance exit h3 > /dev/null
check "maintenance exit: up/active" wait_until 10 bash -c "[ \"\$(ferryctl hosts --json | jq -r '.[] | select(.name == \"h3\") | \"\(.state)/\(.admin_state)\"')\" = up/active ]"
finish
