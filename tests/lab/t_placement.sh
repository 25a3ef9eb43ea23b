#!/usr/bin/env bash
# Placement in the lab: zones keep a drain inside its zone, a VM whose
# required label no host carries is named with every host's reason, and
# ferryctl place lists the verdicts. The coordinator is restarted with
# zones and labels and restarted again with the lab's own configuration at
# the end. (A host whose CPU differs: t_cpu.sh.)
. "$(dirname "$0")/lib.sh"

tmp=$(mktemp -d)
conf=/var/lib/ferry-lab/$LAB_ID/coordinator/coordinator.conf
cp "$conf" "$tmp/orig.conf"
restore() {
	for g in p1 p2 p3; do lab vm destroy "$g" > /dev/null 2>&1; done
	ferryctl maintenance exit h1 > /dev/null 2>&1
	cp "$tmp/orig.conf" "$conf"
	lab stop coordinator > /dev/null 2>&1
	lab start coordinator > /dev/null 2>&1
	rm -rf "$tmp"
}
trap restore EXIT

# h1 and h3 in zone a, h2 in zone b (with the most room: it is empty);
# h3 carries ssd; p3 requires gpu, which no host has.
sed -e 's/\(name = "h1";[^}]*\)}/\1zone = "a"; }/' \
    -e 's/\(name = "h2";[^}]*\)}/\1zone = "b"; }/' \
    -e 's/\(name = "h3";[^}]*\)}/\1zone = "a"; labels = [ "ssd" ]; }/' \
    "$tmp/orig.conf" > "$conf"
cat >> "$conf" <<'CONF'
zone_policy = "stay";
vms = ( { name = "p3"; requires_labels = [ "gpu" ]; } );
CONF
check "the placement configuration is valid (-n)" \
	bash -c "ferry-coordinator -n -f '$conf' | grep -q 'configuration OK'"
lab stop coordinator > /dev/null 2>&1
lab start coordinator > /dev/null
all_up() { [ "$(ferryctl hosts --json | jq '[.[] | select(.state == "up")] | length')" = 3 ]; }
check "three hosts up after the restart" wait_until 30 all_up
check "ferryctl hosts --json shows zones and labels" bash -c \
	"ferryctl hosts --json | jq -e '[.[] | {name, zone, labels}] == [{name:\"h1\",zone:\"a\",labels:[]},{name:\"h2\",zone:\"b\",labels:[]},{name:\"h3\",zone:\"a\",labels:[\"ssd\"]}]' > /dev/null"
check "ferryctl hosts shows them in text" bash -c \
	"ferryctl hosts | awk '\$1 == \"h3\"' | grep -q ' a  *ssd '"

for g in p1 p2 p3; do
	lab vm create "$g" --host h1 --mem 128 --dirty-mib 1 --dirty-rate 1 > /dev/null
done
on_h1() { for g in p1 p2 p3; do exactly_one "$g" h1 > /dev/null || return 1; done; }
check "three guests run on h1" wait_until 30 on_h1

# --- ferryctl place ----------------------------------------------------------
ferryctl place p1 --json > "$tmp/p1.json"; rc=$?
check "place p1 --json exits 0 with a reply" bash -c "[ $rc = 0 ] && [ -s '$tmp/p1.json' ]"
check "place p1: best h3, h2 rejected by zone with its reason" jqe '
	.best == "h3" and
	(.hosts[] | select(.host == "h2") | .ok == false and .filter == "zone"
	 and .reason == "h2: zone: zone b, VM must stay in zone a") and
	(.hosts[] | select(.host == "h1") | .filter == "source") and
	(.hosts[] | select(.host == "h3") | .ok and .weight > 0)' "$tmp/p1.json"
ferryctl place p3 > "$tmp/p3.txt"; rc=$?
check "place p3 exits 3: no host takes it" [ $rc = 3 ]
check "place p3 lists every host's reason" bash -c \
	"grep -q 'best destination: none' '$tmp/p3.txt' &&
	 grep -q 'h2: zone: zone b, VM must stay in zone a' '$tmp/p3.txt' &&
	 grep -q 'h3: labels: VM requires label gpu, host lacks it' '$tmp/p3.txt'"
ferryctl place nosuch > /dev/null 2>&1; rc=$?
check "place of an unknown VM fails (exit 1)" [ $rc = 1 ]

# --- cpu-baseline: real libvirt on every host ----------------------------------
ferryctl cpu-baseline --json > "$tmp/base.json"; rc=$?
check "cpu-baseline exits 0 with a baseline from a host's libvirt" bash -c \
	"[ $rc = 0 ] && jq -e '(.baseline_xml | startswith(\"<cpu\")) and (.computed_on | test(\"^h[123]\$\")) and ([.hosts[] | select(.model != null and .error == null)] | length == 3) and (.blocks == [])' '$tmp/base.json' > /dev/null"
note "baseline model: $(jq -r '.baseline_xml' "$tmp/base.json" | grep -o '<model[^<]*</model>' | head -1)"

# --- check without --to ------------------------------------------------------
ferryctl check p3 > "$tmp/check.txt" 2>&1; rc=$?
check "check p3 exits 3 with the reasons" bash -c "[ $rc = 3 ] &&
	grep -q 'h3: labels: VM requires label gpu, host lacks it' '$tmp/check.txt'"

# --- a drain stays in its zone -------------------------------------------------
ferryctl maintenance enter h1 --dry-run --json > "$tmp/dry.json"
check "the dry run answered" [ -s "$tmp/dry.json" ]
check "dry run: p1 and p2 go to h3, p3 nowhere with every reason" jqe '
	([.items[] | select(.vm == "p1" or .vm == "p2") | .destination] == ["h3", "h3"]) and
	(.items[] | select(.vm == "p3") | (.destination // "") == "" and
	 (.reason | contains("h2: zone: zone b, VM must stay in zone a")) and
	 (.reason | contains("h3: labels: VM requires label gpu")))' "$tmp/dry.json"
ferryctl maintenance enter h1 --wait --force --json > "$tmp/drain.json"
check "the drain answered" [ -s "$tmp/drain.json" ]
check "the drain ends incomplete (p3 stays)" jqe -s \
	'map(select(.event == "done"))[0] | .state == "incomplete"' "$tmp/drain.json"
check "p1 runs on h3 only (libvirt and Ferry)" exactly_one p1 h3
check "p2 runs on h3 only (libvirt and Ferry)" exactly_one p2 h3
check "p3 still runs on h1" exactly_one p3 h1
check "nothing went to h2 (zone b)" bash -c "[ -z \"\$(lab virsh h2 list --name 2> /dev/null | grep -v '^\$')\" ]"

exit $FAILED
