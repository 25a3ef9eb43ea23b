#!/usr/bin/env bash
# An abort asked while the source's hostd cannot be reached, then the
# coordinator killed before any hostd heard of it: the restarted coordinator
# reads the pending abort from its journal and carries it out (the VM stays
# on its source, the job rolls back), instead of letting the migration it
# was asked to stop complete.
. "$(dirname "$0")/lib.sh"

vm=ar$RANDOM
table=ferrylab_abort$LAB_ID
job_state() { ferryctl job "$1" --json 2> /dev/null | jq -r .job.state; }
migrating() { [ "$(job_state "$1")" = migrating ]; }
job_final() { case "$(job_state "$1")" in succeeded|rolled_back|failed|refused) return 0;; esac; return 1; }
host_is() { [ "$(host_state "$1")" = "$2" ]; }
all_up() { [ "$(ferryctl hosts --json | jq '[.[] | select(.state == "up")] | length')" = 3 ]; }
cleanup() { lab exec h1 nft delete table inet "$table" 2> /dev/null; lab vm destroy "$vm" > /dev/null 2>&1; }
trap cleanup EXIT

lab vm create "$vm" --host h1 --mem 128 --dirty-mib 16 --dirty-rate 2 > /dev/null
check "$vm runs on h1" wait_until 30 exactly_one "$vm" h1
# 2 MiB/s: the copy outlasts everything below by a minute.
job=$(ferryctl migrate "$vm" --to h2 --bandwidth 2 --no-wait)
check "job $job migrating" wait_until 30 migrating "$job"
# The coordinator's packets to h1's hostd answered with resets: the
# session dies at once and no abort can reach h1 (its libvirt and the
# migration's own connections are untouched).
printf 'table inet %s {\n\tchain in { type filter hook input priority 0; tcp dport 7220 reject with tcp reset; }\n}\n' "$table" |
	lab exec h1 nft -f -
check "h1 is down for the coordinator" wait_until 20 host_is h1 down
out=$(ferryctl abort "$job" 2>&1); rc=$?
note "abort: rc $rc: $out"
check "the abort request is journaled" \
	bash -c "ferryctl job $job --json | jq -e '[.history[] | select(.type == \"abort-request\")] | length == 1' > /dev/null"
check "job $job still migrating (the abort is pending)" migrating "$job"
lab stop coordinator > /dev/null
lab exec h1 nft delete table inet "$table"
lab start coordinator > /dev/null
check "hosts back" wait_until 30 all_up
check "job $job ended within 120 s" wait_until 120 job_final "$job"
st=$(job_state "$job")
check "job $job rolled back after the restart (it says $st)" test "$st" = rolled_back
check "$vm runs on h1 only, Ferry agrees" wait_until 20 exactly_one "$vm" h1
check "its history says the abort was taken up again" \
	bash -c "ferryctl job $job --json | jq -e '[.history[] | select(.type == \"abort\") | .data | tostring] | any(test(\"abort pending\"))' > /dev/null"
check "nothing left on h2" bash -c "! \"$LAB\" --id $LAB_ID virsh h2 list --all --name | grep -qx $vm"
check "$vm's heartbeat never reset" beats_after "$vm" "$(now_ms)"
ferryctl job "$job" 2>&1 | tail -12 | sed 's/^/# /'
finish
