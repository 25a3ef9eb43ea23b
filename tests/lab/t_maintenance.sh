#!/usr/bin/env bash
# Maintenance mode in the lab: six guests drained from h1 two at a time,
# a guest with a local disk that cannot move, and a cancelled drain.
. "$(dirname "$0")/lib.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

guests="d1 d2 d3 d4 d5 d6"
for g in $guests; do
	case $g in
	d1|d2|d3) lab vm create "$g" --host h1 --mem 192 --dirty-mib 8 --dirty-rate 4 > /dev/null ;;
	*) lab vm create "$g" --host h1 --mem 128 --disk none --dirty-mib 1 --dirty-rate 1 > /dev/null ;;
	esac
done
all_on_h1() { for g in $guests; do exactly_one "$g" h1 > /dev/null || return 1; done; }
check "six guests run on h1" wait_until 20 all_on_h1

# --- 1. a dry run plans every guest and moves nothing --------------------------
ferryctl maintenance enter h1 --dry-run --json > "$tmp/dry.json"; rc=$?
check "dry run exits 0 when every VM can move" [ $rc = 0 ]
check "the plan names a destination on h2 or h3 for all six" \
	jqe '[.items[] | select(.destination == "h2" or .destination == "h3")] | length == 6' "$tmp/dry.json"
check "a dry run leaves h1 up and active" [ "$(host_state h1)/$(host_admin h1)" = up/active ]

# --- 2. the drain ----------------------------------------------------------------
t0=$(now_ms)
ferryctl maintenance enter h1 --wait --max-parallel 2 --json > "$tmp/drain.json"; rc=$?
end=$(now_ms)
note "drain of six guests took $(( end - t0 )) ms"
check "maintenance enter --wait exits 0" [ $rc = 0 ]
check "the drain completed" jqe -s 'map(select(.event == "done"))[0] | .state == "completed" and .host_state == "maintenance"' "$tmp/drain.json"
check "h1 is in maintenance, and up" [ "$(host_admin h1)/$(host_state h1)" = maintenance/up ]
empty_h1() { [ -z "$(running_on_libvirt_host h1)" ]; }
running_on_libvirt_host() { lab virsh "$1" list --name 2> /dev/null | grep -v '^$'; }
check "h1 runs nothing (libvirt says)" empty_h1
for g in $guests; do
	h=$(on_one_host "$g")
	check "$g runs on exactly one host, h2 or h3 ($h)" bash -c "[ '$h' = h2 ] || [ '$h' = h3 ]"
done
for g in $guests; do
	check "$g's heartbeat is continuous" beats_after "$g" "$end"
done
drain=$(jq -s 'map(select(.event == "done"))[0].run' "$tmp/drain.json")
# Overlap of the copies: from each job's entry into "migrating" (its
# journal) to its end. The next VMs' checks run ahead and are not counted.
for id in $(ferryctl jobs --all --json | jq '.[] | select(.kind == "migrate") | .id'); do
	ferryctl job "$id" --json | jq -c '{ id: .job.id, end: .job.ended_ms,
	    copy: (first(.history[] | select(.type == "state" and .state == "migrating")) | .time_ms) }'
done > "$tmp/copies.jsonl"
overlap=$(jq -s '[.[] | select(.copy != null)] as $all
	| [ $all[] as $a | [ $all[] | select(.copy <= $a.copy and .end > $a.copy) ] | length ] | max' "$tmp/copies.jsonl")
note "drain $drain: at most $overlap copies overlapped"
check "no more than 2 migrations ever copied at once ($overlap)" [ "$overlap" -le 2 ]
within() { # host: guests' memory within capacity - reserve
	local used cap
	used=$(ferryctl vms --json | jq --arg h "$1" '[.[] | select(.host == $h and .state == "running") | .mem_mib] | add // 0')
	cap=$(ferryctl hosts --json | jq --arg h "$1" '.[] | select(.name == $h) | .mem_mib - .reserved_mib')
	note "$1: guests $used MiB of $cap MiB"
	[ "$used" -le "$cap" ]
}
check "h2 stays within its memory capacity" within h2
check "h3 stays within its memory capacity" within h3

ferryctl maintenance exit h1 > /dev/null; rc=$?
check "maintenance exit brings h1 back to active" bash -c "[ $rc = 0 ] && [ \"\$(ferryctl hosts --json | jq -r '.[] | select(.name == \"h1\") | .admin_state')\" = active ]"

# --- 3. a guest that cannot move -------------------------------------------------
lab vm create dl --host h1 --mem 128 --disk local > /dev/null
lab vm create dm --host h1 --mem 128 --disk none --dirty-mib 1 --dirty-rate 1 > /dev/null
wait_until 15 exactly_one dm h1
wait_until 15 exactly_one dl h1
out=$(ferryctl maintenance enter h1 --dry-run 2>&1); rc=$?
unmovable() { [ "$rc" = 3 ] && grep -q dl <<< "$out" && grep -q unmovable <<< "$out" && grep -q vda <<< "$out"; }
check "the plan reports dl unmovable, naming its disk (exit 3)" unmovable
ferryctl maintenance enter h1 --wait > /dev/null 2>&1; rc=$?
check "without --force the drain does not start (exit 3)" [ $rc = 3 ]
check "... and dm stays on h1" exactly_one dm h1
ferryctl maintenance enter h1 --force --wait --json > "$tmp/force.json"; rc=$?
check "with --force the drain ends incomplete (exit 1)" [ $rc = 1 ]
check "... dm moved away" bash -c "h=\$(bash -c '. $REPO/tests/lab/lib.sh; on_one_host dm'); [ \"\$h\" = h2 ] || [ \"\$h\" = h3 ]"
check "... dl keeps running on h1" exactly_one dl h1
check "... and h1 stays draining, visibly" [ "$(host_admin h1)" = draining ]
ferryctl maintenance cancel h1 > /dev/null 2>&1
check "cancel brings h1 back to active" wait_until 10 bash -c "[ \"\$(ferryctl hosts --json | jq -r '.[] | select(.name == \"h1\") | .admin_state')\" = active ]"
lab vm destroy dl > /dev/null

# --- 4. cancel during a drain -----------------------------------------------------
for g in $guests dm; do
	h=$(on_one_host "$g")
	[ "$h" = h1 ] || ferryctl migrate "$g" --to h1 > /dev/null 2>&1
done
check "all guests are back on h1" wait_until 30 all_on_h1
( ferryctl maintenance enter h1 --wait --max-parallel 1 --json > "$tmp/cancel.json" ) &
wp=$!
first_moved() { jq -se 'map(select(.event == "item" and .state == "moved")) | length >= 1' "$tmp/cancel.json" > /dev/null 2>&1; }
wait_until 60 first_moved
ferryctl maintenance cancel h1 > /dev/null
wait $wp
check "the cancelled drain reports cancelled" jqe -s 'map(select(.event == "done"))[0].state == "cancelled"' "$tmp/cancel.json"
check "h1 is up and active after the cancel" [ "$(host_state h1)/$(host_admin h1)" = up/active ]
for g in $guests dm; do
	h=$(on_one_host "$g")
	check "$g runs on exactly one host after the cancel ($h)" [ -n "$h" ]
done
stayed=0
for g in $guests dm; do [ "$(on_one_host "$g")" = h1 ] && stayed=$((stayed + 1)); done
check "the cancel stopped the drain before it emptied h1 ($stayed stayed)" [ "$stayed" -ge 1 ]

for g in $guests dm; do lab vm destroy "$g" > /dev/null; done
finish
