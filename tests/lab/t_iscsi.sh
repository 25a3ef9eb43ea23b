#!/usr/bin/env bash
# iSCSI in the lab (tests/run brings it up with --storage ...,iscsi): a guest
# whose disk QEMU opens over iscsi:// (libiscsi) from the lab's tgtd. Check
# passes on both hosts (each logs in to the same target IQN and LUN and reads
# its size and serial; the destination compares them with the source's), migrate succeeds with the heartbeat unbroken, the VM
# on the destination only; with the target stopped, check exits 3 within its
# deadline naming the target and portal, and migrate starts nothing.
. "$(dirname "$0")/lib.sh"

tmp=$(mktemp -d)
cleanup() {
	lab start iscsi > /dev/null 2>&1
	lab vm destroy is1 > /dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT

lab status | grep -q '^iscsi ' || { notok "lab $LAB_ID has no iSCSI target (lab up --storage nfs,iscsi)"; exit 1; }
iqn="iqn.2026-12.test.ferry-lab$LAB_ID:is1"
portal="198.18.$LAB_ID.4"
ms_since() { echo $(($(now_ms) - $1)); }

lab vm create is1 --host h1 --mem 128 --dirty-mib 16 --dirty-rate 4 --disk iscsi > /dev/null
wait_until 20 exactly_one is1 h1

out=$(ferryctl check is1 --to h2 2>&1); rc=$?
both_login() { [ "$rc" = 0 ] && [ "$(grep -c "storage:vda@h[12] .*ok .*QEMU iSCSI LUN 1 of target $iqn at portal $portal answers (64 MiB, serial [^ )]" <<< "$out")" = 2 ]; }
check "check is1 passes: both hosts log in to $iqn LUN 1 (size, serial)" both_login || echo "$out" | sed 's/^/# /'
same_lun() { grep -q "storage:vda@h2 .*ok .*the same LUN (size and serial) as on the source" <<< "$out"; }
check "... the destination sees the same LUN size and serial as the source" same_lun

ferryctl migrate is1 --to h2 --json > "$tmp/m1.json"; rc=$?
end=$(now_ms)
check "migrate is1 exits 0" [ $rc = 0 ]
check "... done event says succeeded on h2" jqe -s 'map(select(.event == "done"))[0] | .state == "succeeded" and .running_on == "h2"' "$tmp/m1.json"
check "... is1 runs on h2 only (libvirt and Ferry agree)" wait_until 10 exactly_one is1 h2
check "... is1's heartbeat is continuous" beats_after is1 "$end"

lab stop iscsi > /dev/null
t0=$(now_ms)
out=$(ferryctl check is1 --to h1 2>&1); rc=$?
el=$(ms_since "$t0")
named() { [ "$rc" = 3 ] && grep -q "storage:vda@h2 .*BLOCKED .*login to $iqn at $portal:3260 failed" <<< "$out"; }
check "target stopped: check exits 3 naming the target and portal" named || echo "$out" | sed 's/^/# /'
check "... within its deadline ($el ms < 15000)" [ "$el" -lt 15000 ]
ferryctl migrate is1 --to h1 --json > "$tmp/m2.json"; rc=$?
check "target stopped: migrate exits 3, refused" bash -c "[ $rc = 3 ] && jq -e -s 'map(select(.event == \"done\"))[0].state == \"refused\"' $tmp/m2.json > /dev/null"
check "... nothing started: is1 on h2 only, not defined on h1" bash -c "! lab virsh h1 dominfo is1 > /dev/null 2>&1"
check "... is1 still runs on h2 only" exactly_one is1 h2
lab start iscsi > /dev/null
check "target back: check passes again" wait_until 30 ferryctl check is1 --to h1
finish
