#!/usr/bin/env bash
# True figures (issue 13): a capped migration's final downtime, data, time
# and passes, as `ferryctl job ID --json` records them, are libvirt's completed-job
# statistics: they match `virsh domjobinfo --completed` on the destination
# within 5 %. (The source's completed statistics go with its domain,
# UNDEFINE_SOURCE; the destination keeps them, handed over in the migration
# cookie. Both Ferry and this test read them with --keep-completed.)
. "$(dirname "$0")/lib.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

lab vm create fg1 --host h1 --mem 256 --dirty-mib 32 --dirty-rate 8 > /dev/null
check "fg1 runs on h1" wait_until 20 exactly_one fg1 h1
ferryctl migrate fg1 --to h2 --bandwidth 60 --json > "$tmp/m.json"; rc=$?
check "capped migration exits 0" [ $rc = 0 ]
job=$(jq -s 'map(select(.event == "started"))[0].job' "$tmp/m.json")
ferryctl job "$job" --json > "$tmp/job.json"
last() { jq -r "[.history[] | select(.data | type == \"object\") | .data][-1].$1" "$tmp/job.json"; }
f_down=$(last downtime_ms)
f_data=$(last data_bytes)
f_from=$(last figures_from)
f_time=$(last migration_ms)
f_pass=$(last passes)
lab virsh h2 domjobinfo fg1 --completed --keep-completed --rawstats > "$tmp/dji.txt" 2>&1
v_down=$(sed -nE "s/^downtime[=:] *([0-9]+).*/\1/p" "$tmp/dji.txt" | head -1)
v_data=$(sed -nE "s/^data_processed[=:] *([0-9]+).*/\1/p" "$tmp/dji.txt" | head -1)
v_time=$(sed -nE "s/^time_elapsed[=:] *([0-9]+).*/\1/p" "$tmp/dji.txt" | head -1)
v_pass=$(sed -nE "s/^memory_iteration[=:] *([0-9]+).*/\1/p" "$tmp/dji.txt" | head -1)
note "ferry: downtime ${f_down} ms, data ${f_data} B, ${f_time} ms, ${f_pass} passes ($f_from); libvirt on h2: downtime ${v_down} ms, data ${v_data} B, ${v_time} ms, ${v_pass} iterations"
[ -n "$v_down" ] || note "domjobinfo: $(tr "\n" " " < "$tmp/dji.txt")"
num() { [[ "$1" =~ ^[0-9]+$ ]]; }
check "the job records a measured downtime and data" bash -c "[[ '$f_down' =~ ^[0-9]+$ && '$f_data' =~ ^[0-9]+$ ]]"
check "domjobinfo --completed on h2 has them" bash -c "[[ '$v_down' =~ ^[0-9]+$ && '$v_data' =~ ^[0-9]+$ ]]"
within5() { num "$1" && num "$2" && awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d; m = (b > a ? b : a); exit !(d <= 0.05 * m || d <= 1) }'; }
check "downtime within 5 % of libvirt's ($f_down vs $v_down ms)" within5 "$f_down" "$v_down"
check "data within 5 % of libvirt's ($f_data vs $v_data B)" within5 "$f_data" "$v_data"
check "time within 5 % of libvirt's ($f_time vs $v_time ms)" within5 "$f_time" "$v_time"
check "passes match libvirt's memory iterations ($f_pass vs $v_pass)" bash -c "[[ '$f_pass' =~ ^[0-9]+$ && '$f_pass' = '$v_pass' ]]"
check "the figures say where they come from" bash -c "grep -q 'completed-job statistics' <<< '$f_from'"
sent_line() { jq -e -s --argjson d "$f_down" 'map(select(.event == "done"))[0] | .downtime_ms == $d' "$tmp/m.json" > /dev/null; }
check "migrate's done event shows the same downtime" sent_line
lab vm destroy fg1 > /dev/null
finish
