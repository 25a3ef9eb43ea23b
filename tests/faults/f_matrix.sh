#!/usr/bin/env bash
# The fault matrix: each fault injected at a random point of a live
# migration (5 MiB/s, a guest dirtying memory), FAULT_RUNS times (default 1;
# make check-faults runs more), and once during a maintenance drain. After
# each run: the VM runs on exactly one host (asked of libvirt), its
# heartbeat never reset, the job's final state agrees with where it runs, no
# copy is left on the other host, and no job is left unfinished. The table
# goes to $FAULT_RESULTS (make check-faults: tests/faults/RESULTS.md).
# The storage faults stop the server of the guest's disk: nfs (QEMU's own
# NFS client), gluster (a file on the hosts' GlusterFS FUSE mounts) and ceph
# (monitor and OSD stopped under an RBD disk QEMU opens with librbd).
# Lost (running nowhere) and duplicated (running on two hosts) are counted
# from libvirt's answers. The wall clock is never stepped here: the lab
# shares the machine's clock with everything else on it.
. "$(dirname "$0")/../lab/lib.sh"

RUNS=${FAULT_RUNS:-1}
RESULTS=${FAULT_RESULTS:-$(mktemp /tmp/ferry-faults.XXXXXX.md)}
# "gluster" (the GlusterFS server stopped under a guest whose disk is a file
# on the hosts' FUSE mounts) when the lab has one (tests/run: it does).
if [ -z "${FAULTS:-}" ]; then
	FAULTS="dest-libvirtd dest-hostd src-hostd coordinator link nfs src-libvirtd dest-qemu coordinator-disk-full postcopy-link"
	lab status | grep -q '^gluster ' && FAULTS="$FAULTS gluster"
	lab status | grep -q '^ceph ' && FAULTS="$FAULTS ceph"
fi
declare -A n_runs n_ok n_succ n_rb n_fail n_lost n_dup notes
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
trap db_restore EXIT

inject() { # FAULT SRC DST VM RUN: break something, then mend it
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
		local pid
		pid=$(dest_qemu_pid "$4" "$3") || { note "no incoming QEMU of $4 on $3"; return 1; }
		kill -9 "$pid" ;;
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
		# make check's one run is the short one; the long cut finds
		# an open bug (README, Status).
		local cut=$(( $5 % 2 ? 12 : 45 ))
		note "link cut for ${cut}s"
		watch_both "$4" "$cut" & local w=$!
		lab link "$3" down > /dev/null; sleep "$cut"; lab link "$3" up > /dev/null
		wait "$w" || DUP_SEEN=1 ;;
	esac
}

# watch_both VM SECONDS: fails if, sampled every 0.5 s, VM is ever seen
# running on both h1 and h2 (libvirt's answers).
watch_both() {
	local end=$(( $(date +%s) + $2 )) a b
	while [ "$(date +%s)" -lt "$end" ]; do
		a=$(lab virsh h1 domstate "$1" 2> /dev/null | head -1)
		b=$(lab virsh h2 domstate "$1" 2> /dev/null | head -1)
		if [ "$a" = running ] && [ "$b" = running ]; then
			note "$1 running on h1 and h2 at $(now_ms)"; return 1
		fi
		sleep 0.5
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

one_run() { # FAULT RUN
	local f=$1 r=$2 vm=fm$RANDOM src=h1 dst=h2 job delay st host good=1 why="" disk=nfs
	local dmib=16 drate=2 mopt="" n other persisted st_note="" rnote="" n_full
	DUP_SEEN=0
	[ "$f" = gluster ] && disk=gluster-file
	[ "$f" = ceph ] && disk=rbd
	[ "$f" = coordinator-disk-full ] && { db_on_tmpfs || { notok "fault $f: no tmpfs for the database"; return; }; }
	if [ "$f" = postcopy-link ]; then
		# Pre-copy must stall (the guest dirties 24 MiB/s, the link to
		# the destination carries 4 MiB/s) so that the job switches to
		# post-copy, and post-copy lasts long enough to be cut.
		dmib=24 drate=24 mopt="--postcopy --timeout 900"
		tc qdisc add dev "fl${LAB_ID}h${dst#h}" root tbf rate 32mbit burst 32k latency 400ms
	fi
	lab vm create "$vm" --host "$src" --mem 128 --dirty-mib "$dmib" --dirty-rate "$drate" --disk "$disk" > /dev/null
	wait_until 20 exactly_one "$vm" "$src"
	sleep 2
	job=$(ferryctl migrate "$vm" --to "$dst" --bandwidth 5 $mopt --no-wait)
	wait_until 30 migrating "$job"
	if [ "$f" = postcopy-link ]; then
		if ! wait_until 240 in_postcopy "$vm" "$src"; then
			good=0; why="no switch to post-copy in 240 s"
		fi
		delay=$(( RANDOM % 3 ))
		note "post-copy since $(now_ms); cut in ${delay}s"
	else
		delay=$(( 1 + RANDOM % 8 ))
	fi
	sleep "$delay"
	local clog=$STATE/coordinator/coordinator.log full0
	full0=$(grep -c "disk is full" "$clog")
	inject "$f" "$src" "$dst" "$vm" "$r" || { good=0; why="$why fault not injected"; }
	[ "$f" = postcopy-link ] && tc qdisc del dev "fl${LAB_ID}h${dst#h}" root 2> /dev/null
	[ "$DUP_SEEN" = 1 ] && { good=0; why="$why seen running on both during the fault"; }
	wait_until 30 all_up
	if ! wait_until 300 job_final "$job"; then
		good=0; why="$why job $job not final after 300 s"
	fi
	st=$(ferryctl job "$job" --json | jq -r .job.state)
	n=$(running_on_libvirt "$vm" | grep -c .)
	[ "$DUP_SEEN" = 1 ] && n=2
	host=$(on_one_host "$vm")
	if [ -z "$host" ]; then
		good=0; why="$why runs on [$(running_on_libvirt "$vm" | tr '\n' ' ')] hosts"
	elif [ "$st" = failed ] && { [ "$f" = coordinator-disk-full ] || [ "$f" = postcopy-link ]; }; then
		# Allowed for these two: a failed job, if its error names
		# where the VM is (checked below) and libvirt agrees it runs once.
		ferryctl job "$job" --json | jq -r .job.error | grep -q "$host" ||
		    { good=0; why="$why job failed, its error does not say $host runs it"; }
	elif ! { [ "$st" = succeeded ] && [ "$host" = "$dst" ]; } &&
	    ! { [ "$st" = rolled_back ] && [ "$host" = "$src" ]; }; then
		good=0; why="$why job says $st, libvirt says $host"
	fi
	other=$src; [ "$host" = "$src" ] && other=$dst
	if [ -n "$host" ] && leftover "$vm" "$other"; then
		good=0; why="$why leftover on $other ($(lab virsh "$other" domstate --reason "$vm" 2> /dev/null | head -1),$(lab virsh "$other" dominfo "$vm" 2> /dev/null | awk '/^Persistent:/ { print " persistent " $2 }'); on $host$(lab virsh "$host" dominfo "$vm" 2> /dev/null | awk '/^Persistent:/ { print " persistent " $2 }'))"
	fi
	if ! beats_after "$vm" "$(now_ms)" > /dev/null; then
		good=0; why="$why heartbeat broken"
	fi
	if [ "$(ferryctl jobs --all --json | jq '[.[] | select(.ended_ms == null)] | length')" != 0 ]; then
		good=0; why="$why unfinished jobs in the database"
	fi
	if [ "$f" = coordinator-disk-full ]; then
		# What was written while the disk was full: a restarted
		# coordinator reads the same final state back.
		lab stop coordinator > /dev/null; lab start coordinator > /dev/null
		wait_until 30 all_up
		n_full=$(( $(grep -c "disk is full" "$clog") - full0 ))
		note "writes the coordinator could not make: $n_full"
		[ "$n_full" -gt 0 ] || { good=0; why="$why the disk was full but no write failed"; }
		persisted=$(ferryctl job "$job" --json | jq -r .job.state)
		[ "$persisted" = "$st" ] || { good=0; why="$why job $st before a restart, $persisted after"; }
	fi
	if [ "$f" = postcopy-link ]; then
		if ferryctl job "$job" --json | grep -q "resuming the failed post-copy"; then
			note "post-copy resumed"; st_note="resumed"
		else
			st_note="not resumed"
		fi
	fi
	note "$f run $r: fault after ${delay}s of migration; job $job $st; runs on ${host:-?}${st_note:+; post-copy $st_note}"
	if [ $good = 1 ]; then
		ok "fault $f (run $r, at ${delay}s): $st, on $host only, heartbeat unbroken"
	else
		notok "fault $f (run $r, at ${delay}s): $why"
		ferryctl job "$job" 2>&1 | sed 's/^/#   /' | tail -30
	fi
	rnote=""
	[ $good = 1 ] || rnote="run $r:$why"
	[ -n "$st_note" ] && rnote="${rnote:-run $r:} post-copy $st_note"
	record "$f" "$good" "$st" "$rnote" "$n"

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
	echo "Lost: running on no host; duplicated: running on two (libvirt's answers,"
	echo "after the job; for postcopy-link also sampled during the cut)."
	echo
	echo "| fault | runs | ok | lost | duplicated | succeeded | rolled back | failed | notes |"
	echo "|---|---|---|---|---|---|---|---|---|"
	for f in $FAULTS drain-coordinator; do
		[ -n "${n_runs[$f]:-}" ] || continue
		echo "| $f | ${n_runs[$f]} | ${n_ok[$f]:-0} | ${n_lost[$f]:-0} | ${n_dup[$f]:-0} | ${n_succ[$f]:-0} | ${n_rb[$f]:-0} | ${n_fail[$f]:-0} | ${notes[$f]:-} |"
	done
} > "$RESULTS"
note "results in $RESULTS"
cat "$RESULTS" | sed 's/^/# /'
finish
