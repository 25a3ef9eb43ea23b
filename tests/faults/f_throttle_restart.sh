#!/usr/bin/env bash
# The vCPU throttle (issue 14) is released when a daemon goes away while it
# is applied, asserted from libvirt's own vCPU settings of the domain
# (virsh schedinfo vcpu_quota) on whichever host runs it afterwards:
#  - the coordinator killed mid-throttle: the source hostd steers on and
#    releases at the end, before the coordinator is back;
#  - the source hostd stopped mid-throttle (lab stop: SIGTERM, SIGKILL after
#    5 s, as a service manager's stop timeout does): released when it stops,
#    so a migration that then fails resumes the guest unthrottled while no
#    hostd runs (it stayed throttled until the next start);
#  - the source hostd killed (SIGKILL) mid-throttle and the migration failing
#    meanwhile: the hostd that starts again releases what it left.
. "$(dirname "$0")/../lab/lib.sh"

va=tr-c-$LAB_ID-$$ vb=tr-s-$LAB_ID-$$ vc=tr-k-$LAB_ID-$$
hip() { echo "198.18.$LAB_ID.$((10 + ${1#h}))"; }
quota() { # HOST VM: vcpu_quota as libvirt reports it, or "absent"
	virsh -q -c "qemu+tcp://$(hip "$1")/system" schedinfo "$2" --live 2>/dev/null |
		awk '$1 == "vcpu_quota" { print $3; f = 1 } END { if (!f) print "absent" }'
}
src_job() { # HOST VM: libvirt's job of the domain there: none, active, gone
	local out
	out=$(virsh -q -c "qemu+tcp://$(hip "$1")/system" domjobinfo "$2" 2>/dev/null) ||
		{ echo gone; return; }
	echo "$out" | awk '$1 == "Job" && $2 == "type:" { print ($3 == "None" ? "none" : "active") }'
}
runs_on() { # VM: the one host whose libvirt runs it (asked directly: the
	# coordinator may be down), else nothing
	local h l=
	for h in h1 h2 h3; do
		[ "$(virsh -q -c "qemu+tcp://$(hip $h)/system" domstate "$1" 2>/dev/null | head -1)" = running ] &&
			l="$l $h"
	done
	[ "$(echo $l | wc -w)" = 1 ] && echo $l
}
job_state() { ferryctl job "$1" --json 2>/dev/null | jq -r .job.state; }
final() { # JOB: the job has ended
	case $(job_state "$1") in
	succeeded | rolled_back | failed | aborted | refused) return 0 ;;
	esac
	return 1
}
throttled() { # HOST VM JOB: wait for the ladder's throttle, in libvirt's view
	local i q
	for ((i = 0; i < 600; i++)); do
		q=$(quota "$1" "$2")
		is_number "$q" && [ "$q" -gt 0 ] && return 0
		case $(job_state "$3") in
		pending | checking | migrating) ;;
		*) break ;;
		esac
		sleep 0.25
	done
	notok "$2: never throttled on $1 (vcpu_quota $q, job $(job_state "$3"))"
	return 1
}
kill_incoming() { # HOST VM: the destination's incoming QEMU dies
	local p
	p=$(for p in $(ip netns pids "fl$LAB_ID-$1"); do
		tr '\0' ' ' < /proc/$p/cmdline 2>/dev/null | grep -q "guest=$2," && echo $p; done | head -1)
	[ -n "$p" ] && kill -9 "$p"
}

# The hostd cases move off h3 and h2: their stops touch no other case.
for vh in $va:h1 $vb:h3 $vc:h2; do
	lab vm create "${vh%%:*}" --host "${vh#*:}" --mem 192 --dirty-mib 48 --dirty-rate 24 > /dev/null 2>&1 ||
		notok "lab vm create ${vh%%:*} on ${vh#*:}"
done
wait_until 60 sh -c "ferryctl vms --json | jq -e '[.[] | select(.name | startswith(\"tr-\"))] | length == 3'" > /dev/null ||
	notok "guests never appeared"
# Dirtying before the first pass starts, or the ladder has nothing to do.
for v in $va $vb $vc; do
	lab heartbeat "$v" --wait 60 > /dev/null 2>&1 || notok "$v never beat"
done

# --- The coordinator killed mid-throttle --------------------------------
ja=$(ferryctl migrate $va --to h2 --bandwidth 6 --no-wait) || notok "migrate $va"
if throttled h1 $va $ja; then
	ok "$va throttled on h1 (vcpu_quota $(quota h1 $va)); killing the coordinator"
	lab stop coordinator > /dev/null 2>&1
	# The source's hostd steers on alone: the migration ends (converges
	# throttled, or the ladder's timeout aborts it) without a coordinator.
	wait_until 180 sh -c "[ \"\$(virsh -q -c qemu+tcp://$(hip h1)/system domjobinfo $va 2>/dev/null | awk '\$1 == \"Job\" { print \$3 }')\" != Unbounded ]" ||
		notok "$va: the migration never ended with the coordinator down"
	sleep 1
	h=$(runs_on $va)
	q=$(quota "${h:-h1}" $va)
	[ -n "$h" ] && [ "$q" = -1 ] &&
		ok "coordinator down, migration over: $va runs on $h with vcpu_quota -1" ||
		notok "coordinator down, migration over: $va on [${h}], vcpu_quota $q"
	lab start coordinator > /dev/null 2>&1 || notok "lab start coordinator"
	wait_until 120 final $ja || notok "$va: job $ja never ended after the restart ($(job_state $ja))"
	st=$(job_state $ja) h=$(runs_on $va)
	q=$(quota "${h:-h1}" $va)
	[ -n "$h" ] && [ "$q" = -1 ] && exactly_one $va "$h" &&
		ok "after the coordinator's restart ($st): $va runs on $h only, vcpu_quota -1" ||
		notok "after the coordinator's restart ($st): $va on [${h}], vcpu_quota $q"
fi

# --- The source hostd stopped mid-throttle -------------------------------
jb=$(ferryctl migrate $vb --to h1 --bandwidth 3 --no-wait) || notok "migrate $vb"
if throttled h3 $vb $jb; then
	ok "$vb throttled on h3 (vcpu_quota $(quota h3 $vb)); stopping h3's hostd"
	lab stop h3 hostd > /dev/null 2>&1
	[ "$(src_job h3 $vb)" = active ] ||
		note "$vb: the migration ended before h3's hostd was down ($(src_job h3 $vb))"
	# It fails while no hostd runs on h3: the guest resumes there.
	if [ "$(src_job h3 $vb)" = active ]; then
		kill_incoming h1 $vb || notok "no incoming QEMU of $vb on h1 to kill"
		wait_until 60 sh -c "[ \"\$(virsh -q -c qemu+tcp://$(hip h3)/system domjobinfo $vb 2>/dev/null | awk '\$1 == \"Job\" { print \$3 }')\" = None ]" ||
			notok "$vb: the migration never ended on h3"
	fi
	h=$(runs_on $vb)
	q=$(quota "${h:-h3}" $vb)
	[ -n "$h" ] && [ "$q" = -1 ] &&
		ok "h3's hostd stopped, migration over: $vb runs on $h with vcpu_quota -1" ||
		notok "h3's hostd stopped, migration over: $vb on [${h}], vcpu_quota $q (the throttle outlived the hostd)"
	lab start h3 hostd > /dev/null 2>&1 || notok "lab start h3 hostd"
	wait_until 120 final $jb || notok "$vb: job $jb never ended ($(job_state $jb))"
	st=$(job_state $jb) h=$(runs_on $vb)
	q=$(quota "${h:-h3}" $vb)
	[ -n "$h" ] && [ "$q" = -1 ] && exactly_one $vb "$h" &&
		ok "after h3's hostd started again ($st): $vb runs on $h only, vcpu_quota -1" ||
		notok "after h3's hostd started again ($st): $vb on [${h}], vcpu_quota $q"
fi

# --- The source hostd killed mid-throttle --------------------------------
jc=$(ferryctl migrate $vc --to h1 --bandwidth 3 --no-wait) || notok "migrate $vc"
if throttled h2 $vc $jc; then
	ok "$vc throttled on h2 (vcpu_quota $(quota h2 $vc)); SIGKILL to h2's hostd"
	kill -9 "$(cat "/run/ferry-lab/$LAB_ID/h2-hostd.pid")" || notok "no hostd pid for h2"
	if [ "$(src_job h2 $vc)" = active ]; then
		kill_incoming h1 $vc || notok "no incoming QEMU of $vc on h1 to kill"
		wait_until 60 sh -c "[ \"\$(virsh -q -c qemu+tcp://$(hip h2)/system domjobinfo $vc 2>/dev/null | awk '\$1 == \"Job\" { print \$3 }')\" = None ]" ||
			notok "$vc: the migration never ended on h2"
		# Nothing can release it while no hostd runs: said, not asserted.
		note "$vc with h2's hostd killed, after the failure: vcpu_quota $(quota h2 $vc) on h2"
	else
		note "$vc: the migration ended before the failure could be injected ($(src_job h2 $vc))"
	fi
	lab start h2 hostd > /dev/null 2>&1 || notok "lab start h2 hostd"
	h=$(runs_on $vc)
	if wait_until 30 sh -c "[ \"\$(virsh -q -c qemu+tcp://$(hip "${h:-h2}")/system schedinfo $vc --live | awk '\$1 == \"vcpu_quota\" { print \$3 }')\" = -1 ]"; then
		ok "h2's hostd started again: $vc runs on $h with vcpu_quota -1"
	else
		notok "h2's hostd started again: $vc on [${h}], vcpu_quota $(quota "${h:-h2}" $vc)"
	fi
	[ ! -e "/run/ferry-lab/$LAB_ID/h2-throttle/$vc" ] &&
		ok "no throttle record of $vc left in h2's throttle_dir" ||
		notok "a throttle record of $vc is left in h2's throttle_dir"
	wait_until 120 final $jc || notok "$vc: job $jc never ended ($(job_state $jc))"
	st=$(job_state $jc) h=$(runs_on $vc)
	[ -n "$h" ] && exactly_one $vc "$h" && ok "$vc: job $st, runs on $h only" ||
		notok "$vc: job $st, on [${h}]"
fi

for v in $va $vb $vc; do lab vm destroy "$v" > /dev/null 2>&1; done
exit $FAILED
