#!/usr/bin/env bash
# HA relay (issue 16): ferryctl's commands that act, run against the
# standby, are carried out by the leader (coordinator/relay_standby.c ->
# relay_leader.c), and the answers come back as if the standby had written
# them.
#  0. the relay admits only the coordinators' keys (a stranger's: refused).
#  1. migrate --wait on the standby: its progress and final line, rc 0; the
#     VM on the destination only (libvirt's word); the job in the leader's
#     memory and records; the audit row names the standby (root@S).
#  2. a refusal is the leader's, relayed: an unknown VM, rc 1, audited; two
#     operators moving one VM at once, on each coordinator: one move taken.
#  3. maintenance enter --wait and exit on the standby: the leader drains a
#     host with a VM on it and restores it.
#  4. watch on the standby of a job the leader started: followed to its end.
#  5. the leader paused (SIGSTOP): the standby still answers reads at once; a
#     migrate asked of it ends with rc 1 and a message that says what is
#     known, and is never carried out (no job for it in the store, the VM
#     where it was) although the old leader reads it when it resumes.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/ha.sh"
vm=hr$RANDOM
cleanup() {
	lab resume coordinator c1 > /dev/null 2>&1; lab resume coordinator c2 > /dev/null 2>&1
	local c; c=$(leader) && cctl "$c" maintenance exit h3 > /dev/null 2>&1
	lab vm destroy "$vm" > /dev/null 2>&1
}
trap cleanup EXIT

ha_pair
relay_up() { [ "$(cctl "$S" status --json | jq -r .relay)" = up ]; }
check "$S's relay to $L is up (status --json)" wait_until 20 relay_up
check "$L has no relay of its own to report" test "$(cctl "$L" status --json | jq -r .relay)" = null
# Only the coordinators' keys get in: any other key is refused at the SSH
# layer, before a frame is read.
kd=$(mktemp -d)
ssh-keygen -q -t ed25519 -N '' -f "$kd/k"
addr=$(sed -n 's/.*relay_address = "\([^"]*\)".*/\1/p' "$STATE/$L/coordinator.conf")
port=$(sed -n 's/.*relay_port = \([0-9]*\);.*/\1/p' "$STATE/$L/coordinator.conf")
out=$(timeout 20 ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
	-o IdentitiesOnly=yes -i "$kd/k" -p "$port" -s "ferry@$addr" ferry < /dev/null 2>&1); rc=$?
rm -rf "$kd"
check "a stranger's key is refused by $L's relay ($addr:$port, rc $rc)" \
	bash -c "[ $rc = 255 ] && grep -q 'Permission denied (publickey)' <<< \"\$1\"" _ "$out"

lab vm create "$vm" --host h1 --mem 128 --dirty-mib 8 --dirty-rate 1 > /dev/null
export FERRY_SOCKET=$RUN/$L.sock
check "$vm runs on h1" wait_until 30 exactly_one "$vm" h1
check "$vm's heartbeat is there" wait_until 90 lab heartbeat "$vm"

# ---- 1. migrate --wait through the standby
out=$(cctl "$S" migrate "$vm" --to h2 2>&1); rc=$?
note "migrate on $S: rc $rc: $(echo "$out" | tail -1)"
check "migrate on $S: rc 0" test "$rc" = 0
check "... its progress came through" grep -q '^migrating: h1 -> h2' <<< "$out"
check "... and its final line" grep -q "^succeeded: $vm now runs on h2" <<< "$out"
check "$vm runs on h2 only, libvirt and Ferry agree" wait_until 20 exactly_one "$vm" h2
job=$(cctl "$L" jobs --all --json | jq -r --arg v "$vm" '[.[] | select(.vm == $v)] | last | .id')
check "the leader $L ran it: job $job succeeded" \
	test "$(cctl "$L" job "$job" --json | jq -r .job.state)" = succeeded
a=$(cctl "$L" audit --json | jq -c --arg v "$vm" '[.[] | select(.what == "migrate" and .args.vm == $v)] | last')
check "audit: asked of $S, by root, accepted, job $job ($a)" \
	jq -e --arg s "$S" --argjson j "$job" \
	'.coordinator == $s and .who == "root" and .via == "ctl" and .uid == 0 and .outcome == "accepted" and .job_id == $j' <<< "$a" > /dev/null
check "audit (table): root@$S" bash -c "cctl() { FERRY_SOCKET=$RUN/$L.sock ferryctl \"\$@\"; }; cctl audit | grep -q 'root@$S (uid 0)'"

# ---- 2. the leader's refusal, relayed
out=$(cctl "$S" migrate nosuch$RANDOM --to h2 2>&1); rc=$?
check "an unknown VM on $S: rc 1 and the leader's reason ($out)" \
	bash -c "[ $rc = 1 ] && grep -q \"unknown VM 'nosuch\" <<< \"\$1\"" _ "$out"
a=$(cctl "$L" audit --json | jq -c '[.[] | select(.what == "migrate")] | last')
check "... audited as refused, asked of $S" jq -e --arg s "$S" '.coordinator == $s and .outcome == "refused"' <<< "$a" > /dev/null

# ---- 2b. two operators at once, one on each coordinator: the leader
# takes one move of the VM and refuses the other
(cctl "$S" migrate "$vm" --to h1 --bandwidth 20 --no-wait > "$STATE/t_ha_relay.s" 2>&1; echo $? >> "$STATE/t_ha_relay.s") &
(cctl "$L" migrate "$vm" --to h3 --bandwidth 20 --no-wait > "$STATE/t_ha_relay.l" 2>&1; echo $? >> "$STATE/t_ha_relay.l") &
wait
rs=$(tail -1 "$STATE/t_ha_relay.s"); rl=$(tail -1 "$STATE/t_ha_relay.l")
note "at once: on $S rc $rs: $(head -1 "$STATE/t_ha_relay.s"); on $L rc $rl: $(head -1 "$STATE/t_ha_relay.l")"
check "exactly one of the two moves was accepted (rc $rs and $rl)" \
	bash -c "[ \$(( ($rs == 0) + ($rl == 0) )) = 1 ]"
[ "$rs" = 0 ] && dst=h1 || dst=h3
check "... the other refused: the VM already has a job in flight" \
	grep -q 'already has job [0-9]* in flight' "$STATE/t_ha_relay.$([ "$rs" = 0 ] && echo l || echo s)"
check "$vm ends on $dst only" wait_until 60 exactly_one "$vm" "$dst"
rm -f "$STATE/t_ha_relay.s" "$STATE/t_ha_relay.l"

# ---- 3. maintenance through the standby, a VM on the host
out=$(cctl "$L" migrate "$vm" --to h3 2>&1) || note "to h3: $out"
check "$vm on h3" wait_until 20 exactly_one "$vm" h3
out=$(cctl "$S" maintenance enter h3 --wait 2>&1); rc=$?
note "maintenance enter h3 on $S: rc $rc: $(echo "$out" | tail -1)"
check "maintenance enter h3 --wait on $S: rc 0" test "$rc" = 0
admin_is() { [ "$(cctl "$1" hosts --json | jq -r --arg h "$2" '.[] | select(.name == $h) | .admin_state')" = "$3" ]; }
check "h3 in maintenance, as the leader says" admin_is "$L" h3 maintenance
check "... and as the standby says" wait_until 10 admin_is "$S" h3 maintenance
check "$vm left h3, on exactly one host" bash -c "! lab virsh h3 list --name | grep -qx $vm"
out=$(cctl "$S" maintenance exit h3 2>&1); rc=$?
check "maintenance exit h3 on $S: rc 0 ($out)" test "$rc" = 0
check "h3 active again" wait_until 20 admin_is "$L" h3 active

# ---- 4. watch, on the standby, of the leader's job
on=$(lab virsh h1 list --name | grep -qx "$vm" && echo h1 || echo h2)
to=$([ "$on" = h1 ] && echo h2 || echo h1)
job=$(cctl "$L" migrate "$vm" --to "$to" --bandwidth 8 --no-wait)
check "job $job started on $L" is_number "$job"
out=$(timeout 120 bash -c "FERRY_SOCKET=$RUN/$S.sock ferryctl watch $job" 2>&1); rc=$?
note "watch $job on $S: rc $rc: $(echo "$out" | tail -1)"
check "watch $job on $S followed it to its end (rc 0)" \
	bash -c "[ $rc = 0 ] && grep -q '^succeeded: ' <<< \"\$1\"" _ "$out"
check "$vm runs on $to only" wait_until 20 exactly_one "$vm" "$to"

# ---- 5. the leader paused: reads stay local, what acts is not lost silently
lab pause coordinator "$L" > /dev/null
t0=$(now_ms)
check "$S answers hosts at once while $L is paused" timeout 5 bash -c "FERRY_SOCKET=$RUN/$S.sock ferryctl hosts > /dev/null"
back=$([ "$to" = h1 ] && echo h2 || echo h1)
out=$(timeout 60 bash -c "FERRY_SOCKET=$RUN/$S.sock ferryctl migrate $vm --to $back" 2>&1); rc=$?
dt=$(($(now_ms) - t0))
note "migrate on $S with $L paused: rc $rc after $dt ms: $out"
check "... rc 1, not a hang (timeout's 124)" test "$rc" = 1
check "... and it says the relay to $L ended, and where to look" \
	bash -c "grep -q 'the relay to the leader $L ended' <<< \"\$1\" && grep -q 'ferryctl jobs' <<< \"\$1\"" _ "$out"
check "$S leads now" wait_until $((LEASE_MS / 1000 + 5)) is_role "$S" leader
lab resume coordinator "$L" > /dev/null
check "$L comes back a standby" wait_until 30 is_role "$L" standby
relay_up_on() { [ "$(cctl "$1" status --json | jq -r .relay)" = up ]; }
check "... and relays to $S" wait_until 20 relay_up_on "$L"
sleep_beats=$(now_ms)
export FERRY_SOCKET=$RUN/$S.sock
check "the call $L read as it woke was not carried out: $vm still on $to only" wait_until 10 exactly_one "$vm" "$to"
n=$(cctl "$S" jobs --all --json | jq --arg v "$vm" --argjson j "$job" '[.[] | select(.vm == $v and .id > $j)] | length')
check "no job for $vm after job $job in the store ($n)" test "$n" = 0
check "$vm's heartbeat never reset" beats_after "$vm" "$sleep_beats"
finish
