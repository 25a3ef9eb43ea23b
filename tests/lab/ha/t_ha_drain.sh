#!/usr/bin/env bash
# HA coordinators (issue 16): the leader SIGKILLed in the middle of a
# maintenance drain (3 guests, --max-parallel 1: one moved, the next
# migrating, the third checked ahead). The standby leads, resumes the drain
# (the checked-ahead job rolled back by recovery is started again) and
# completes it: h1 in maintenance, every guest off h1 and on exactly one
# host (libvirt's word), each heartbeat unbroken, the drain's record
# `completed` and each of its migrations succeeded. Run by `make check-ha`
# beside t_ha.sh (a lab with --coordinators 2), about 1 minute.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/ha.sh"
vms="hd$RANDOM hd$RANDOM hd$RANDOM"

# The drain's migrations, "id state" a line (jobs --all: run is the drain).
drain_jobs() { cctl "$1" jobs --all --json | jq -r --argjson d "$2" '.[] | select(.run == $d) | "\(.id) \(.state)"'; }
n_in() { drain_jobs "$1" "$2" | awk -v s="$3" '$2 == s' | wc -l; }
# One move done and the next one copying: the middle of the drain.
mid_drain() { [ "$(n_in "$1" "$2" succeeded)" -ge 1 ] && [ "$(n_in "$1" "$2" migrating)" = 1 ]; }
drain_state() { cctl "$1" job "$2" --json 2> /dev/null | jq -r .job.state; }
admin_of() { cctl "$1" hosts --json | jq -r --arg h "$2" '.[] | select(.name == $h) | .admin_state'; }
cleanup() {
	local v c
	c=$(leader) && cctl "$c" maintenance exit h1 > /dev/null 2>&1
	for v in $vms; do lab vm destroy "$v" > /dev/null 2>&1 & done
	wait
}
trap cleanup EXIT

ha_pair

for v in $vms; do lab vm create "$v" --host h1 --mem 128 --dirty-mib 16 --dirty-rate 2 > /dev/null & done
wait
export FERRY_SOCKET=$RUN/$L.sock
for v in $vms; do
	check "$v runs on h1" wait_until 30 exactly_one "$v" h1
	check "$v's heartbeat is there" wait_until 180 lab heartbeat "$v"
done
t_start=$(now_ms)
d=$(cctl "$L" maintenance enter h1 --max-parallel 1 --json | jq -s '.[0].id')
check "$L started drain $d of h1" is_number "$d"
check "drain $d is in the middle: one VM moved, the next migrating" wait_until 120 mid_drain "$L" "$d"
note "before the kill: $(drain_jobs "$L" "$d" | tr '\n' ',')"
t0=$(now_ms)
lab stop coordinator "$L" > /dev/null
check "$S leads within lease + 5 s" wait_until $((LEASE_MS / 1000 + 5)) is_role "$S" leader
note "failover: $(($(now_ms) - t0)) ms (lease $LEASE_MS ms)"
check "$S resumed drain $d" wait_until 20 grep -q "drain=$d host=h1: resuming after a restart" "$STATE/$S/coordinator.log"
export FERRY_SOCKET=$RUN/$S.sock
drain_over() { case "$(drain_state "$S" "$d")" in completed|incomplete|cancelled|failed) return 0;; esac; return 1; }
check "drain $d ended on $S" wait_until 240 drain_over
st=$(drain_state "$S" "$d")
check "drain $d's record says completed (it says $st)" test "$st" = completed
check "h1 is in maintenance" test "$(admin_of "$S" h1)" = maintenance
note "after: $(drain_jobs "$S" "$d" | tr '\n' ',')"
n_ok=0
for v in $vms; do
	h=$(on_one_host "$v")
	check "$v runs on exactly one host, not h1 (libvirt: '${h:-none or several}')" \
		test -n "$h" -a "$h" != h1
	[ -n "$h" ] && check "$v: libvirt and $S agree it is on $h only" exactly_one "$v" "$h"
	check "$v's heartbeat never reset" beats_after "$v" "$t_start"
	j=$(cctl "$S" jobs --all --json | jq -r --argjson d "$d" --arg v "$v" \
	    '[.[] | select(.run == $d and .vm == $v and .state == "succeeded")] | length')
	[ "$j" = 1 ] && n_ok=$((n_ok + 1))
done
check "each VM has exactly one succeeded migration in drain $d ($n_ok of 3)" test "$n_ok" = 3
check "no migration of drain $d unfinished" test "$(drain_jobs "$S" "$d" |
	awk '$2 !~ /^(succeeded|rolled_back|failed|refused|cancelled)$/' | wc -l)" = 0
lab start coordinator "$L" > /dev/null
check "$L, restarted, is a standby of $S" wait_until 20 is_role "$L" standby
finish
