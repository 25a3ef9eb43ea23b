#!/usr/bin/env bash
# The fault matrix: each fault injected at a random point of live
# migrations (a 10 MiB/s cap, guests dirtying memory), FAULT_RUNS trials a
# fault (default 1; make check-faults runs 30), and during maintenance
# drains. Trials of one fault run FAULT_PAR at a time (default 6): that many
# guests migrate at once, each started at its own random offset (3-10 s)
# before the one injection, so each is an independent trial with its own
# verdict. After each trial: the VM runs on exactly one host (asked of
# libvirt), its heartbeat never reset, the job's final state agrees with
# where it runs, no copy or definition is left on the other host, and no
# job is left unfinished. A trial whose job was not migrating when the fault
# struck (not started yet, or already over) counts as not a run when it
# passes those checks, and as a failed run when it does not.
# The table goes to $FAULT_RESULTS (make check-faults: tests/faults/RESULTS.md).
# The storage faults stop the server of the guests' disks: nfs (QEMU's own
# NFS client), gluster (a file on the hosts' GlusterFS FUSE mounts) and ceph
# (monitor and OSD stopped under RBD disks QEMU opens with librbd).
# clock-step steps the coordinator's and the hostds' wall clock by an hour
# (forward on odd rounds, back on even ones, then back again) through
# libfaketime (lab up --faketime): the machine's clock is never touched.
# Lost (running nowhere) and duplicated (running on two hosts) are counted
# from libvirt's answers.
. "$(dirname "$0")/../lab/lib.sh"

RUNS=${FAULT_RUNS:-1}
PAR=${FAULT_PAR:-6}
BW=${FAULT_BW:-10}
RESULTS=${FAULT_RESULTS:-$(mktemp /tmp/ferry-faults.XXXXXX.md)}
# "gluster" (the GlusterFS server stopped under a guest whose disk is a file
# on the hosts' FUSE mounts) when the lab has one (tests/run: it does).
if [ -z "${FAULTS:-}" ]; then
	FAULTS="dest-libvirtd dest-hostd src-hostd coordinator link nfs src-libvirtd dest-qemu coordinator-disk-full postcopy-link"
	lab status | grep -q '^gluster ' && FAULTS="$FAULTS gluster"
	lab status | grep -q '^ceph ' && FAULTS="$FAULTS ceph"
	[ "$(grep -s '^FAKETIME=' "/run/ferry-lab/$LAB_ID/lab.env" | cut -d= -f2)" = 1 ] && FAULTS="$FAULTS clock-step"
fi
T_START=$(date +%s)
declare -A n_runs n_ok n_succ n_rb n_fail n_lost n_dup n_late n_secs notes
STATE=/var/lib/ferry-lab/$LAB_ID
DBFS=$STATE/coordinator/dbfs	# a small tmpfs for coordinator-disk-full

pidof_daemon() { cat "/run/ferry-lab/$LAB_ID/$1.pid" 2> /dev/null; }

# dest_qemu_pid VM HOST: the pid of VM's QEMU as HOST's libvirtd knows it
# (its pidfile in HOST's mount namespace), checked against the process.
dest_qemu_pid() {
	local pid
	pid=$(lab exec "$2" cat "/run/libvirt/qemu/$1.pid" 2> /dev/null) || return 1
	tr '\0' ' ' < "/proc/$pid/cmdline" 2> /dev/null | grep -q "guest=$1," || return 1
	echo "$pid"
}

# The coordinator's database moves to an 8 MiB tmpfs (once), so that the
# fault can fill its directory; db_restore moves it back at the end.
db_on_tmpfs() {
	local conf=$STATE/coordinator/coordinator.conf
	mountpoint -q "$DBFS" && return 0
	lab stop coordinator > /dev/null
	mkdir -p "$DBFS"
	mount -t tmpfs -o size=8m,mode=700 ferry-lab-dbfs "$DBFS" || return 1
	cp -a "$STATE"/coordinator/ferry.db* "$DBFS"/
	cp "$conf" "$conf.orig"
	sed -i "s|^database = .*|database = \"$DBFS/ferry.db\";|" "$conf"
	lab start coordinator > /dev/null
	wait_until 30 all_up
}
db_restore() {
	local conf=$STATE/coordinator/coordinator.conf
	mountpoint -q "$DBFS" || return 0
	rm -f "$DBFS/fill"
	lab stop coordinator > /dev/null
	rm -f "$STATE"/coordinator/ferry.db*
	cp -a "$DBFS"/ferry.db* "$STATE/coordinator/"
	mv "$conf.orig" "$conf"
	umount "$DBFS" && rmdir "$DBFS"
	lab start coordinator > /dev/null
}

inject() { # FAULT SRC DST "VMS" ROUND: break something, then mend it
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
	ceph)
		lab stop ceph > /dev/null; sleep 8; lab start ceph > /dev/null ;;
	src-libvirtd)
		kill -9 "$(pidof_daemon "$2-libvirtd")"; sleep 8
		lab start "$2" libvirtd > /dev/null ;;
	dest-qemu)
		local pid v miss=0
		for v in $4; do
			pid=$(dest_qemu_pid "$v" "$3") || { note "no incoming QEMU of $v on $3"; miss=1; continue; }
			kill -9 "$pid"
		done
		return $miss ;;
	clock-step)
		# An hour forward (odd rounds) or back (even), held 8 s, then
		# the opposite step back to the machine's time. Each step must
		# be seen by the coordinator and both hostds.
		local step=$(( $5 % 2 ? 3600 : -3600 ))
		lab clock "$(printf '%+d' "$step")" > /dev/null
		if wait_until 10 clock_seen "$step" "$2" "$3"; then
			note "clock stepped ${step}s at $(now_ms); the coordinator, $2 and $3 read it"
		else
			note "the ${step}s step did not reach the daemons"; CLOCK_MISSED=1
		fi
		sleep 8
		lab clock 0 > /dev/null
		wait_until 10 clock_seen 0 "$2" "$3" ||
		    { note "the step back did not reach the daemons"; CLOCK_MISSED=1; } ;;
	coordinator-disk-full)
		# dd stops at ENOSPC; the coordinator runs full for 8-32 s,
		# so that the job's end falls into some runs' outage.
		# The WAL is first truncated (an outside checkpoint), or the
		# coordinator would write into its old pages and never meet
		# ENOSPC; the run counts the writes that were refused.
		local hold=$(( 8 + RANDOM % 25 ))
		sqlite3 -cmd '.timeout 5000' "$DBFS/ferry.db" \
		    'PRAGMA wal_checkpoint(TRUNCATE);' | sed 's/^/# checkpoint (busy|log|done): /'
		dd if=/dev/zero of="$DBFS/fill" bs=64k 2> /dev/null
		df -k "$DBFS" | tail -1 | awk -v h=$hold '{ print "# dbfs: " $4 " KiB free for " h " s" }'
		sleep "$hold"; rm -f "$DBFS/fill" ;;
	postcopy-link)
		# 12 s: TCP outlives the cut; 45 s: longer than libvirt's
		# keepalive (5 x 5 s), so the post-copy fails and must be
		# resumed or reported. Even runs take the long cut, so
		# make check's one run is the short one; FAULT_PC_CUT=45
		# gives every round the long one (README, Status: the
		# leftover definition it found).
		local cut=${FAULT_PC_CUT:-$(( $5 % 2 ? 12 : 45 ))}
		note "link cut for ${cut}s"
		watch_both "$cut" $4 & local w=$!
		lab link "$3" down > /dev/null; sleep "$cut"; lab link "$3" up > /dev/null
		wait "$w" || true ;;
	esac
}

# watch_both SECONDS VM...: fails if, sampled every 0.5 s, a VM is ever
# seen running on both h1 and h2 (libvirt's answers); names it in $TMPD/dup.
watch_both() {
	local end=$(( $(date +%s) + $1 )) a b v rc=0
	shift
	while [ "$(date +%s)" -lt "$end" ]; do
		a=$(lab virsh h1 list --name 2> /dev/null)
		b=$(lab virsh h2 list --name 2> /dev/null)
		for v in "$@"; do
			if grep -qx "$v" <<< "$a" && grep -qx "$v" <<< "$b" &&
			    [ "$(lab virsh h1 domstate "$v" 2> /dev/null | head -1)" = running ] &&
			    [ "$(lab virsh h2 domstate "$v" 2> /dev/null | head -1)" = running ]; then
				note "$v running on h1 and h2 at $(now_ms)"; echo "$v" >> "$TMPD/dup"; rc=1
			fi
		done
		sleep 0.5
	done
	return $rc
}

# clock_seen OFFSET SRC DST: the coordinator (the time it last heard from a
# host, by its own clock) and both hostds (a log line made now: a TCP probe
# of the port is logged as a failed handshake) read the machine's time plus
# OFFSET seconds, within 30 s.
clock_seen() {
	local want=$(( $(date +%s) + $1 )) t h line
	t=$(( $(ferryctl hosts --json | jq '[.[].last_seen_ms] | max') / 1000 ))
	[ $(( t - want )) -le 30 ] && [ $(( want - t )) -le 30 ] || return 1
	for h in "$2" "$3"; do
		timeout 2 bash -c "exec 3<>/dev/tcp/198.18.$LAB_ID.$((10 + ${h#h}))/7220" 2> /dev/null
		sleep 0.3
		line=$(tail -1 "$STATE/$h/hostd.log")
		t=$(date -d "${line%% *}" +%s 2> /dev/null) || return 1
		[ $(( t - want )) -le 30 ] && [ $(( want - t )) -le 30 ] || return 1
	done
}

# in_postcopy VM HOST: libvirt on HOST (the source) says the migration
# switched to post-copy.
in_postcopy() { lab virsh "$2" domstate --reason "$1" 2> /dev/null | grep -q "post-copy"; }

job_final() { case "$(ferryctl job "$1" --json 2> /dev/null | jq -r .job.state)" in succeeded|rolled_back|failed|refused) return 0;; esac; return 1; }
migrating() { [ "$(ferryctl job "$1" --json 2> /dev/null | jq -r .job.state)" = migrating ]; }
all_up() { [ "$(ferryctl hosts --json | jq '[.[] | select(.state == "up")] | length')" = 3 ]; }
leftover() { # VM HOST: the VM is defined or present on HOST
	lab virsh "$2" list --all --name 2> /dev/null | grep -qx "$1"
}

record() { # FAULT OK STATE NOTE [NRUNNING]
	n_runs[$1]=$(( ${n_runs[$1]:-0} + 1 ))
	[ "${5:-1}" = 0 ] && n_lost[$1]=$(( ${n_lost[$1]:-0} + 1 ))
	[ "${5:-1}" -ge 2 ] && n_dup[$1]=$(( ${n_dup[$1]:-0} + 1 ))
	[ "$2" = 1 ] && n_ok[$1]=$(( ${n_ok[$1]:-0} + 1 ))
	case $3 in
	succeeded) n_succ[$1]=$(( ${n_succ[$1]:-0} + 1 )) ;;
	rolled_back) n_rb[$1]=$(( ${n_rb[$1]:-0} + 1 )) ;;
	*) n_fail[$1]=$(( ${n_fail[$1]:-0} + 1 )) ;;
	esac
	[ -n "$4" ] && notes[$1]="${notes[$1]:-}${notes[$1]:+; }$4"
}

job_state() { ferryctl job "$1" --json 2> /dev/null | jq -r .job.state; }
# verifying_ms JOB: when the coordinator first judged the migration over.
verifying_ms() {
	ferryctl job "$1" --json 2> /dev/null |
	    jq '[.history[] | select(.type == "state" and .state == "verifying") | .time_ms] | min // 0'
}
all_final() { local j; for j in "$@"; do job_final "$j" || return 1; done; }
all_in_postcopy() { local v; for v in "$@"; do in_postcopy "$v" h1 || return 1; done; }

# fault_round FAULT ROUND K: K guests migrate h1 -> h2, each started at its
# own offset before the one injection of FAULT; K verdicts (trial).
fault_round() {
	local f=$1 r=$2 k=$3 i v j src=h1 dst=h2 disk=nfs dmib=16 drate=2 mopt=""
	local vms=() jobs=() offs=() maxo=0 t0 tinj tend st_before ok_inj=1 left at
	local clog=$STATE/coordinator/coordinator.log full0 n_full=-1 unfinished
	local -A before_restart=() pc_before=()
	CLOCK_MISSED=0
	: > "$TMPD/dup"
	[ "$f" = gluster ] && disk=gluster-file
	[ "$f" = ceph ] && disk=rbd
	[ "$f" = coordinator-disk-full ] && { db_on_tmpfs || { notok "fault $f: no tmpfs for the database"; return; }; }
	# A stepped clock is no reason to give up: with a completion timeout,
	# a wall-clock deadline would fire at once (forward) or late (back).
	[ "$f" = clock-step ] && mopt="--timeout 120"
	if [ "$f" = postcopy-link ]; then
		# Pre-copy must stall (each guest dirties 24 MiB/s, the link to
		# the destination carries 4 MiB/s for all) so that the jobs
		# switch to post-copy, and post-copy lasts long enough to be cut.
		# (4 MiB/s a guest let loaded TCG guests converge in pre-copy.)
		# FAULT_PC_MODE (default always: post-copy from the second
		# pass): on a quiet machine the vCPU throttle now makes a
		# stalled pre-copy converge first (2026-12-02, lab 21: 0 of 6
		# guests in post-copy with "stalled"). FAULT_PC_MODE=stalled is
		# the old behaviour.
		dmib=24 drate=24 mopt="--postcopy=${FAULT_PC_MODE:-always} --timeout 900"
		tc qdisc add dev "fl${LAB_ID}h${dst#h}" root tbf rate 32mbit burst 32k latency 400ms
	fi
	for ((i = 0; i < k; i++)); do
		vms+=("fm${RANDOM}x$i")
		lab vm create "${vms[i]}" --host "$src" --mem 128 --dirty-mib "$dmib" --dirty-rate "$drate" --disk "$disk" > /dev/null &
	done
	wait
	for v in "${vms[@]}"; do wait_until 30 exactly_one "$v" "$src" || note "$v did not come up on $src"; done
	# Offsets: guest i's migration is asked for offs[i] seconds before
	# the fault, the largest first: 3-10 s, as its pre-checks take about
	# 2 s and the copy at 10 MiB/s about 15 s.
	for ((i = 0; i < k; i++)); do
		offs+=($(( 3 + RANDOM % 8 )))
		[ "${offs[i]}" -gt "$maxo" ] && maxo=${offs[i]}
		jobs+=("")
	done
	[ "$f" = postcopy-link ] && maxo=0
	t0=$(now_ms)
	left=$k
	while [ "$left" -gt 0 ]; do
		for ((i = 0; i < k; i++)); do
			[ -z "${jobs[i]}" ] || continue
			at=$(( t0 + (maxo - ${offs[i]}) * 1000 ))
			[ "$(now_ms)" -ge "$at" ] || continue
			jobs[i]=$(ferryctl migrate "${vms[i]}" --to "$dst" --bandwidth "$BW" $mopt --no-wait)
			left=$((left - 1))
		done
		[ "$left" -gt 0 ] && sleep 0.1
	done
	if [ "$f" = postcopy-link ]; then
		wait_until 240 all_in_postcopy "${vms[@]}" ||
		    note "not every guest switched to post-copy in 240 s"
		local pd=$(( RANDOM % 3 ))
		note "post-copy since $(now_ms); cut in ${pd}s"
		sleep "$pd"
		# A guest not in post-copy when the link is cut is no trial of it.
		for v in "${vms[@]}"; do in_postcopy "$v" "$src" && pc_before[$v]=1; done
		for ((i = 0; i < k; i++)); do offs[i]=$pd; done
	else
		while [ "$(now_ms)" -lt $(( t0 + maxo * 1000 )) ]; do sleep 0.1; done
	fi
	# Which jobs the fault strikes mid-copy: migrating now, and (trial)
	# not judged over before the injection began.
	st_before=$(ferryctl jobs --json | jq -c 'map({(.id | tostring): .state}) | add // {}')
	tinj=$(now_ms)
	full0=$(grep -c "disk is full" "$clog")
	inject "$f" "$src" "$dst" "${vms[*]}" "$r" || ok_inj=0
	[ "$f" = postcopy-link ] && tc qdisc del dev "fl${LAB_ID}h${dst#h}" root 2> /dev/null
	wait_until 30 all_up
	wait_until 300 all_final "${jobs[@]}"
	if [ "$f" = coordinator-disk-full ]; then
		# What was written while the disk was full: a restarted
		# coordinator must read the same final states back.
		n_full=$(( $(grep -c "disk is full" "$clog") - full0 ))
		note "writes the coordinator could not make: $n_full"
		for j in "${jobs[@]}"; do before_restart[$j]=$(job_state "$j"); done
		lab stop coordinator > /dev/null; lab start coordinator > /dev/null
		wait_until 30 all_up
	fi
	tend=$(now_ms)
	unfinished=$(ferryctl jobs --all --json | jq '[.[] | select(.ended_ms == null)] | length')
	for ((i = 0; i < k; i++)); do
		trial "$f" "$r" "$i" "${vms[i]}" "${jobs[i]}" "${offs[i]}"
	done
	# Mend what the verdicts found unfinished (e.g. a wall-clock deadline
	# an hour away), so that the next round starts clean: a restarted
	# coordinator takes the jobs up again from now.
	if ! all_final "${jobs[@]}"; then
		note "round $r: jobs still unfinished; restarting the coordinator"
		lab stop coordinator > /dev/null; lab start coordinator > /dev/null
		wait_until 30 all_up
		wait_until 240 all_final "${jobs[@]}" || note "round $r: jobs unfinished after a restart too"
	fi
	for v in "${vms[@]}"; do lab vm destroy "$v" > /dev/null & done
	wait
}

# trial FAULT ROUND I VM JOB OFFSET: one guest's verdict (reads fault_round's
# locals: src dst tinj tend st_before ok_inj n_full unfinished before_restart
# pc_before).
trial() {
	local f=$1 r=$2 i=$3 vm=$4 job=$5 delay=$6 st host good=1 why="" n other persisted
	local st_note="" rnote="" late="" vms_ms hb
	[ "$ok_inj" = 1 ] || { good=0; why="fault not injected"; }
	[ "$CLOCK_MISSED" = 1 ] && { good=0; why="$why the clock step did not reach the daemons"; }
	grep -qx "$vm" "$TMPD/dup" && { good=0; why="$why seen running on both during the fault"; }
	if ! job_final "$job"; then
		good=0; why="$why job $job not final after 300 s"
	fi
	st=$(job_state "$job")
	n=$(running_on_libvirt "$vm" | grep -c .)
	grep -qx "$vm" "$TMPD/dup" && n=2
	host=$(on_one_host "$vm")
	if [ -z "$host" ]; then
		good=0; why="$why runs on [$(running_on_libvirt "$vm" | tr '\n' ' ')] hosts"
	elif [ "$st" = failed ] && { [ "$f" = coordinator-disk-full ] || [ "$f" = postcopy-link ]; }; then
		# Allowed for these two: a failed job, if its error names
		# where the VM is (checked below) and libvirt agrees it runs once.
		ferryctl job "$job" --json | jq -r .job.error | grep -q "$host" ||
		    { good=0; why="$why job failed, its error does not say $host runs it"; }
	elif [ "$st" = refused ] && [ "$host" = "$src" ]; then
		# Refused by its pre-checks (in CI once: the source's NFS probe
		# timed out on a loaded machine): nothing moved, the VM is where
		# it was; never migrating, so not a run (below), and made up.
		:
	elif ! { [ "$st" = succeeded ] && [ "$host" = "$dst" ]; } &&
	    ! { [ "$st" = rolled_back ] && [ "$host" = "$src" ]; }; then
		good=0; why="$why job says $st, libvirt says $host"
	fi
	if [ "$f" = clock-step ] && [ "$st" != succeeded ]; then
		good=0; why="$why $st under a stepped clock, nothing else broken: a wall-clock deadline?"
	fi
	other=$src; [ "$host" = "$src" ] && other=$dst
	if [ -n "$host" ] && leftover "$vm" "$other"; then
		good=0; why="$why leftover on $other ($(lab virsh "$other" domstate --reason "$vm" 2> /dev/null | head -1),$(lab virsh "$other" dominfo "$vm" 2> /dev/null | awk '/^Persistent:/ { print " persistent " $2 }'); on $host$(lab virsh "$host" dominfo "$vm" 2> /dev/null | awk '/^Persistent:/ { print " persistent " $2 }'))"
	fi
	if ! hb=$(beats_after "$vm" "$tend"); then
		good=0; why="$why heartbeat broken ($(echo "$hb" | sed 's/^# //' | tr '\n' ' ' | cut -c1-240))"
	fi
	[ "$unfinished" = 0 ] || { good=0; why="$why unfinished jobs in the database"; }
	if [ "$f" = coordinator-disk-full ]; then
		[ "$n_full" -gt 0 ] || { good=0; why="$why the disk was full but no write failed"; }
		persisted=$(job_state "$job")
		[ "$persisted" = "${before_restart[$job]}" ] || { good=0; why="$why job ${before_restart[$job]} before a restart, $persisted after"; }
	fi
	if [ "$f" = postcopy-link ]; then
		if ferryctl job "$job" --json | grep -q "resuming the failed post-copy"; then
			st_note="resumed"
		else
			st_note="not resumed"
		fi
	fi
	# Mid-copy: migrating just before the injection, and not judged over
	# before it began (by the coordinator's clock: the machine's, except
	# under clock-step, whose records carry the stepped time).
	if [ "$f" = postcopy-link ] && [ -z "${pc_before[$vm]:-}" ]; then
		late="not in post-copy when the link was cut"
	elif [ "$(jq -r --arg j "$job" '.[$j] // "none"' <<< "$st_before")" != migrating ]; then
		late="$(jq -r --arg j "$job" '.[$j] // "ended"' <<< "$st_before") when the fault struck"
	elif [ "$f" != clock-step ]; then
		vms_ms=$(verifying_ms "$job")
		if [ "$vms_ms" != 0 ] && [ "$vms_ms" -lt "$tinj" ]; then
			late="over $(( tinj - vms_ms )) ms before the fault"
		fi
	fi
	note "$f round $r guest $i: migration started ${delay}s before the fault; job $job $st; runs on ${host:-?}${st_note:+; post-copy $st_note}${late:+; not mid-copy: $late}"
	if [ $good = 1 ] && [ -n "$late" ]; then
		ok "fault $f (round $r, guest $i): not a run ($late); $st, on $host only"
		n_late[$f]=$(( ${n_late[$f]:-0} + 1 ))
		return
	fi
	if [ $good = 1 ]; then
		ok "fault $f (round $r, guest $i, at ${delay}s): $st, on $host only, heartbeat unbroken"
	else
		notok "fault $f (round $r, guest $i, at ${delay}s): $why"
		ferryctl job "$job" 2>&1 | sed 's/^/#   /' | tail -30
	fi
	[ $good = 1 ] || rnote="round $r guest $i:$why"
	[ -n "$st_note" ] && rnote="${rnote:-round $r guest $i:} post-copy $st_note"
	record "$f" "$good" "$st" "$rnote" "$n"
}

drain_run() { # coordinator killed during a maintenance drain
	local f=drain-coordinator vms="fd1 fd2 fd3" v good=1 why="" st
	for v in $vms; do
		lab vm create "$v" --host h1 --mem 128 --dirty-mib 8 --dirty-rate 2 > /dev/null &
	done
	wait
	for v in $vms; do wait_until 30 exactly_one "$v" h1; done
	# Refused (h1 left in maintenance by an earlier failure): not a run
	# of this fault, and said so, rather than a drain that never began.
	if ! ferryctl maintenance enter h1 --max-parallel 1 > "$TMPD/enter" 2>&1; then
		notok "fault $f: maintenance enter h1 refused: $(cat "$TMPD/enter")"
		record "$f" 0 failed "maintenance enter refused" 1
		ferryctl maintenance exit h1 > /dev/null 2>&1
		for v in $vms; do lab vm destroy "$v" > /dev/null & done
		wait
		return
	fi
	sleep $(( 2 + RANDOM % 5 ))
	lab stop coordinator > /dev/null; sleep 2; lab start coordinator > /dev/null
	drain_done() { [ "$(ferryctl hosts --json | jq -r '.[] | select(.name == "h1") | .admin_state')" = maintenance ]; }
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
	record "$f" "$good" "$([ $good = 1 ] && echo succeeded || echo failed)" "$why" 1
	ferryctl maintenance exit h1 > /dev/null
	for v in $vms; do lab vm destroy "$v" > /dev/null & done
	wait
}

TMPD=$(mktemp -d)
trap 'db_restore; rm -rf "$TMPD"' EXIT
# Per fault: rounds of up to PAR trials (post-copy: 3, as the throttled link
# is shared) until RUNS trials were runs; extra rounds make up for trials
# that were not mid-copy (one, or three for post-copy: its rounds are few
# and one late round of 3 left the last full run at 28 of 30).
for f in $FAULTS; do
	t_f=$(date +%s)
	par=$PAR extra=1
	[ "$f" = postcopy-link ] && [ "$par" -gt 3 ] && par=3 extra=3
	r=0
	while [ "${n_runs[$f]:-0}" -lt "$RUNS" ] && [ "$r" -lt $(( (RUNS + par - 1) / par + extra )) ]; do
		r=$((r + 1))
		k=$(( RUNS - ${n_runs[$f]:-0} ))
		[ "$k" -gt "$par" ] && k=$par
		fault_round "$f" "$r" "$k"
	done
	n_secs[$f]=$(( $(date +%s) - t_f ))
	note "$f: ${n_runs[$f]:-0} runs, ${n_late[$f]:-0} not runs, in ${n_secs[$f]} s"
done
if [ "${FAULT_DRAIN:-1}" = 1 ]; then
	t_f=$(date +%s)
	for ((r = 1; r <= RUNS; r++)); do drain_run; done
	n_secs[drain-coordinator]=$(( $(date +%s) - t_f ))
	note "drain-coordinator: ${n_runs[drain-coordinator]:-0} runs in ${n_secs[drain-coordinator]} s"
fi

{
	echo "# Fault matrix"
	echo
	echo "Generated by tests/faults/f_matrix.sh on $(date -u '+%Y-%m-%d %H:%M UTC'),"
	echo "commit $(git -C "$REPO" rev-parse --short HEAD), $(nproc) cores, FAULT_RUNS=$RUNS, FAULT_PAR=$PAR."
	echo "Each trial migrates a 128 MiB guest dirtying 2 MiB/s at $BW MiB/s; up to $PAR"
	echo "trials (post-copy: 3) share one injection, each migration asked for 3-10 s"
	echo "before it. A run is ok when the VM runs on exactly one host (libvirt), the"
	echo "job's final state agrees, nothing is left on the other host, the heartbeat"
	echo "never reset and no job is left unfinished. Not a run: the job was not"
	echo "migrating when the fault struck (and passed the same checks). Seconds: the"
	echo "fault's wall time, creating and destroying guests included."
	echo
	echo "Lost: running on no host; duplicated: running on two (libvirt's answers,"
	echo "after the job; for postcopy-link also sampled during the cut)."
	echo
	echo "| fault | runs | ok | lost | duplicated | not a run | succeeded | rolled back | failed | seconds | notes |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|"
	for f in $FAULTS drain-coordinator; do
		[ -n "${n_runs[$f]:-}" ] || continue
		echo "| $f | ${n_runs[$f]} | ${n_ok[$f]:-0} | ${n_lost[$f]:-0} | ${n_dup[$f]:-0} | ${n_late[$f]:-0} | ${n_succ[$f]:-0} | ${n_rb[$f]:-0} | ${n_fail[$f]:-0} | ${n_secs[$f]:-?} | ${notes[$f]:-} |"
	done
	echo
	echo "Total: $(( $(date +%s) - T_START )) s."
} > "$RESULTS"
note "results in $RESULTS"
cat "$RESULTS" | sed 's/^/# /'
finish
