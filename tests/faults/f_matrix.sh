#!/usr/bin/env bash
# The fault matrix: each fault injected at a random point of a live
# migration (5 MiB/s, a guest dirtying memory), FAULT_RUNS times (default 1;
# make check-faults runs more), and once during a maintenance drain. After
# each run: the VM runs on exactly one host (asked of libvirt), its
# heartbeat never reset, the job's final state agrees with where it runs, no
# copy is left on the other host, and no job is left unfinished. The table
# goes to $FAULT_RESULTS (make check-faults: tests/faults/RESULTS.md).
# The storage faults stop the server of the guest's disk: nfs (QEMU's own
# NFS client) and gluster (a file on the hosts' GlusterFS FUSE mounts).
. "$(dirname "$0")/../lab/lib.sh"

RUNS=${FAULT_RUNS:-1}
RESULTS=${FAULT_RESULTS:-$(mktemp /tmp/ferry-faults.XXXXXX.md)}
# "gluster" (the GlusterFS server stopped under a guest whose disk is a file
# on the hosts' FUSE mounts) when the lab has one (tests/run: it does).
if [ -z "${FAULTS:-}" ]; then
	FAULTS="dest-libvirtd dest-hostd src-hostd coordinator link nfs"
	lab status | grep -q '^gluster ' && FAULTS="$FAULTS gluster"
fi
declare -A n_runs n_ok n_succ n_rb n_fail notes

pidof_daemon() { cat "/run/ferry-lab/$LAB_ID/$1.pid" 2> /dev/null; }

inject() { # FAULT SRC DST: break something, then mend it
	case $1 in
	dest-libvirtd)
		lab stop "$3" libvirtd > /dev/null; sleep 8; lab start "$3" libvirtd > /dev/null ;;
	dest-hostd)
		kill -9 "$(pidof_daemon "$3-hostd")"; sleep 5; lab start "$3" hostd > /dev/null ;;
	src-hostd)
		kill -9 "$(pidof_daemon "$2-hostd")"; sleep 5; lab start "$2" hostd > /dev/null ;;
	coordinator)
		lab stop coordinator > /dev/null; sleep 2; lab start coordinator > /dev/null ;;
	link)
		lab link "$3" down > /dev/null; sleep 12; lab link "$3" up > /dev/null ;;
	nfs)
		lab stop nfs > /dev/null; sleep 8; lab start nfs > /dev/null ;;
	gluster)
		lab stop gluster > /dev/null; sleep 8; lab start gluster > /dev/null ;;
	esac
}

job_final() { case "$(ferryctl job "$1" --json 2> /dev/null | jq -r .job.state)" in succeeded|rolled_back|failed|refused) return 0;; esac; return 1; }
migrating() { [ "$(ferryctl job "$1" --json 2> /dev/null | jq -r .job.state)" = migrating ]; }
all_up() { [ "$(ferryctl hosts --json | jq '[.[] | select(.state == "up")] | length')" = 3 ]; }
leftover() { # VM HOST: the VM is defined or present on HOST
	lab virsh "$2" list --all --name 2> /dev/null | grep -qx "$1"
}

record() { # FAULT OK STATE NOTE
	n_runs[$1]=$(( ${n_runs[$1]:-0} + 1 ))
	[ "$2" = 1 ] && n_ok[$1]=$(( ${n_ok[$1]:-0} + 1 ))
	case $3 in
	succeeded) n_succ[$1]=$(( ${n_succ[$1]:-0} + 1 )) ;;
	rolled_back) n_rb[$1]=$(( ${n_rb[$1]:-0} + 1 )) ;;
	*) n_fail[$1]=$(( ${n_fail[$1]:-0} + 1 )) ;;
	esac
	[ -n "$4" ] && notes[$1]="${notes[$1]:-}${notes[$1]:+; }$4"
}

one_run() { # FAULT RUN
	local f=$1 r=$2 vm=fm$RANDOM src=h1 dst=h2 job delay st host good=1 why="" disk=nfs
	[ "$f" = gluster ] && disk=gluster-file
	lab vm create "$vm" --host "$src" --mem 128 --dirty-mib 16 --dirty-rate 2 --disk "$disk" > /dev/null
	wait_until 20 exactly_one "$vm" "$src"
	sleep 2
	job=$(ferryctl migrate "$vm" --to "$dst" --bandwidth 5 --no-wait)
	wait_until 30 migrating "$job"
	delay=$(( 1 + RANDOM % 8 ))
	sleep "$delay"
	inject "$f" "$src" "$dst"
	wait_until 30 all_up
	if ! wait_until 300 job_final "$job"; then
		good=0; why="job $job not final after 300 s"
	fi
	st=$(ferryctl job "$job" --json | jq -r .job.state)
	host=$(on_one_host "$vm")
	if [ -z "$host" ]; then
		good=0; why="$why runs on $(running_on_libvirt "$vm" | tr '\n' ' ')hosts"
	elif ! { [ "$st" = succeeded ] && [ "$host" = "$dst" ]; } &&
	    ! { [ "$st" = rolled_back ] && [ "$host" = "$src" ]; }; then
		good=0; why="$why job says $st, libvirt says $host"
	fi
	other=$src; [ "$host" = "$src" ] && other=$dst
	if [ -n "$host" ] && leftover "$vm" "$other"; then
		good=0; why="$why leftover on $other"
	fi
	if ! beats_after "$vm" "$(now_ms)" > /dev/null; then
		good=0; why="$why heartbeat broken"
	fi
	if [ "$(ferryctl jobs --all --json | jq '[.[] | select(.ended_ms == null)] | length')" != 0 ]; then
		good=0; why="$why unfinished jobs in the database"
	fi
	note "$f run $r: fault after ${delay}s of migration; job $job $st; runs on ${host:-?}"
	if [ $good = 1 ]; then
		ok "fault $f (run $r, at ${delay}s): $st, on $host only, heartbeat unbroken"
	else
		notok "fault $f (run $r, at ${delay}s): $why"
	fi
	record "$f" "$good" "$st" "$([ $good = 1 ] || echo "run $r:$why")"
	lab vm destroy "$vm" > /dev/null
}

drain_run() { # coordinator killed during a maintenance drain
	local f=drain-coordinator vms="fd1 fd2 fd3" v good=1 why="" st
	for v in $vms; do
		lab vm create "$v" --host h1 --mem 128 --dirty-mib 8 --dirty-rate 2 > /dev/null
	done
	for v in $vms; do wait_until 20 exactly_one "$v" h1; done
	ferryctl maintenance enter h1 --max-parallel 1 > /dev/null
	sleep $(( 2 + RANDOM % 5 ))
	lab stop coordinator > /dev/null; sleep 2; lab start coordinator > /dev/null
	drain_done() { [ "$(ferryctl hosts --json | jq -r '.[] | select(.name == "h1") | .state')" = maintenance ]; }
	wait_until 240 drain_done || { good=0; why="h1 not in maintenance after the drain resumed"; }
	for v in $vms; do
		h=$(on_one_host "$v")
		{ [ -n "$h" ] && [ "$h" != h1 ]; } || { good=0; why="$why $v on '${h:-none}'"; }
		beats_after "$v" "$(now_ms)" > /dev/null || { good=0; why="$why $v heartbeat"; }
	done
	st=$(ferryctl jobs --all --json | jq -r '[.[] | select(.kind == "drain")][-1].state')
	[ "$st" = completed ] || { good=0; why="$why drain $st"; }
	if [ $good = 1 ]; then ok "fault $f: drain resumed and completed; every VM off h1 once"
	else notok "fault $f: $why"; fi
	record "$f" "$good" "$([ $good = 1 ] && echo succeeded || echo failed)" "$why"
	ferryctl maintenance exit h1 > /dev/null
	for v in $vms; do lab vm destroy "$v" > /dev/null; done
}

for ((r = 1; r <= RUNS; r++)); do
	for f in $FAULTS; do one_run "$f" "$r"; done
done
[ "${FAULT_DRAIN:-1}" = 1 ] && drain_run

{
	echo "# Fault matrix"
	echo
	echo "Generated by tests/faults/f_matrix.sh on $(date -u '+%Y-%m-%d %H:%M UTC'),"
	echo "commit $(git -C "$REPO" rev-parse --short HEAD), $(nproc) cores. Each run migrates a 128 MiB"
	echo "guest dirtying 2 MiB/s at 5 MiB/s and injects the fault 1-8 s into the copy."
	echo "A run is ok when the VM runs on exactly one host (libvirt), the job's final"
	echo "state agrees, nothing is left on the other host, the heartbeat never reset"
	echo "and no job is left unfinished."
	echo
	echo "| fault | runs | ok | succeeded | rolled back | failed | notes |"
	echo "|---|---|---|---|---|---|---|"
	for f in $FAULTS drain-coordinator; do
		[ -n "${n_runs[$f]:-}" ] || continue
		echo "| $f | ${n_runs[$f]} | ${n_ok[$f]:-0} | ${n_succ[$f]:-0} | ${n_rb[$f]:-0} | ${n_fail[$f]:-0} | ${notes[$f]:-} |"
	done
} > "$RESULTS"
note "results in $RESULTS"
cat "$RESULTS" | sed 's/^/# /'
finish
