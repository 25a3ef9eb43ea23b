#!/usr/bin/env bash
# Rebalancing in the lab: every guest on h1 and h2, h3 empty;
# `ferryctl rebalance --apply` moves some to h3, the score falls, and every
# guest keeps an unbroken heartbeat.
. "$(dirname "$0")/lib.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

guests="r1 r2 r3 r4 r5 r6"
i=0
for g in $guests; do
	h=h1; [ $((i % 3)) = 2 ] && h=h2
	lab vm create "$g" --host "$h" --mem 192 --disk none --dirty-mib 4 --dirty-rate 2 > /dev/null
	i=$((i + 1))
done
placed() { for g in $guests; do [ -n "$(on_one_host "$g")" ] || return 1; done; }
check "six guests run on h1 and h2" wait_until 30 placed
seen_all() { [ "$(ferryctl vms --json | jq '[.[] | select(.name | test("^r[0-9]$"))] | length')" = 6 ]; }
wait_until 15 seen_all

ferryctl snapshot > "$tmp/snap.json"; rc=$?
check "ferryctl snapshot writes the live cluster" bash -c "[ $rc = 0 ] && jq -e '(.hosts | length) == 3 and ([.vms[] | select(.name | test(\"^r[0-9]$\"))] | length) == 6' '$tmp/snap.json' > /dev/null"
ferryctl plan --snapshot "$tmp/snap.json" --json > "$tmp/offline.json"; rc=$?
check "ferryctl plan plans offline from it" bash -c "[ $rc = 0 ] && jq -e '.moves | length > 0' '$tmp/offline.json' > /dev/null"

ferryctl rebalance --json > "$tmp/plan.json"; rc=$?
check "rebalance (dry) proposes moves to h3" bash -c "[ $rc = 0 ] && jq -e '(.moves | length) > 0 and all(.moves[]; .destination == \"h3\")' '$tmp/plan.json' > /dev/null"
before=$(jq .score_before "$tmp/plan.json")
check "a dry rebalance moves nothing" bash -c "[ \"\$(ferryctl vms --json | jq '[.[] | select(.host == \"h3\" and (.name | test(\"^r\")))] | length')\" = 0 ]"

ferryctl rebalance --apply --json > "$tmp/apply.json"; rc=$?
end=$(now_ms)
check "rebalance --apply completes (exit 0)" [ $rc = 0 ]
check "... every planned move done" jqe -s 'map(select(.event == "done"))[0] | .state == "completed" and .moved == .planned and .moved > 0' "$tmp/apply.json"
on_h3=$(ferryctl vms --json | jq '[.[] | select(.host == "h3" and (.name | test("^r")))] | length')
check "some guests now run on h3 ($on_h3)" [ "$on_h3" -gt 0 ]
ferryctl rebalance --json > "$tmp/after.json"
after=$(jq .score_before "$tmp/after.json")
note "score $before -> $after"
check "the score fell ($before -> $after)" awk -v a="$after" -v b="$before" 'BEGIN { exit !(a < b) }'
for g in $guests; do
	check "$g runs on exactly one host" bash -c ". '$REPO/tests/lab/lib.sh'; [ -n \"\$(on_one_host $g)\" ]"
	check "$g's heartbeat is continuous" beats_after "$g" "$end"
done
for g in $guests; do lab vm destroy "$g" > /dev/null; done
finish
