#!/usr/bin/env bash
# The race suite: operations that collide, each RACE_RUNS times (default 1,
# the short form of make check) at a random offset: a migration vs the
# maintenance of its destination, two drains at once (and the same host
# twice), a drain vs a rebalance, an abort at every state, a migration of a
# VM already moving, a cancel during the last pass. After each: every VM
# runs on exactly one host (asked of libvirt), no host in maintenance runs a
# VM, no job is left unfinished, and Ferry's records equal libvirt.
# Small guests (128 MiB, 1 MiB/s dirtied) and a 20 MiB/s cap keep the
# migrations in flight for a few seconds.
. "$(dirname "$0")/lib.sh"

RUNS=${RACE_RUNS:-1}
BW=20
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

guests="r1 r2 r3"
home_of() { case $1 in r1) echo h1 ;; r2) echo h2 ;; r3) echo h3 ;; esac; }
for g in $guests; do
	lab vm create "$g" --host "$(home_of "$g")" --mem 128 --dirty-mib 4 --dirty-rate 1 > /dev/null
done
all_home() { for g in $guests; do exactly_one "$g" "$(home_of "$g")" > /dev/null || return 1; done; }
check "three guests run on h1, h2, h3" wait_until 30 all_home

# A random offset of 0..$1 ms, as seconds for sleep.
offset() { local ms=$((RANDOM % $1)); printf '%d.%03d' $((ms / 1000)) $((ms % 1000)); }

job_state() { ferryctl job "$1" --json | jq -r .job.state; }
final() { case "$(job_state "$1")" in succeeded|refused|rolled_back|failed) return 0 ;; esac; return 1; }
unfinished() { ferryctl jobs --all --json | jq '[.[] | select(.ended_ms == null)] | length'; }
none_unfinished() { [ "$(unfinished)" = 0 ]; }
maint_empty() { # every host in maintenance runs nothing, by libvirt
	local h
	for h in $(lab_hosts); do
		[ "$(host_admin "$h")" = maintenance ] || continue
		if [ -n "$(lab virsh "$h" list --name 2> /dev/null | grep -v '^$')" ]; then
			note "$h is in maintenance and runs: $(lab virsh "$h" list --name | tr '\n' ' ')"
			return 1
		fi
	done
}
records_agree() { # Ferry's records say what libvirt says, for every guest
	local g h
	for g in $guests; do
		h=$(on_one_host "$g") || return 1
		exactly_one "$g" "$h" > /dev/null || return 1
	done
}
# invariant WHAT: the checks after every collision.
invariant() {
	local g h
	check "$1: no job or drain left unfinished" wait_until 180 none_unfinished
	for g in $guests; do
		h=$(on_one_host "$g")
		check "$1: $g runs on exactly one host (${h:-none})" [ -n "$h" ]
	done
	check "$1: no host in maintenance runs a VM" maint_empty
	check "$1: Ferry's records equal libvirt" wait_until 20 records_agree
}
# The job's final state agrees with where libvirt runs the VM.
truthful() { # JOB VM SRC DST
	local st h
	st=$(job_state "$1")
	h=$(on_one_host "$2")
	case $st in
	succeeded) [ "$h" = "$4" ] ;;
	rolled_back|refused) [ "$h" = "$3" ] ;;
	*) note "job $1 ended $st with $2 on ${h:-none}"; return 1 ;;
	esac
}
# Back to the start: every host up, every guest at home.
reset() {
	local h g
	for h in $(lab_hosts); do
		case $(host_admin "$h") in
		maintenance) ferryctl maintenance exit "$h" > /dev/null ;;
		draining) ferryctl maintenance cancel "$h" > /dev/null ;;
		esac
	done
	for g in $guests; do
		h=$(on_one_host "$g")
		[ -n "$h" ] && [ "$h" != "$(home_of "$g")" ] &&
			ferryctl migrate "$g" --to "$(home_of "$g")" > /dev/null 2>&1
	done
	wait_until 60 all_home || note "reset: guests not home: $(for g in $guests; do echo -n "$g@$(on_one_host "$g") "; done)"
}
all_on_h1() { local g; for g in $guests; do [ "$(on_one_host "$g")" = h1 ] || return 1; done; }
migrating_with_data() {
	[ "$(job_state "$1")" = migrating ] &&
		[ "$(ferryctl job "$1" --json | jq '[.history[] | select(.type == "progress")] | length')" -ge 1 ]
}
last_pass() { # percent >= 90 (or past migrating)
	[ "$(job_state "$1")" != migrating ] ||
		ferryctl job "$1" --json | jq -e '[.history[] | select(.type == "progress") | .data.percent // 0] | max // 0 >= 90' > /dev/null
}
# Polls as fast as ferryctl answers until the job leaves migrating (the
# verification lasts a fraction of a second), for at most 60 s.
past_migrating() {
	local end=$(($(now_ms) + 60000)) st
	while [ "$(now_ms)" -lt $end ]; do
		st=$(ferryctl job "$1" --json | jq -r .job.state)
		case $st in pending|checking|migrating) ;; *) return 0 ;; esac
	done
	return 1
}
drain_done() { jq -se 'map(select(.event == "done"))[0].state' "$1" 2> /dev/null | tr -d '"'; }

for run in $(seq 1 "$RUNS"); do
	# --- 1. a migration vs the maintenance of its destination ----------------
	off=$(offset 3000)
	job=$(ferryctl migrate r1 --to h3 --bandwidth $BW --no-wait)
	sleep "$off"
	ferryctl maintenance enter h3 --wait --json > "$tmp/m1.json" 2>&1; rc=$?
	check "run $run, migrate r1 --to h3 then maintenance enter h3 after $off s: exit 0, completed" \
		bash -c "[ $rc = 0 ] && [ \"$(drain_done "$tmp/m1.json")\" = completed ]"
	wait_until 120 final "$job"
	check "run $run: h3 is in maintenance" [ "$(host_admin h3)" = maintenance ]
	st=$(job_state "$job")
	check "run $run: the migration to h3 ended succeeded (then drained) or refused ($st)" \
		bash -c "[ '$st' = succeeded ] || [ '$st' = refused ]"
	invariant "run $run, migrate vs maintenance"
	reset

	# --- 2. two drains at once, each the other's destination; one twice --------
	off=$(offset 2000)
	( ferryctl maintenance enter h2 --wait --json > "$tmp/d2.json" 2>&1; echo $? > "$tmp/d2.rc" ) &
	p2=$!
	sleep "$off"
	out=$(ferryctl maintenance enter h2 2>&1); rc=$?
	twice() { [ "$rc" = 1 ] && grep -q "already being drained\|already in maintenance" <<< "$out"; }
	check "run $run: a second drain of h2 is refused plainly ($out)" twice
	ferryctl maintenance enter h3 --wait --json > "$tmp/d3.json" 2>&1; rc3=$?
	wait $p2
	check "run $run, drains of h2 and h3 $off s apart: both completed" \
		bash -c "[ $(cat "$tmp/d2.rc") = 0 ] && [ $rc3 = 0 ] && [ \"$(drain_done "$tmp/d2.json")\" = completed ] && [ \"$(drain_done "$tmp/d3.json")\" = completed ]"
	check "run $run: every guest runs on h1" all_on_h1
	invariant "run $run, two drains"
	reset

	# --- 3. a drain vs a rebalance ------------------------------------------------
	for g in r2 r3; do ferryctl migrate "$g" --to h1 > /dev/null 2>&1; done
	off=$(offset 3000)
	( ferryctl rebalance --apply --wait --json > "$tmp/rb.json" 2>&1 ) &
	prb=$!
	sleep "$off"
	ferryctl maintenance enter h2 --wait --json > "$tmp/d4.json" 2>&1; rc=$?
	wait $prb
	check "run $run, rebalance then maintenance enter h2 after $off s: the drain completed" \
		bash -c "[ $rc = 0 ] && [ \"$(drain_done "$tmp/d4.json")\" = completed ]"
	invariant "run $run, drain vs rebalance"
	reset

	# --- 4. an abort at every state -------------------------------------------------
	for target in pending checking migrating verifying; do
		src=$(on_one_host r1); dst=h2; [ "$src" = h2 ] && dst=h3
		job=$(ferryctl migrate r1 --to "$dst" --bandwidth $BW --no-wait)
		case $target in
		pending) ;;	# at once: the coordinator may have begun the checks
		checking) sleep "$(offset 400)" ;;
		migrating) wait_until 30 migrating_with_data "$job" ;;
		verifying) past_migrating "$job" ;;
		esac
		was=$(job_state "$job")
		out=$(ferryctl abort "$job" 2>&1); rc=$?
		clear_answer() { [ "$rc" = 0 ] || grep -q "already verifying\|post-copy\|not running" <<< "$out"; }
		check "run $run: abort in $was (aimed at $target): accepted or refused plainly ($out)" clear_answer
		check "run $run: ... the job ends" wait_until 120 final "$job"
		check "run $run: ... its outcome ($(job_state "$job")) is where r1 runs" truthful "$job" r1 "$src" "$dst"
		invariant "run $run, abort in $was"
	done
	reset

	# --- 5. a migration of a VM already moving ------------------------------------
	job=$(ferryctl migrate r1 --to h2 --bandwidth $BW --no-wait)
	sleep "$(offset 2000)"
	out=$(ferryctl migrate r1 --to h3 2>&1); rc=$?
	busy() { [ "$rc" = 1 ] && grep -q "already has job $job in flight" <<< "$out"; }
	check "run $run: a second migration of r1 is refused, naming job $job ($out)" busy
	wait_until 120 final "$job"
	check "run $run: ... the first one's outcome is where r1 runs" truthful "$job" r1 h1 h2
	invariant "run $run, migrate of a VM already moving"
	reset

	# --- 6. a cancel during the last pass -------------------------------------------
	job=$(ferryctl migrate r1 --to h2 --bandwidth $BW --no-wait)
	wait_until 60 last_pass "$job"
	was=$(job_state "$job")
	ferryctl abort "$job" > /dev/null 2>&1
	check "run $run: cancel in the last pass ($was): the job ends" wait_until 120 final "$job"
	check "run $run: ... its outcome ($(job_state "$job")) is where r1 runs" truthful "$job" r1 h1 h2
	check "run $run: ... r1's heartbeat never reset" heartbeat_ok r1
	invariant "run $run, cancel in the last pass"
	reset
done

for g in $guests; do lab vm destroy "$g" > /dev/null; done
finish
