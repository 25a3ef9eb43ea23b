# lib.sh: helpers for lab tests (sourced). A lab test prints one line per
# assertion, "ok - WHAT" or "not ok - WHAT"; tests/run counts them. The lab
# (LAB_ID, FERRY_SOCKET, PATH) is set up by tests/run.
set -u

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LAB="$REPO/deploy/lab/lab"
: "${LAB_ID:?run lab tests through tests/run (it brings the lab up)}"
FAILED=0

ok() { echo "ok - $*"; }
notok() { echo "not ok - $*"; FAILED=1; }
note() { echo "# $*"; }

# check DESC CMD...: ok when CMD succeeds.
check() {
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else notok "$desc"; fi
}

lab() { "$LAB" --id "$LAB_ID" "$@"; }

# wait_until SECONDS CMD...: polls CMD every 0.25 s; 0 once it succeeds.
wait_until() {
	local end=$(($(date +%s%N) / 1000000 + $1 * 1000))
	shift
	until "$@" > /dev/null 2>&1; do
		[ $(($(date +%s%N) / 1000000)) -ge $end ] && return 1
		sleep 0.25
	done
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

lab_hosts() { ferryctl hosts --json | jq -r '.[].name'; }

# The connection state (up, down) and the administrative one (active,
# draining, maintenance) are two fields.
host_state() { ferryctl hosts --json | jq -r --arg h "$1" '.[] | select(.name == $h) | .state'; }
host_admin() { ferryctl hosts --json | jq -r --arg h "$1" '.[] | select(.name == $h) | .admin_state'; }

# Where libvirt itself says VM runs (not Ferry's records): one host per line.
running_on_libvirt() {
	local h
	for h in $(lab_hosts); do
		if [ "$(lab virsh "$h" domstate "$1" 2> /dev/null | head -1)" = running ]; then
			echo "$h"
		fi
	done
}

# Where Ferry's records say it runs.
running_on_ferry() {
	ferryctl vms --json | jq -r --arg v "$1" '.[] | select(.name == $v and .state == "running") | .host'
}

# exactly_one VM HOST: libvirt and Ferry agree the VM runs on HOST only.
exactly_one() {
	local lv fr
	lv=$(running_on_libvirt "$1" | tr '\n' ' ')
	fr=$(running_on_ferry "$1" | sort -u | tr '\n' ' ')
	if [ "$lv" != "$2 " ]; then
		note "libvirt: $1 runs on [${lv}], expected [$2]"
		return 1
	fi
	if [ "$fr" != "$2 " ]; then
		note "ferry: $1 runs on [${fr}], expected [$2]"
		return 1
	fi
}

# The VM runs on exactly one host, whichever; prints it.
on_one_host() {
	local lv n
	lv=$(running_on_libvirt "$1")
	n=$(echo -n "$lv" | grep -c .)
	[ "$n" = 1 ] && echo "$lv"
}

# heartbeat_ok VM [lab heartbeat options]: the guest's counter never reset.
heartbeat_ok() {
	local out
	out=$(lab heartbeat "$@" 2>&1) && return 0
	echo "$out" | sed 's/^/# /'
	return 1
}

# beats_after VM UNIXMS: within BEATS_WAIT s (default 60: a TCG guest on
# a loaded machine beats late, and lateness is not the failure) the guest
# prints a beat surely after UNIXMS, and its counter never reset (a paused
# guest resumes first). Says why not on stdout.
beats_after() {
	wait_until "${BEATS_WAIT:-60}" lab heartbeat "$1" --since-ms "$2" || true
	heartbeat_ok "$1" --since-ms "$2"
}

# jqe FILTER FILE...: jq -e without the output.
jqe() { jq -e "$@" > /dev/null; }

is_number() { [[ "$1" =~ ^[0-9]+$ ]]; }

finish() {
	[ "$FAILED" = 0 ]
	exit $?
}
