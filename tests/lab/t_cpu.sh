#!/usr/bin/env bash
# A lab host whose CPU differs, against real libvirt: `lab cpu h3 lacks
# avx2,bmi2` makes h3's QEMU offer a CPU without them (docs/lab.md), and a
# guest whose qemu64 CPU requires them (x1) must never be sent there:
# ferryctl place (which asks the hosts first), check and migrate --to h3,
# a rebalance plan and a drain all name the missing features; a plain
# guest (x0) still goes to h3; cpu-baseline lists the block. At the end h3
# gets the real QEMU back, and its stale verdict goes (libvirt_session).
. "$(dirname "$0")/lib.sh"

tmp=$(mktemp -d)
restore() {
	for g in x0 x1 x2; do lab vm destroy "$g" > /dev/null 2>&1; done
	ferryctl maintenance exit h1 > /dev/null 2>&1
	ferryctl maintenance exit h2 > /dev/null 2>&1
	lab cpu h3 reset > /dev/null 2>&1
	rm -rf "$tmp"
}
trap restore EXIT

check "lab cpu h3 lacks avx2,bmi2 (h3's libvirtd restarted on the altered QEMU)" \
	lab cpu h3 lacks avx2,bmi2
check "a misspelt feature is refused by the lab" bash -c "! '$LAB' --id $LAB_ID cpu h3 lacks avx9 > /dev/null 2>&1"
all_up() { [ "$(ferryctl hosts --json | jq '[.[] | select(.state == "up")] | length')" = 3 ]; }
check "three hosts up" wait_until 60 all_up

# libvirt's own view on h3 and h2, before Ferry is asked anything.
cat > "$tmp/cpu.xml" <<'XML'
<cpu mode='custom' match='exact'><model fallback='forbid'>qemu64</model><feature policy='require' name='avx2'/><feature policy='require' name='bmi2'/></cpu>
XML
cmp_on() { lab exec "$1" virsh -q -c qemu:///system hypervisor-cpu-compare --virttype qemu --arch x86_64 --machine pc "$tmp/cpu.xml" 2>&1; }
check "libvirt on h3 calls the guest CPU incompatible" bash -c "$(declare -f cmp_on lab); LAB='$LAB' LAB_ID=$LAB_ID tmp='$tmp'; cmp_on h3 | grep -q incompatible"
check "libvirt on h2 calls it a superset" bash -c "$(declare -f cmp_on lab); LAB='$LAB' LAB_ID=$LAB_ID tmp='$tmp'; cmp_on h2 | grep -q superset"

lab vm create x1 --host h1 --mem 512 --dirty-mib 1 --dirty-rate 1 --cpu-feature avx2,bmi2 > /dev/null
lab vm create x0 --host h1 --mem 512 --dirty-mib 1 --dirty-rate 1 > /dev/null
on_h1() { exactly_one x0 h1 > /dev/null && exactly_one x1 h1 > /dev/null; }
check "x0 and x1 run on h1" wait_until 30 on_h1
check "x1 (qemu64+avx2+bmi2) boots and beats" wait_until 30 lab heartbeat x1

# --- check without --to: h3 has the most room, and is never the one checked ---
# (x2 loads h2, so the placement's first choice is h3 until the hosts are asked)
lab vm create x2 --host h2 --mem 1024 --dirty-mib 1 --dirty-rate 1 > /dev/null
seen_x2() { [ "$(running_on_ferry x2)" = h2 ]; }
check "x2 runs on h2 (Ferry sees it)" wait_until 30 seen_x2
ferryctl check x1 > "$tmp/auto.txt" 2>&1; rc=$?
check "check x1 without --to: h2 checked and ok, h3 never asked to take it" bash -c "[ $rc = 0 ] &&
	grep -q '^x1 on h1 -> h2: ok' '$tmp/auto.txt' && ! grep -q '@h3' '$tmp/auto.txt'"
lab vm destroy x2 > /dev/null
gone_x2() { [ -z "$(running_on_ferry x2)" ]; }
check "x2 gone" wait_until 30 gone_x2

# --- place asks the hosts before it answers (nothing was checked yet) --------
ferryctl place x1 --json > "$tmp/place1.json"; rc=$?
check "place x1 exits 0: h2 takes it" bash -c "[ $rc = 0 ] && jq -e '.best == \"h2\"' '$tmp/place1.json' > /dev/null"
check "place x1: h3 rejected by the cpu filter, naming avx2 and bmi2" jqe '
	.hosts[] | select(.host == "h3") | .ok == false and .filter == "cpu" and
	(.reason | startswith("h3: cpu: ")) and (.reason | contains("avx2, bmi2"))' "$tmp/place1.json"
ferryctl place x0 --json > "$tmp/place0.json"
check "place x0: h3 accepts the plain guest" jqe \
	'.hosts[] | select(.host == "h3") | .ok == true' "$tmp/place0.json"

# --- check / migrate --to h3 -------------------------------------------------
ferryctl check x1 --to h3 > "$tmp/check.txt" 2>&1; rc=$?
check "check x1 --to h3 exits 3, cpu@h3 blocked with the missing features" bash -c "[ $rc = 3 ] &&
	grep -E '^cpu@h3 +BLOCKED .*Host CPU does not provide required features: avx2, bmi2' '$tmp/check.txt' > /dev/null"
ferryctl check x0 --to h3 > /dev/null 2>&1; rc=$?
check "check x0 --to h3 exits 0" [ $rc = 0 ]
ferryctl migrate x1 --to h3 > "$tmp/mig.txt" 2>&1; rc=$?
check "migrate x1 --to h3 is refused (non-zero exit) naming avx2" bash -c "[ $rc != 0 ] && grep -q 'avx2, bmi2' '$tmp/mig.txt'"
check "x1 still runs on h1 only (libvirt and Ferry)" exactly_one x1 h1

# --- with h2 in maintenance, h3 is the only other host ------------------------
ferryctl maintenance enter h2 --wait > /dev/null 2>&1
check "h2 is in maintenance" bash -c "[ \"\$(ferryctl hosts --json | jq -r '.[] | select(.name == \"h2\") | .admin_state')\" = maintenance ]"
ferryctl rebalance --json > "$tmp/rb.json"; rc=$?
check "rebalance (dry) answers" bash -c "[ $rc = 0 ] && [ -s '$tmp/rb.json' ]"
check "the rebalance plan never puts x1 on h3" jqe '[.moves[]? | select(.vm == "x1")] == []' "$tmp/rb.json"
note "rebalance moves: $(jq -c '[.moves[]? | {vm, destination}]' "$tmp/rb.json")"
ferryctl maintenance enter h1 --dry-run --json > "$tmp/dry.json"
check "drain dry run: x0 to h3, x1 nowhere with h3's cpu reason" jqe '
	(.items[] | select(.vm == "x0") | .destination == "h3") and
	(.items[] | select(.vm == "x1") | (.destination // "") == "" and
	 (.reason | contains("h3: cpu: ")) and (.reason | contains("avx2, bmi2")) and
	 (.reason | contains("h2: usable: host is in maintenance")))' "$tmp/dry.json"
ferryctl maintenance enter h1 --wait --force --json > "$tmp/drain.json"
check "the drain ends incomplete (x1 stays)" jqe -s \
	'map(select(.event == "done"))[0] | .state == "incomplete"' "$tmp/drain.json"
check "x0 runs on h3 only" exactly_one x0 h3
check "x1 still runs on h1 only" exactly_one x1 h1

# --- cpu-baseline --------------------------------------------------------------
ferryctl cpu-baseline --json > "$tmp/base.json"; rc=$?
check "cpu-baseline lists x1 blocked on h3 by avx2 and bmi2" bash -c "[ $rc = 0 ] && jq -e '
	[.blocks[] | select(.vm == \"x1\")] | length == 1 and .[0].host == \"h3\" and
	(.[0].reason | contains(\"avx2, bmi2\")) and .[0].features == [\"avx2\", \"bmi2\"]' '$tmp/base.json' > /dev/null"
ferryctl cpu-baseline > "$tmp/base.txt"
check "cpu-baseline in text: x1 cannot run on h3: h3 lacks avx2, bmi2" \
	grep -qx 'x1 cannot run on h3: h3 lacks avx2, bmi2' "$tmp/base.txt"
check "cpu-baseline in text prints the baseline's model and features" bash -c \
	"grep -q '^  model [A-Za-z]' '$tmp/base.txt' && grep -q '^  requires:' '$tmp/base.txt'"

# --- h3 gets the machine's QEMU back: its old verdict must go ------------------
check "lab cpu h3 reset (libvirtd restarted on the real QEMU)" lab cpu h3 reset
h3_takes_x1() {
	ferryctl place x1 --json | jq -e '.hosts[] | select(.host == "h3") | .ok' > /dev/null
}
check "place x1: h3 accepts it once its hostd reconnected to libvirtd" wait_until 90 h3_takes_x1
ferryctl check x1 --to h3 > /dev/null 2>&1; rc=$?
check "check x1 --to h3 passes now (exit 0)" [ $rc = 0 ]

exit $FAILED
