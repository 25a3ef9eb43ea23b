# bench/migrate/lib.sh: helpers shared by the migration benchmarks (sourced).
#
# Environment:
#   BENCH_LAB_ID   lab to use (default 11); the benchmark takes it down and up
#                  again, so it must not be a lab anyone else uses.
#   FERRY_BUILD    build directory with ferryctl and the daemons (default
#                  <repo>/build); passed on to `lab up`.
#   BENCH_RESULTS  file the figures are appended to (default bench/RESULTS.md).
#   BENCH_KEEP_LAB set to 1 to leave the lab up at the end.
set -u

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH_LAB_ID=${BENCH_LAB_ID:-11}
FERRY_BUILD=${FERRY_BUILD:-$REPO/build}
BENCH_RESULTS=${BENCH_RESULTS:-$REPO/bench/RESULTS.md}
LAB_BIN="$REPO/deploy/lab/lab"
export FERRY_BUILD LAB_ID=$BENCH_LAB_ID
export FERRY_SOCKET=/run/ferry-lab/$BENCH_LAB_ID/ferry.sock
export PATH="$FERRY_BUILD:$PATH"

for _t in jq virsh awk; do
	command -v "$_t" > /dev/null || { echo "bench: $_t is missing" >&2; exit 1; }
done
[ -x "$FERRY_BUILD/ferryctl" ] || { echo "bench: no $FERRY_BUILD/ferryctl (build first, or set FERRY_BUILD)" >&2; exit 1; }

say() { echo "# $*" >&2; }
die() { echo "bench: $*" >&2; exit 1; }
lab() { "$LAB_BIN" --id "$BENCH_LAB_ID" "$@"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# wait_until SECONDS CMD...: polls CMD every 0.2 s; 0 once it succeeds.
wait_until() {
	local end=$(($(now_ms) + $1 * 1000))
	shift
	until "$@" > /dev/null 2>&1; do
		[ "$(now_ms)" -ge $end ] && return 1
		sleep 0.2
	done
}

# ---- lab -------------------------------------------------------------------

# bench_lab_up [lab up options]: a fresh lab (down first), all hosts up in Ferry.
bench_lab_up() {
	lab down > /dev/null 2>&1
	lab up "$@" > "$BENCH_TMP/lab-up.log" 2>&1 || { cat "$BENCH_TMP/lab-up.log" >&2; die "lab up failed"; }
	wait_until 30 all_hosts_up || die "hosts did not come up in Ferry"
}
all_hosts_up() {
	[ "$(ferryctl hosts --json | jq '[.[] | select(.state != "up" or .admin_state != "active")] | length')" = 0 ]
}
bench_lab_down() {
	[ "${BENCH_KEEP_LAB:-0}" = 1 ] && return 0
	lab down > /dev/null 2>&1
}

# bench_begin NAME: temp dir, lab taken down on exit.
bench_begin() {
	BENCH_NAME=$1
	BENCH_TMP=$(mktemp -d /tmp/bench-$1.XXXXXX)
	BENCH_T0=$(now_ms)
	trap 'bench_lab_down; rm -rf "$BENCH_TMP"' EXIT
	trap 'exit 130' INT TERM
}

host_addr() { # HOST -> 198.18.x.y (from Ferry's host list)
	ferryctl hosts --json | jq -r --arg h "$1" '.[] | select(.name == $h) | .address | sub(":[0-9]+$"; "")'
}

# vm_create NAME HOST [lab vm create options]: created, running, beating.
vm_create() {
	local n=$1 h=$2
	shift 2
	lab vm create "$n" --host "$h" "$@" > /dev/null || die "vm create $n failed"
	wait_until 30 ferry_sees "$n" "$h" || die "$n not seen running on $h by Ferry"
	lab heartbeat "$n" --wait "${VM_WAIT:-30}" > /dev/null || die "$n does not beat"
}

# ferry_sees VM HOST: Ferry's inventory has VM running on HOST only, and
# libvirt on HOST says running.
ferry_sees() {
	local on
	on=$(ferryctl vms --json | jq -r --arg v "$1" '[.[] | select(.name == $v and .state == "running") | .host] | join(" ")')
	[ "$on" = "$2" ] || return 1
	[ "$(lab virsh "$2" domstate "$1" 2> /dev/null | head -1)" = running ]
}

# where_libvirt VM: "h1:running h2:absent ..." as each host's libvirt says.
where_libvirt() {
	local h s out=""
	for h in $(ferryctl hosts --json | jq -r '.[].name'); do
		s=$(lab virsh "$h" domstate "$1" 2> /dev/null | head -1)
		out="$out $h:${s:-absent}"
	done
	echo "${out# }" | sed 's/ shut off/_shut_off/g'
}
running_on() { where_libvirt "$1" | tr ' ' '\n' | awk -F: '$2 == "running" { print $1 }' | paste -sd, -; }

# heartbeat_verdict VM [options]: one line, "ok, N beats, largest gap G s" or "FAIL: ...".
heartbeat_verdict() {
	local out
	if out=$(lab heartbeat "$@" 2>&1); then
		echo "$out" | sed -n 's/.*: ok: \([0-9]*\) beats.*largest gap \([0-9]*\) s host time.*/ok, \1 beats, largest gap \2 s/p'
	else
		echo "FAIL: $(echo "$out" | tail -1)"
	fi
}
# the largest host-time (rtc) gap in seconds from `lab heartbeat`
heartbeat_gap() { lab heartbeat "$1" 2>&1 | sed -n 's/.*largest gap \([0-9]*\) s host time.*/\1/p'; }

# virsh_migrate VM SRC DST [virsh migrate options]: from the root namespace
# through SRC's libvirtd, peer-to-peer, the same flags as Ferry.
virsh_migrate() {
	local vm=$1 s d
	s=$(host_addr "$2")
	d=$(host_addr "$3")
	shift 3
	virsh -q -c "qemu+tcp://$s/system" migrate --live --p2p --persistent \
	    --undefinesource "$@" "$vm" "qemu+tcp://$d/system" "tcp://$d"
}

# jobinfo_completed HOST VM: the completed migration's statistics on HOST
# (the destination keeps them after an incoming migration) as JSON
# {elapsed_ms, downtime_ms, data_mib, iterations}.
jobinfo_completed() {
	lab virsh "$1" domjobinfo "$2" --completed 2> /dev/null | awk -F: '
	function mib(v,  n, u) { n = v + 0; u = v; sub(/^[ 0-9.]*/, "", u);
		if (u ~ /^GiB/) n *= 1024; else if (u ~ /^KiB/) n /= 1024; else if (u ~ /^B/) n /= 1048576;
		return n }
	{ k = $1; v = $2; sub(/^ +/, "", v) }
	k == "Time elapsed" { e = v + 0 }
	k == "Total downtime" { dt = v + 0 }
	k == "Data processed" { d = mib(v) }
	k == "Iteration" { it = v + 0 }
	END { printf "{\"elapsed_ms\":%s,\"downtime_ms\":%s,\"data_mib\":%s,\"iterations\":%s}\n",
		e == "" ? "null" : e, dt == "" ? "null" : dt, d == "" ? "null" : d, it == "" ? "null" : it }'
}

# ---- Ferry jobs ------------------------------------------------------------

# job_phases ID: JSON with the job's phases in ms, from its history:
# pre (start -> migrating), mig (migrating -> verifying), post (verifying ->
# final), total (started -> ended), plus the done data.
job_phases() {
	ferryctl job "$1" --json | jq -c '
	.job as $j
	| [.history[] | select(.type == "state")] as $s
	| (first($s[] | select(.state == "migrating")) | .time_ms) as $m
	| (first($s[] | select(.state == "verifying")) | .time_ms) as $v
	| ($s[-1]) as $f
	| { id: $j.id, vm: $j.vm, state: $j.state, source: $j.source,
	    destination: $j.destination,
	    pre: (if $m then $m - $j.started_ms else null end),
	    mig: (if $m and $v then $v - $m else null end),
	    post: (if $v then $j.ended_ms - $v else null end),
	    total: ($j.ended_ms - $j.started_ms),
	    migration_ms: ($f.data.migration_ms? // null),
	    downtime_ms: ($f.data.downtime_ms? // null),
	    data_mib: ($f.data.data_mib? // null) }'
}

# ---- statistics --------------------------------------------------------------

# stats < numbers: "median min max n"
stats() {
	sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "- - - 0"; exit }
		m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%g %g %g %d\n", m, v[1], v[NR], NR }'
}
median() { stats | awk '{ print $1 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "-"; else printf "%.2f\n", a / b }'; }
sec() { awk -v a="$1" 'BEGIN { if (a == "" || a == "-" || a == "null") print "-"; else printf "%.2f\n", a / 1000 }'; }

# ---- results -------------------------------------------------------------------

machine() {
	local mem
	mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
	echo "$(nproc) cpus, $mem, $(uname -r)"
}
commit() {
	local c
	c=$(git -C "$REPO" rev-parse --short HEAD 2> /dev/null || echo unknown)
	# Uncommitted changes outside bench/ were built into the binaries too.
	if ! git -C "$REPO" diff --quiet HEAD -- . ':(exclude)bench' 2> /dev/null; then
		c="$c+uncommitted"
	fi
	echo "$c"
}

# report_begin TITLE: starts the report file with the standard header.
report_begin() {
	REPORT="$BENCH_TMP/report.md"
	{
		echo
		echo "## $1"
		echo
		echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
		echo "- machine: $(machine)"
		echo "- commit: $(commit); lab $BENCH_LAB_ID; build $FERRY_BUILD"
		echo "- command: bench/run $BENCH_NAME"
		echo
	} > "$REPORT"
}
rep() { echo "$*" >> "$REPORT"; }

# report_end: prints the report and appends it to RESULTS.md (under a lock:
# other benchmarks may append at the same time).
report_end() {
	rep ""
	rep "(run took $(( ($(now_ms) - BENCH_T0) / 1000 )) s)"
	cat "$REPORT"
	{
		flock 9
		[ -s "$BENCH_RESULTS" ] || printf '# Benchmark results\n\nAppended by `bench/run`; newest last.\n' >&9
		cat "$REPORT" >&9
	} 9>> "$BENCH_RESULTS"
}
