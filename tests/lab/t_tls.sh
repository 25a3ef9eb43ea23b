#!/usr/bin/env bash
# The migration stream over TLS (--tls, VIR_MIGRATE_TLS) with the lab's CA
# and per-host QEMU certificates (lab tls), multifd over it (--parallel),
# a destination without TLS (refused by its pre-check), one that claims TLS
# with another CA's certificates (the handshake fails, the migration rolls
# back, the VM stays on one host), and the cluster policy that requires TLS
# (coordinator.conf migration_tls = "required": --no-tls refused, TLS used
# without asking). The coordinator is restarted with the lab's own
# configuration at the end.
. "$(dirname "$0")/lib.sh"

tmp=$(mktemp -d)
conf=/var/lib/ferry-lab/$LAB_ID/coordinator/coordinator.conf
cp "$conf" "$tmp/orig.conf"
policy=0
restore() {
	lab vm destroy tl1 > /dev/null 2>&1
	lab tls h3 on > /dev/null 2>&1
	if [ "$policy" = 1 ]; then
		cp "$tmp/orig.conf" "$conf"
		lab stop coordinator > /dev/null 2>&1
		lab start coordinator > /dev/null 2>&1
	fi
	rm -rf "$tmp"
}
trap restore EXIT
all_up() { [ "$(ferryctl hosts --json | jq '[.[] | select(.state == "up")] | length')" = 3 ]; }
done_of() { jq -s 'map(select(.event == "done"))[0]' "$1"; }
hostd_log() { echo "/var/lib/ferry-lab/$LAB_ID/$1/hostd.log"; }
# The hostd's own line for the job: what it asked libvirt for.
job_line() { grep "job $2: migrating" "$(hostd_log "$1")" | tail -n1; }

lab vm create tl1 --host h1 --mem 256 --dirty-mib 16 --dirty-rate 8 > /dev/null
check "tl1 runs on h1" wait_until 15 exactly_one tl1 h1
check "every lab host has QEMU's TLS files" bash -c \
	"for k in 1 2 3; do '$LAB' --id $LAB_ID tls h\$k | grep -q 'TLS files in'; done"

# --- 1. a TLS migration, over three multifd streams ------------------------
ferryctl migrate tl1 --to h2 --tls --parallel 3 --json > "$tmp/m1.json"; rc=$?
end=$(now_ms)
job=$(jq -s 'map(select(.event == "started"))[0].job' "$tmp/m1.json")
check "--tls --parallel 3 exits 0" [ $rc = 0 ]
check "... succeeded, running on h2" jqe '.state == "succeeded" and .running_on == "h2"' <(done_of "$tmp/m1.json")
check "... tl1 runs on h2 only (libvirt and Ferry)" wait_until 5 exactly_one tl1 h2
check "... h1's hostd asked libvirt for TLS and 3 streams" bash -c \
	"grep -q '3 stream(s), TLS' <<< '$(job_line h1 "$job")'"
check "... the job's record says so" bash -c \
	"ferryctl job $job --json | jq -e '[.history[] | select(.state == \"succeeded\") | .data | .tls == true and .streams == 3] | any' > /dev/null"
check "... tl1's heartbeat is continuous" beats_after tl1 "$end"

# --- 2. the destination has no TLS set up: its pre-check refuses -------------
lab tls h3 off > /dev/null
out=$(ferryctl check tl1 --to h3 --tls 2>&1); rc=$?
check "check --tls to h3 without TLS files is blocked (exit 3, got $rc)" [ $rc = 3 ]
check "... naming h3 and what is missing" grep -q "tls@h3 .*no TLS for migrations set up here" <<< "$out"
ferryctl migrate tl1 --to h3 --tls --json > "$tmp/m2.json"; rc=$?
check "migrate --tls to h3 is refused (exit $rc)" [ $rc != 0 ]
check "... refused by its pre-check, tl1 stays on h2" jqe \
	'.state == "refused" and (.error | contains("tls@h3: no TLS for migrations set up here"))' <(done_of "$tmp/m2.json")
check "... tl1 runs on h2 only" exactly_one tl1 h2

# --- 3. the destination claims TLS with another CA's certificates ------------
lab tls h3 bogus > /dev/null
t0=$(now_ms)
ferryctl migrate tl1 --to h3 --tls --json > "$tmp/m3.json"; rc=$?
check "migrate --tls to a host of another CA fails (exit $rc)" [ $rc != 0 ]
check "... rolled back on the TLS handshake" jqe \
	'.state == "rolled_back" and .running_on == "h2" and (.error | test("certificate|issuer|TLS"; "i"))' <(done_of "$tmp/m3.json")
check "... tl1 runs on h2 only (libvirt and Ferry)" wait_until 10 exactly_one tl1 h2
check "... nothing of tl1 left running on h3" bash -c \
	"! '$LAB' --id $LAB_ID virsh h3 list --name 2> /dev/null | grep -qx tl1"
check "... tl1's heartbeat never reset" beats_after tl1 "$t0"
lab tls h3 on > /dev/null

# --- 4. the cluster requires TLS ---------------------------------------------
policy=1
{ cat "$tmp/orig.conf"; echo 'migration_tls = "required";'; } > "$conf"
check "migration_tls = \"required\" is a valid configuration" \
	bash -c "ferry-coordinator -n -f '$conf' | grep -q 'configuration OK'"
{ cat "$tmp/orig.conf"; echo 'migration_tls = "always";'; } > "$tmp/bad.conf"
check "migration_tls = \"always\" is refused, naming the values" \
	bash -c "ferry-coordinator -n -f '$tmp/bad.conf' 2>&1 | grep -q 'migration_tls must be \"off\", \"on\" or \"required\"'"
lab stop coordinator > /dev/null 2>&1
lab start coordinator > /dev/null
check "three hosts up after the restart" wait_until 30 all_up
check "tl1 known on h2 again" wait_until 15 exactly_one tl1 h2
out=$(ferryctl migrate tl1 --to h1 --no-tls 2>&1); rc=$?
check "--no-tls under the policy is refused (exit $rc)" [ $rc != 0 ]
check "... saying the cluster requires TLS" grep -q "cluster's policy requires TLS" <<< "$out"
check "... and nothing moved" exactly_one tl1 h2
ferryctl migrate tl1 --to h1 --json > "$tmp/m4.json"; rc=$?
end=$(now_ms)
job=$(jq -s 'map(select(.event == "started"))[0].job' "$tmp/m4.json")
check "a migration without --tls exits 0 under the policy" [ $rc = 0 ]
check "... and went over TLS (h2's hostd)" bash -c "grep -q ', TLS' <<< '$(job_line h2 "$job")'"
check "... tl1 runs on h1 only" wait_until 5 exactly_one tl1 h1
check "... tl1's heartbeat is continuous" beats_after tl1 "$end"

finish
