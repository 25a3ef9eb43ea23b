#!/usr/bin/env bash
# Ceph RBD in the lab (tests/run brings it up with --storage ...,ceph): a
# guest whose disk QEMU opens with librbd from the lab's single-node Ceph, as
# client.ferry with the key in each host's libvirt secret. Check passes on
# both hosts (each opens the image with librados/librbd and its own key; the
# destination compares the image's size and id with the source's), migrate
# succeeds with the heartbeat unbroken and the VM on the destination only.
# Refused, naming why, and nothing started: the destination's key wrong, its
# secret missing, the image gone (renamed away), another image under the
# guest's name (no watcher: not the one its QEMU has open), the monitor
# stopped (within the check's deadline). Ceph stopped during a migration:
# the job ends in a final state that agrees with where libvirt runs the VM,
# on one host only, no copy left on the other, heartbeat unbroken.
. "$(dirname "$0")/lib.sh"

tmp=$(mktemp -d)
cleanup() {
	lab start ceph > /dev/null 2>&1
	lab ceph-secret h1 > /dev/null 2>&1
	lab ceph-secret h2 > /dev/null 2>&1
	lab rbd rm rbd/rb1 > /dev/null 2>&1
	lab rbd mv rbd/rb1-moved rbd/rb1 > /dev/null 2>&1
	lab vm destroy rb1 > /dev/null 2>&1
	lab vm destroy rb2 > /dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT

lab status | grep -q '^ceph ' || { notok "lab $LAB_ID has no Ceph (lab up --storage nfs,ceph)"; exit 1; }
mon="198.18.$LAB_ID.5:6789"
ms_since() { echo $(($(now_ms) - $1)); }
job_final() { case "$(ferryctl job "$1" --json 2> /dev/null | jq -r .job.state)" in succeeded|rolled_back|failed|refused) return 0;; esac; return 1; }
migrating() { [ "$(ferryctl job "$1" --json 2> /dev/null | jq -r .job.state)" = migrating ]; }
defined_on() { lab virsh "$2" list --all --name 2> /dev/null | grep -qx "$1"; }
# an RBD id is what rbd info prints as "id: ..."
image_id() { lab rbd info "$1" 2> /dev/null | awk '$1 == "id:" { print $2 }'; }

lab vm create rb1 --host h1 --mem 128 --dirty-mib 16 --dirty-rate 4 --disk rbd > /dev/null
wait_until 20 exactly_one rb1 h1
id=$(image_id rbd/rb1)

out=$(ferryctl check rb1 --to h2 2>&1); rc=$?
both_open() { [ "$rc" = 0 ] && [ "$(grep -c "storage:vda@h[12] .*ok .*QEMU Ceph RBD image rbd/rb1 (pool rbd) opens with this host's key, monitors $mon answering (64 MiB, id $id; 1 watcher" <<< "$out")" = 2 ]; }
check "check rb1 passes: both hosts open rbd/rb1 (id $id) with their own key" both_open || echo "$out" | sed 's/^/# /'
same_image() { grep -q "storage:vda@h2 .*ok .*the same image (size and id) as on the source" <<< "$out"; }
check "... the destination sees the same image size and id as the source" same_image
out=$(ferryctl check rb1 --to h2 --json 2>&1)
json_ok() { jq -e '[.checks[] | select(.name | startswith("storage:vda"))] | length == 2 and all(.ok)' <<< "$out" > /dev/null; }
check "... --json: both storage verdicts ok" json_ok || echo "$out" | head -c 800 | sed 's/^/# /'

ferryctl migrate rb1 --to h2 --json > "$tmp/m1.json"; rc=$?
end=$(now_ms)
check "migrate rb1 exits 0" [ $rc = 0 ]
check "... done event says succeeded on h2" jqe -s 'map(select(.event == "done"))[0] | .state == "succeeded" and .running_on == "h2"' "$tmp/m1.json"
check "... rb1 runs on h2 only (libvirt and Ferry agree)" wait_until 10 exactly_one rb1 h2
check "... rb1 is no longer defined on h1" bash -c "! lab virsh h1 dominfo rb1 > /dev/null 2>&1"
check "... rb1's heartbeat is continuous" beats_after rb1 "$end"
watcher_h2() { lab rbd status rbd/rb1 | grep -q "watcher=198.18.$LAB_ID.12:"; }
check "... the image's one watcher is h2's QEMU" watcher_h2

# refused_by DEST PATTERN DESC: check rb1 (on h2) --to DEST exits 3 with a
# BLOCKED storage verdict matching PATTERN, in --json too; migrate refuses
# and defines nothing on DEST.
refused_by() {
	local dst=$1 pat=$2 desc=$3 out rc t0 el
	t0=$(now_ms)
	out=$(ferryctl check rb1 --to "$dst" 2>&1); rc=$?
	el=$(ms_since "$t0")
	if [ "$rc" = 3 ] && grep -q "storage:vda@h[12] .*BLOCKED .*$pat" <<< "$out"; then
		ok "$desc: check exits 3 naming it ($el ms)"
	else
		notok "$desc: check exits 3 naming it (rc $rc)"
		echo "$out" | sed 's/^/# /'
	fi
	check "... within the check's deadline ($el ms < 15000)" [ "$el" -lt 15000 ]
	out=$(ferryctl check rb1 --to "$dst" --json 2>&1)
	jq -e --arg p "$pat" '[.checks[] | select(.name | startswith("storage:vda")) | select(.ok | not) | .reason | test($p)] | any' <<< "$out" > /dev/null &&
		ok "... --json: the storage verdict's reason says so" ||
		{ notok "... --json: the storage verdict's reason says so"; echo "$out" | head -c 800 | sed 's/^/# /'; }
	ferryctl migrate rb1 --to "$dst" --json > "$tmp/refused.json"; rc=$?
	check "... migrate exits 3, refused" bash -c "[ $rc = 3 ] && jq -e -s 'map(select(.event == \"done\"))[0].state == \"refused\"' $tmp/refused.json > /dev/null"
	if defined_on rb1 "$dst"; then notok "... nothing started: rb1 is defined on $dst"; else ok "... nothing started: rb1 is not defined on $dst"; fi
	check "... rb1 still runs on h2 only" exactly_one rb1 h2
}

# h1's secret holds another (well-formed) cephx key: the monitor refuses it
lab ceph-secret h1 AQBi0WlnAAAAABAAk4Mfa5ZRk+bxSQO5LHhiRg== > /dev/null
refused_by h1 "Ceph monitor $mon refused the key this host holds for client.ferry" "h1's key wrong"
lab virsh h1 secret-undefine "$(printf 'fe77ceb0-%04x-4000-8000-000000000000' "$LAB_ID")" > /dev/null
refused_by h1 "no libvirt secret fe77ceb0-[0-9a-f-]* on this host" "h1 has no secret"
lab ceph-secret h1 > /dev/null

# the image renamed away under the running guest (librbd allows it)
lab rbd mv rbd/rb1 rbd/rb1-moved > /dev/null
refused_by h1 "RBD image rbd/rb1 does not exist" "image missing"
# another image under the guest's name: opens fine, but nobody watches it
lab rbd create --size 64M rbd/rb1 > /dev/null
refused_by h1 "Ceph RBD image rbd/rb1 has no watcher although rb1 runs here" "another image under its name"
lab rbd rm rbd/rb1 > /dev/null 2>&1
lab rbd mv rbd/rb1-moved rbd/rb1 > /dev/null
check "image back: check passes again" wait_until 10 ferryctl check rb1 --to h1

lab stop ceph > /dev/null
refused_by h1 "Ceph monitor $mon unreachable" "monitor stopped"
lab start ceph > /dev/null
check "ceph back: check passes again" wait_until 30 ferryctl check rb1 --to h1
check "... rb1's heartbeat never reset" heartbeat_ok rb1

# Ceph stopped while a migration is in flight (5 MiB/s: ~25 s of copying),
# for 8 s. Whatever the outcome, it must be true and single.
lab vm create rb2 --host h1 --mem 128 --dirty-mib 16 --dirty-rate 2 --disk rbd > /dev/null
wait_until 20 exactly_one rb2 h1
job=$(ferryctl migrate rb2 --to h2 --bandwidth 5 --no-wait)
wait_until 30 migrating "$job"
sleep 3
lab stop ceph > /dev/null
sleep 8
lab start ceph > /dev/null
if wait_until 300 job_final "$job"; then ok "fault: job $job ends after Ceph came back"; else notok "fault: job $job not final after 300 s"; fi
st=$(ferryctl job "$job" --json | jq -r .job.state)
host=$(on_one_host rb2)
note "ceph stopped mid-migration: job $job $st, rb2 on ${host:-?}"
truthful() {
	{ [ "$st" = succeeded ] && [ "$host" = h2 ]; } || { [ "$st" = rolled_back ] && [ "$host" = h1 ]; } ||
	    { [ "$st" = failed ] && [ -n "$host" ] && ferryctl job "$job" --json | jq -r .job.error | grep -q "$host"; }
}
check "fault: rb2 runs on exactly one host (${host:-none})" [ -n "$host" ]
check "... the job's final state ($st) agrees with where it runs" truthful
check "... Ferry's records agree with libvirt" wait_until 10 exactly_one rb2 "${host:-none}"
other=h1; [ "$host" = h1 ] && other=h2
check "... no copy left on $other" bash -c "! lab virsh $other list --all --name 2> /dev/null | grep -qx rb2"
check "... rb2's heartbeat is continuous" beats_after rb2 "$(now_ms)"
check "... no job left unfinished" [ "$(ferryctl jobs --all --json | jq '[.[] | select(.ended_ms == null)] | length')" = 0 ]
finish
