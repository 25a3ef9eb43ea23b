#!/usr/bin/env bash
# GlusterFS in the lab (tests/run brings it up with --storage nfs,gluster):
# a guest whose disk is a file on the hosts' FUSE mounts (gluster-file) and
# one that QEMU opens over gluster:// are checked (the report names
# GlusterFS, the volume and the mount path) and migrated with heartbeats
# unbroken, each ending on the destination only (asked of libvirt). With
# the server stopped, check fails in its deadline with exit 3 naming the
# storage, and migrate starts nothing. With one host's path to the server
# cut (its mount hangs), that host's check fails in its deadline, and hostd
# still answers a check right after (no worker lost in the hung mount).
. "$(dirname "$0")/lib.sh"

tmp=$(mktemp -d)
cleanup() {
	lab link h1 up --to gluster > /dev/null 2>&1
	lab start gluster > /dev/null 2>&1
	for v in gf1 gn1 gnfs; do lab vm destroy "$v" > /dev/null 2>&1; done
	rm -rf "$tmp"
}
trap cleanup EXIT

lab status | grep -q '^gluster ' || { notok "lab $LAB_ID has no GlusterFS (lab up --storage nfs,gluster)"; exit 1; }
mnt=/var/lib/ferry-lab/$LAB_ID/gluster-mnt
ms_since() { echo $(($(now_ms) - $1)); }

lab vm create gf1 --host h1 --mem 128 --dirty-mib 16 --dirty-rate 4 --disk gluster-file > /dev/null
lab vm create gn1 --host h1 --mem 128 --dirty-mib 16 --dirty-rate 4 --disk gluster > /dev/null
wait_until 20 exactly_one gf1 h1
wait_until 20 exactly_one gn1 h1

# --- 1. checks pass, naming GlusterFS, volume and mount path ---------------------
out=$(ferryctl check gf1 --to h2 2>&1); rc=$?
names_fs() { [ "$rc" = 0 ] && grep -q "storage:vda@h1 .*ok .*on GlusterFS (fuse.glusterfs) volume ferry of 198.18.$LAB_ID.3, mounted at $mnt" <<< "$out" &&
	grep -q "storage:vda@h2 .*ok .*the source's nonce is visible here and the server answers" <<< "$out"; }
check "check gf1 (gluster-file) passes naming GlusterFS, volume ferry and $mnt" names_fs || echo "$out" | sed 's/^/# /'
ferryctl check gf1 --to h2 --json > "$tmp/c1.json"
check "... and so does --json" jqe '.ok and ([.checks[] | select(.name | startswith("storage:vda")) | .reason | test("GlusterFS.*volume ferry.*mounted at")] | length == 2)' "$tmp/c1.json"
out=$(ferryctl check gn1 --to h2 2>&1); rc=$?
names_net() { [ "$rc" = 0 ] && [ "$(grep -c "storage:vda@h[12] .*ok .*QEMU GlusterFS image gluster://198.18.$LAB_ID.3/ferry/gn1.qcow2 (volume ferry), glusterd answering" <<< "$out")" = 2 ]; }
check "check gn1 (gluster://) passes on both hosts naming the volume" names_net || echo "$out" | sed 's/^/# /'

# --- 2. both migrate live ------------------------------------------------------------
for v in gf1 gn1; do
	ferryctl migrate "$v" --to h2 --json > "$tmp/m-$v.json"; rc=$?
	end=$(now_ms)
	check "migrate $v exits 0" [ $rc = 0 ]
	check "... done event says succeeded on h2" jqe -s 'map(select(.event == "done"))[0] | .state == "succeeded" and .running_on == "h2"' "$tmp/m-$v.json"
	check "... $v runs on h2 only (libvirt and Ferry agree)" wait_until 10 exactly_one "$v" h2
	check "... $v's heartbeat is continuous" beats_after "$v" "$end"
done

# --- 3. the server stopped: blocked within the deadline, nothing starts ---------------
lab stop gluster > /dev/null
t0=$(now_ms)
out=$(ferryctl check gf1 --to h1 2>&1); rc=$?
el=$(ms_since "$t0")
stopped_named() { [ "$rc" = 3 ] && grep -q "storage:vda@h2 .*BLOCKED .*fuse.glusterfs 198.18.$LAB_ID.3:/ferry mounted at $mnt" <<< "$out"; }
check "server stopped: check gf1 exits 3 naming the GlusterFS mount" stopped_named || echo "$out" | sed 's/^/# /'
check "... within its deadline ($el ms < 15000)" [ "$el" -lt 15000 ]
t0=$(now_ms)
out=$(ferryctl check gn1 --to h1 2>&1); rc=$?
el=$(ms_since "$t0")
net_named() { [ "$rc" = 3 ] && grep -q "BLOCKED .*GlusterFS server does not answer from here: 198.18.$LAB_ID.3 port 24007" <<< "$out"; }
check "server stopped: check gn1 exits 3 naming glusterd ($el ms)" net_named || echo "$out" | sed 's/^/# /'
ferryctl migrate gf1 --to h1 --json > "$tmp/m3.json"; rc=$?
check "server stopped: migrate gf1 exits 3, refused" bash -c "[ $rc = 3 ] && jq -e -s 'map(select(.event == \"done\"))[0].state == \"refused\"' $tmp/m3.json > /dev/null"
check "... nothing started: gf1 on h2 only, nothing on h1" exactly_one gf1 h2
check "... and h1's libvirt has no gf1 at all" bash -c "! lab virsh h1 dominfo gf1 > /dev/null 2>&1"
lab start gluster > /dev/null
check "server back: check gf1 passes again" wait_until 60 ferryctl check gf1 --to h1

# --- 4. one host's mount hung: that host's check fails in time; hostd still answers ----
lab vm create gnfs --host h2 --mem 128 --dirty-mib 8 --dirty-rate 2 --disk nfs > /dev/null
wait_until 20 exactly_one gnfs h2
lab link h1 down --to gluster > /dev/null
t0=$(now_ms)
out=$(ferryctl check gf1 --to h1 2>&1); rc=$?
el=$(ms_since "$t0")
hung_named() { [ "$rc" = 3 ] && grep -q "storage:vda@h1 .*BLOCKED .*timed out after .* ms (hung mount?) (on fuse.glusterfs 198.18.$LAB_ID.3:/ferry mounted at $mnt)" <<< "$out"; }
check "h1's mount hung: check on h1 exits 3, hung mount named" hung_named || echo "$out" | sed 's/^/# /'
check "... within its deadline ($el ms < 15000)" [ "$el" -lt 15000 ]
# three more hung checks at once, then one that needs h1's hostd
for i in 1 2 3; do ferryctl check gf1 --to h1 > /dev/null 2>&1 & done
sleep 1
t0=$(now_ms)
out=$(ferryctl check gnfs --to h1 2>&1); rc=$?
el=$(ms_since "$t0")
wait
answers() { [ "$rc" = 0 ] && grep -q "cpu@h1 .*ok" <<< "$out"; }
check "... while hung checks run, h1's hostd still answers another check ($el ms)" answers || echo "$out" | sed 's/^/# /'
check "... h1 stays up" [ "$(host_state h1)" = up ]
lab link h1 up --to gluster > /dev/null
check "path back: check gf1 on h1 passes again" wait_until 90 ferryctl check gf1 --to h1
finish
