#!/usr/bin/env bash
# HA coordinators (issue 16): a lab with two coordinators c1, c2 sharing the
# store, the lease in the lab's PostgreSQL (tests/run with
# LAB_COORDINATORS=2, or `make check-ha`).
#  1. The leader SIGKILLed in the middle of a capped migration: the standby
#     leads within lease + 5 s, adopts the job, which reaches the final state
#     libvirt confirms; the VM runs on exactly one host, its heartbeat never
#     reset; the killed one, restarted, is a standby.
#  2. Fencing: the leader paused (SIGSTOP) while the database gives its lease
#     away (its expiry moved to now(), as a database that lost the last
#     renewal would) and while its lease path is cut (not the store's, nor
#     the hosts'); the standby leads, tells the hosts its epoch and adopts the
#     migration in flight; an operator's abort reaches the old leader as it
#     resumes, still within its own deadline (its renewal unanswered): the source's hostd refuses
#     it for its stale epoch (asserted from hostd's log and the reply), the
#     old leader steps down and comes back a standby; the migration
#     completes, on exactly one host.
#  3. The database stopped for longer than the lease: nobody leads (the
#     leader steps down within its deadline and waits for the database),
#     nothing can be started; the migration in flight finishes on the hosts; when
#     the database returns, a leader adopts its outcome truthfully.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/ha.sh"
vm=ha$RANDOM

job_state() { cctl "$1" job "$2" --json 2> /dev/null | jq -r .job.state; }
job_in() { [ "$(job_state "$1" "$2")" = "$3" ]; }
job_final() { case "$(job_state "$1" "$2")" in succeeded|rolled_back|failed|refused) return 0;; esac; return 1; }
# libvirt's own word, without asking a coordinator for the host list (none
# may answer while the database is down).
on_libvirt() {
	local h on=""
	for h in h1 h2 h3; do
		[ "$(lab virsh "$h" domstate "$1" 2> /dev/null | head -1)" = running ] && on="$on$h "
	done
	[ "$on" = "$2 " ]
}
cleanup() { ip netns exec "fl$LAB_ID-c2" nft delete table inet ferry_t_ha 2> /dev/null
	lab resume coordinator c1 > /dev/null 2>&1; lab resume coordinator c2 > /dev/null 2>&1
	lab start postgres > /dev/null 2>&1; lab vm destroy "$vm" > /dev/null 2>&1; }
trap cleanup EXIT

# From a lab where c1 leads (an earlier run may have left c2 leading).
if wait_until 3 is_role c2 leader; then
	lab stop coordinator c2 > /dev/null
	wait_until 30 is_role c1 leader
	lab start coordinator c2 > /dev/null
fi
check "c1 leads, c2 is its standby" wait_until 20 is_role c2 standby
check "c1 is the leader" is_role c1 leader
check "c2 knows c1 leads" test "$(cctl c2 status --json | jq -r .leader)" = c1
# (What acts, asked of the standby, is relayed to the leader: t_ha_relay.)
out=$(cctl c2 migrate nosuchvm --to h2 2>&1); rc=$?
check "an acting command on the standby gets the leader's answer (rc $rc: $out)" \
	bash -c "[ $rc = 1 ] && echo \"\$1\" | grep -q \"unknown VM 'nosuchvm'\"" _ "$out"

# ---- 1. leader SIGKILLed mid capped migration
lab vm create "$vm" --host h1 --mem 128 --dirty-mib 16 --dirty-rate 2 > /dev/null
export FERRY_SOCKET=$RUN/c1.sock
check "$vm runs on h1" wait_until 30 exactly_one "$vm" h1
check "$vm's heartbeat is there" wait_until 90 lab heartbeat "$vm"
e1=$(epoch c1)
job=$(cctl c1 migrate "$vm" --to h2 --bandwidth 6 --no-wait)
check "job $job migrating (capped)" wait_until 30 job_in c1 "$job" migrating
t0=$(now_ms)
lab stop coordinator c1 > /dev/null
check "c2 leads within lease + 5 s" wait_until $((LEASE_MS / 1000 + 5)) is_role c2 leader
note "failover: $(($(now_ms) - t0)) ms (lease $LEASE_MS ms)"
e2=$(epoch c2)
check "c2's epoch $e2 is above c1's $e1" test "$e2" -gt "$e1"
check "every host took epoch $e2" bash -c "for k in 1 2 3; do grep -q \"epoch $e2: leader c2\" $STATE/h\$k/hostd.log || exit 1; done"
check "c2 adopted job $job" grep -q "recovering migrating of $vm" "$STATE/c2/coordinator.log"
check "job $job ended" wait_until 120 job_final c2 "$job"
st=$(job_state c2 "$job")
check "job $job succeeded (it says $st)" test "$st" = succeeded
export FERRY_SOCKET=$RUN/c2.sock
check "$vm runs on h2 only, libvirt and Ferry agree" wait_until 20 exactly_one "$vm" h2
check "$vm's heartbeat never reset" beats_after "$vm" "$(now_ms)"
lab start coordinator c1 > /dev/null
check "c1, restarted, is a standby of c2" wait_until 15 is_role c1 standby
check "c1 knows c2 leads" test "$(cctl c1 status --json | jq -r .leader)" = c2

# ---- 2. fencing: a paused leader resumes after the lease was given away
check "c1 has its sessions" wait_until 20 hosts_up c1
job=$(cctl c2 migrate "$vm" --to h3 --bandwidth 6 --no-wait)
check "job $job migrating (capped)" wait_until 30 job_in c2 "$job" migrating
lab pause coordinator c2 > /dev/null
# c2's lease path also cut (the lab's coordinators reach the lease at a
# second address of the database; the store and the hosts stay): when it
# wakes, its renewal gets no answer, so it still believes it leads until
# its deadline.
printf 'table inet %s {\n\tchain out { type filter hook output priority 0; ip daddr %s drop; }\n}\n' \
	ferry_t_ha "198.18.$LAB_ID.7" | ip netns exec "fl$LAB_ID-c2" nft -f -
psql -q -X "host=198.18.$LAB_ID.6 user=ferry dbname=ferry" -c "UPDATE ferry_lease SET expires = now()" > /dev/null
check "c1 leads while c2 is paused" wait_until 10 is_role c1 leader
e3=$(epoch c1)
check "h2 (the source) took epoch $e3" wait_until 5 grep -q "epoch $e3: leader c1" "$STATE/h2/hostd.log"
# The operator's abort waits in c2's socket; c2 reads it as it wakes.
cctl c2 abort "$job" > "$STATE/t_ha-abort.out" 2>&1 &
apid=$!
sleep 0.3	# (the client's connect and write; nothing is polled for here)
lab resume coordinator c2 > /dev/null
wait "$apid"; arc=$?
note "abort on the old leader: rc $arc: $(tr '\n' ' ' < "$STATE/t_ha-abort.out")"
# Two fences stand in its way: the store's (schema 5: the audit row the
# abort must write first is refused for the stale epoch, so nothing reaches
# a host), then the hosts' (test_ha drives that one on real hostd cores).
stale_abort_refused() {
	grep -q "fenced: the lease is no longer at epoch $e2" "$STATE/t_ha-abort.out" ||
		grep -q "abort from coordinator 'c2' refused: fenced: epoch $e2 is older than epoch $e3" "$STATE/h2/hostd.log"
}
check "c2's abort refused for its stale epoch (by the store, or by h2's hostd)" wait_until 10 stale_abort_refused
check "c2 learnt it was deposed" wait_until 10 grep -q "no longer leader (epoch $e2)" "$STATE/c2/coordinator.log"
ip netns exec "fl$LAB_ID-c2" nft delete table inet ferry_t_ha
check "c2 came back a standby" wait_until 20 is_role c2 standby
check "c1 adopted job $job and it ended" wait_until 120 job_final c1 "$job"
st=$(job_state c1 "$job")
check "job $job succeeded: the stale abort changed nothing (it says $st)" test "$st" = succeeded
export FERRY_SOCKET=$RUN/c1.sock
check "$vm runs on h3 only, libvirt and Ferry agree" wait_until 20 exactly_one "$vm" h3
check "$vm's heartbeat never reset" beats_after "$vm" "$(now_ms)"

# ---- 3. the database stopped for longer than the lease
job=$(cctl c1 migrate "$vm" --to h1 --bandwidth 6 --no-wait)
check "job $job migrating (capped)" wait_until 30 job_in c1 "$job" migrating
lab stop postgres > /dev/null
t0=$(now_ms)
e4=$(epoch c1)
# (c1 re-executes and waits for the database: its socket is gone meanwhile)
check "c1 stops leading within the lease" wait_until $((LEASE_MS / 1000 + 3)) \
	grep -q "no longer leader (epoch $e4)" "$STATE/c1/coordinator.log"
check "c1 stopped before the lease could expire" test $(($(now_ms) - t0)) -le "$LEASE_MS"
check "and c2 does not lead either" is_role c2 standby
out=$(cctl c1 migrate "$vm" --to h2 2>&1); rc1=$?
out2=$(cctl c2 migrate "$vm" --to h2 2>&1); rc2=$?
check "nothing can be started on either (rc $rc1, $rc2)" test "$rc1" != 0 -a "$rc2" != 0
check "the migration in flight finishes on the hosts" wait_until 120 on_libvirt "$vm" h1
lab start postgres > /dev/null
check "a leader again" wait_until $((LEASE_MS / 1000 + 10)) leader
l=$(leader)
check "$l adopted job $job: succeeded, as libvirt says" wait_until 60 job_in "$l" "$job" succeeded
export FERRY_SOCKET=$RUN/$l.sock
check "$vm runs on h1 only, libvirt and Ferry agree" wait_until 20 exactly_one "$vm" h1
check "$vm's heartbeat never reset" beats_after "$vm" "$(now_ms)"
finish
