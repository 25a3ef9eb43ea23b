#!/usr/bin/env bash
# --copy-storage: a guest whose qcow2 disk is a file on h1's own filesystem
# (lab vm create --disk local: /var/lib/libvirt/images, a tmpfs of each host)
# is refused without it and checked with it (the report's storage fields
# name the filesystem and mount); refused when the destination lacks room
# (nothing created there); migrated live with it (heartbeat unbroken, on h2
# only, the disk's content identical to the source's copy, which is left
# alone, and the final figures those of libvirt's completed-job statistics);
# refused back onto the source's leftover copy; and with the destination's
# link cut during the copy, rolled back: the VM on its source only, the
# destination's partial copy removed; aborted by the operator during the
# copy, the same; a drain with --copy-storage empties a host whose guest has
# a local disk (unmovable without it). The guest checks its own disk all the
# while (lab vm create --disk-verify): every block it wrote before and
# during each copy reads back the same on whichever host runs it.
. "$(dirname "$0")/lib.sh"

tmp=$(mktemp -d)
img=/var/lib/libvirt/images/cs1.qcow2
cleanup() {
	lab link h1 up > /dev/null 2>&1
	ferryctl maintenance exit h2 > /dev/null 2>&1
	lab exec h2 umount /var/lib/libvirt/images > /dev/null 2>&1
	lab vm destroy cs1 > /dev/null 2>&1
	for h in h1 h2; do lab exec "$h" rm -f "$img" > /dev/null 2>&1; done
	rm -rf "$tmp"
}
trap cleanup EXIT

has_file() { lab exec "$1" test -e "$img"; }
no_file() { ! has_file "$1"; }
# sha256 of the image's guest-visible content (raw), read beside QEMU's
# lock, but for the MiB at 48 MiB where the guest keeps writing and checks
# its blocks itself (lab disk-verify)
disk_sum() {
	lab exec "$1" qemu-img convert -U -f qcow2 -O raw "$img" "$tmp/$1.raw" &&
		{ dd if="$tmp/$1.raw" bs=1M count=48 status=none; dd if="$tmp/$1.raw" bs=1M skip=49 status=none; } |
		sha256sum | cut -d' ' -f1
	rm -f "$tmp/$1.raw"
}
# MiB of a virsh domjobinfo line ("Data processed:   90.283 MiB")
jobinfo_mib() {
	awk -v k="$2:" 'index($0, k) == 1 { v = $(NF - 1); u = $NF;
		if (u == "KiB") v /= 1024; else if (u == "GiB") v *= 1024; else if (u == "B") v /= 1048576;
		printf "%.1f\n", v }' "$1"
}

# a copy left by an earlier run would (rightly) be refused
for h in h1 h2; do lab exec "$h" rm -f "$img"; done
lab vm create cs1 --host h1 --mem 128 --dirty-mib 8 --dirty-rate 2 --disk local --disk-verify > /dev/null
wait_until 20 exactly_one cs1 h1
sum0=$(disk_sum h1)
# the guest's verdict on its disk since $1 (ms), waited for
guest_disk_ok() { out=$(lab disk-verify cs1 --since-ms "$1" --wait 20); rc=$?; note "$out"; [ $rc = 0 ]; }
check "the guest writes its disk and reads it back (on h1)" guest_disk_ok "$(now_ms)"

# --- 1. refused without --copy-storage, checked with it ---------------------------
out=$(ferryctl check cs1 --to h2 2>&1); rc=$?
refused_local() { [ "$rc" = 3 ] && grep -q "storage:vda@h1 .*BLOCKED .*$img is on tmpfs mounted at /var/lib/libvirt .*not on shared storage" <<< "$out"; }
check "check without --copy-storage exits 3: a local disk is not shared" refused_local || echo "$out" | sed 's/^/# /'
ferryctl check cs1 --to h2 --copy-storage --json > "$tmp/c.json"; rc=$?
check "check --copy-storage passes (exit $rc)" [ "$rc" = 0 ] || jq -c '.checks[] | select(.ok == false)' "$tmp/c.json" | sed 's/^/# /'
check "... the source names the copy and its storage in separate fields" jqe '.checks[] | select(.name == "storage:vda@h1") |
	.ok and (.reason | test("qcow2, 64 MiB.*to be copied")) and .filesystem == "tmpfs" and .mount == "/var/lib/libvirt"' "$tmp/c.json"
check "... the destination has room and does not share the directory" jqe '.checks[] | select(.name == "storage:vda@h2") |
	.ok and (.reason | test("MiB free in /var/lib/libvirt/images, not shared with the source"))' "$tmp/c.json"
check "... a check creates nothing on h2" no_file h2

# --- 2. the destination lacks room: refused, nothing created ------------------------
lab exec h2 mount -t tmpfs -o size=16m tmpfs /var/lib/libvirt/images
ferryctl migrate cs1 --to h2 --copy-storage --json > "$tmp/m0.json"; rc=$?
check "no room on h2: migrate exits 3" [ "$rc" = 3 ]
check "... refused, naming the room needed and free" jqe -s 'map(select(.event == "done"))[0] |
	.state == "refused" and (.error | test("not enough room for '"$img"' here: 64 MiB needed \\(its virtual size\\), 1[0-9] MiB free"))' "$tmp/m0.json" ||
	jq -c -s 'map(select(.event == "done"))[0].error' "$tmp/m0.json" | sed 's/^/# /'
check "... cs1 still on h1 only" exactly_one cs1 h1
check "... nothing created on h2" no_file h2
lab exec h2 umount /var/lib/libvirt/images

# --- 3. migrated live with its disk ----------------------------------------------------
# 16 MiB/s: the disk's copy lasts seconds, so progress samples it even on
# a loaded machine (unlimited, it was over before the first sample once).
ferryctl migrate cs1 --to h2 --copy-storage --bandwidth 16 --json > "$tmp/m1.json"; rc=$?
end=$(now_ms)
check "migrate --copy-storage exits 0" [ "$rc" = 0 ]
check "... done: succeeded, running on h2" jqe -s 'map(select(.event == "done"))[0] | .state == "succeeded" and .running_on == "h2"' "$tmp/m1.json"
check "... the progress line counted the disk (64 MiB of 64)" jqe -s '[.[] | select(.event == "progress" and .disk_total_mib == 64)] | length > 0' "$tmp/m1.json"
check "... cs1 runs on h2 only (libvirt and Ferry agree)" wait_until 10 exactly_one cs1 h2
check "... heartbeat unbroken" beats_after cs1 "$end"
check "... the guest reads back on h2 every block it wrote on h1 and during the copy" guest_disk_ok "$end"
sum2=$(disk_sum h2)
check "... disk content identical on h2 (sha256 ${sum2:0:12})" [ -n "$sum2" ] && [ "$sum2" = "$sum0" ]
check "... the pattern written before the copy reads back on h2" bash -c "lab() { \"$LAB\" --id $LAB_ID \"\$@\"; }; \
	out=\$(lab exec h2 qemu-io -U -r -f qcow2 -c 'read -P 0x5a 0 4M' -c 'read -P 0xa5 32M 2M' $img 2>&1); \
	! grep -q 'verification failed' <<< \"\$out\" && [ \$(grep -c '^read ' <<< \"\$out\") = 2 ]"
check "... the source's copy is left alone (same content)" [ "$(disk_sum h1)" = "$sum0" ]
lab virsh h2 domjobinfo cs1 --completed --keep-completed > "$tmp/ji.txt"
dmib=$(jobinfo_mib "$tmp/ji.txt" "Data processed")
dt=$(awk '/^Total downtime:/ { print $3 }' "$tmp/ji.txt")
fmib=$(jobinfo_mib "$tmp/ji.txt" "File processed")
check "... data figure is libvirt's completed one ($dmib MiB)" jqe -s --arg d "$dmib" 'map(select(.event == "done"))[0] | (.data_mib - ($d | tonumber) | fabs) < 0.11' "$tmp/m1.json"
check "... downtime is libvirt's measured one ($dt ms)" jqe -s --argjson t "$dt" 'map(select(.event == "done"))[0].downtime_ms == $t' "$tmp/m1.json"
# libvirt 9.0's destination keeps no disk figures of an incoming copy: then
# Ferry claims none either
if [ -n "$fmib" ]; then
	check "... disk figure is libvirt's completed one ($fmib MiB)" jqe -s --arg d "$fmib" 'map(select(.event == "done"))[0] | (.disk_mib - ($d | tonumber) | fabs) < 0.11' "$tmp/m1.json"
else
	check "... no disk figure claimed: libvirt's completed statistics have none" jqe -s 'map(select(.event == "done"))[0] | .disk_mib == null' "$tmp/m1.json"
fi

# --- 4. back onto the source's leftover copy: refused, never copied over -----------------
ferryctl migrate cs1 --to h1 --copy-storage --json > "$tmp/m2.json"; rc=$?
check "back to h1 (its old copy still there): exits 3, refused" [ "$rc" = 3 ]
check "... naming the existing file" jqe -s 'map(select(.event == "done"))[0].error | test("already exists here .*never copied over")' "$tmp/m2.json"
check "... cs1 on h2 only" exactly_one cs1 h2
check "... h1's old copy unchanged" [ "$(disk_sum h1)" = "$sum0" ]
lab exec h1 rm -f "$img"

# --- 5. the destination's link cut during the copy: rolled back, partial copy removed ------
ferryctl migrate cs1 --to h1 --copy-storage --bandwidth 1 --timeout 12 --json > "$tmp/m3.json" &
mpid=$!
copying() { jq -e -s '[.[] | select(.event == "progress" and .disk_processed_mib > 0)] | length > 0' "$tmp/m3.json"; }
check "copy under way (disk progress seen)" wait_until 60 copying
check "... the destination's copy exists on h1" has_file h1
lab link h1 down > /dev/null
cut=$(now_ms)
# The policy's completion timeout (12 s) aborts the stalled copy; libvirt
# ends the job once the link is back at the latest; the verification waits
# for h1 too: never concluded on one host's word.
left_migrating() { jq -e -s '[.[] | select(.event == "state" and .state == "verifying")] | length > 0' "$tmp/m3.json"; }
wait_until 25 left_migrating
note "the migration ended $(($(now_ms) - cut)) ms after the cut"
lab link h1 up > /dev/null
wait $mpid; rc=$?
check "link cut: migrate exits non-zero ($rc)" [ "$rc" != 0 ]
check "... rolled back" jqe -s 'map(select(.event == "done"))[0].state == "rolled_back"' "$tmp/m3.json" || tail -2 "$tmp/m3.json" | sed 's/^/# /'
check "... cs1 runs on h2 only" wait_until 30 exactly_one cs1 h2
check "... heartbeat unbroken" beats_after cs1 "$cut"
check "... the partial copy on h1 removed" wait_until 30 no_file h1
check "... h2's disk untouched" [ "$(disk_sum h2)" = "$sum0" ]
check "... the guest's blocks read back on h2" guest_disk_ok "$(now_ms)"

# --- 5b. aborted by the operator during the copy: the same ----------------------------
ferryctl migrate cs1 --to h1 --copy-storage --bandwidth 1 --json > "$tmp/m4.json" &
mpid=$!
copying4() { jq -e -s '[.[] | select(.event == "progress" and .disk_processed_mib > 0)] | length > 0' "$tmp/m4.json"; }
check "copy under way again (disk progress seen)" wait_until 60 copying4
check "... the destination's copy exists on h1" has_file h1
job=$(jq -r -s 'map(select(.event == "started"))[0].job' "$tmp/m4.json")
out=$(ferryctl abort "$job" 2>&1); rc=$?
check "ferryctl abort $job during the copy exits 0" [ "$rc" = 0 ] || echo "$out" | sed 's/^/# /'
ab=$(now_ms)
wait $mpid; rc=$?
check "... migrate exits non-zero ($rc)" [ "$rc" != 0 ]
check "... rolled back" jqe -s 'map(select(.event == "done"))[0].state == "rolled_back"' "$tmp/m4.json" || tail -2 "$tmp/m4.json" | sed 's/^/# /'
check "... cs1 runs on h2 only" wait_until 30 exactly_one cs1 h2
check "... heartbeat unbroken" beats_after cs1 "$ab"
check "... the partial copy on h1 removed" wait_until 30 no_file h1
check "... h2's disk untouched" [ "$(disk_sum h2)" = "$sum0" ]
check "... the guest's blocks read back on h2" guest_disk_ok "$ab"

# --- 6. a drain: the local-disk guest makes h2 unmovable, unless --copy-storage --------
ferryctl maintenance enter h2 --dry-run --json > "$tmp/dry.json"
check "drain dry run without --copy-storage: cs1 unmovable" jqe '.items[] | select(.vm == "cs1") | .state == "unmovable"' "$tmp/dry.json"
t0=$(now_ms)
ferryctl maintenance enter h2 --copy-storage --wait --json > "$tmp/drain.json"; rc=$?
check "maintenance enter h2 --copy-storage --wait exits 0" [ "$rc" = 0 ]
check "... the drain completed: h2 is empty" jqe -s 'map(select(.event == "done"))[0] | .state == "completed"' "$tmp/drain.json"
check "... cs1 runs on h1 only" wait_until 10 exactly_one cs1 h1
check "... heartbeat unbroken" beats_after cs1 "$t0"
check "... its disk content identical on h1" [ "$(disk_sum h1)" = "$sum0" ]
check "... the guest reads back on h1 every block it wrote" guest_disk_ok "$t0"
ferryctl maintenance exit h2 > /dev/null
finish
