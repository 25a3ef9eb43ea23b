#!/usr/bin/env bash
# ferryctl as an operator meets it (issue 13): a user outside the socket's
# group is told so with exit 5 (whether the socket's mode or the
# coordinator's check of the peer refuses it); abort and job say the same
# of a job that does not exist; abort --json; "host h3 is in maintenance";
# maintenance exit of a host that is down says so; and the coordinator's
# reload (SIGHUP): a bad file changes nothing, a host removed from the file
# goes, one added comes up.
. "$(dirname "$0")/lib.sh"

tmp=$(mktemp -d)
CONF=/var/lib/ferry-lab/$LAB_ID/coordinator/coordinator.conf
LOG=/var/lib/ferry-lab/$LAB_ID/coordinator/coordinator.log
PIDF=/run/ferry-lab/$LAB_ID/coordinator.pid
cp "$CONF" "$tmp/conf.orig"
cleanup() {
	chmod 0660 "$FERRY_SOCKET" 2> /dev/null
	if ! cmp -s "$CONF" "$tmp/conf.orig"; then
		cp "$tmp/conf.orig" "$CONF"
		kill -HUP "$(cat "$PIDF")"
	fi
	lab start h3 hostd > /dev/null 2>&1
	ferryctl maintenance exit h3 > /dev/null 2>&1
	lab vm destroy cli1 > /dev/null 2>&1
	rm -rf "$tmp" "${pubdir:-}"
}
trap cleanup EXIT
# The users below must be able to run ferryctl: a checkout under a private
# directory (a fresh clone in mktemp -d) is out of their reach, so they run
# a copy in a directory of their own (what matters is the socket's refusal,
# not the build tree's mode).
pubdir=$(mktemp -d /tmp/ferry-cli.XXXXXX)
chmod 755 "$pubdir"
install -m 755 "$(command -v ferryctl)" "$pubdir/ferryctl"
CTL=$pubdir/ferryctl

# expect DESC RC STDERR CMD...: CMD exits RC and its stderr is exactly
# STDERR (one line).
expect() {
	local desc=$1 want=$2 msg=$3 rc
	shift 3
	"$@" > "$tmp/out" 2> "$tmp/err"
	rc=$?
	if [ "$rc" = "$want" ] && [ "$(cat "$tmp/err")" = "$msg" ]; then
		ok "$desc (exit $rc)"
	else
		notok "$desc: exit $rc (want $want), stderr '$(head -c 300 "$tmp/err")'"
	fi
}

# --- not allowed -----------------------------------------------------------
getent passwd ferry-out > /dev/null || useradd -r -M -s /usr/sbin/nologin ferry-out
getent passwd ferry-in > /dev/null || useradd -r -M -s /usr/sbin/nologin -G ferry ferry-in
as() { local u=$1; shift; runuser -u "$u" -- "$CTL" --socket "$FERRY_SOCKET" "$@"; }
check "the socket is root's and group ferry's, 0660" \
	[ "$(stat -c '%U:%G %a' "$FERRY_SOCKET")" = "root:ferry 660" ]
expect "a member of group ferry may use it" 0 "" as ferry-in hosts
expect "a user outside the group: not allowed (connect refused)" 5 \
	"ferryctl: not allowed: you are not in group ferry" as ferry-out hosts
expect "... also for a streaming command" 5 \
	"ferryctl: not allowed: you are not in group ferry" as ferry-out watch 1
chmod 0666 "$FERRY_SOCKET"
expect "with the socket's mode loosened, the coordinator refuses the peer" 5 \
	"ferryctl: not allowed: you are not in group ferry" as ferry-out hosts
as ferry-out hosts --json > "$tmp/na.json" 2> /dev/null; rc=$?
check "... with --json: {error: not_allowed} and exit 5" bash -c "[ $rc = 5 ] && jq -e '.error.code == \"not_allowed\" and .error.message == \"not allowed: you are not in group ferry\"' '$tmp/na.json' > /dev/null"
expect "... and a call that follows events" 5 \
	"ferryctl: not allowed: you are not in group ferry" as ferry-out migrate nosuchvm
check "... and logs it" grep -q "refused a client (pid [0-9]*, uid $(id -u ferry-out))" "$LOG"
chmod 0660 "$FERRY_SOCKET"

# --- the same words for the same thing ------------------------------------
expect "job 99999" 1 "ferryctl: no job 99999" ferryctl job 99999
expect "abort 99999 says the same" 1 "ferryctl: no job 99999" ferryctl abort 99999
expect "abort with no job id: its usage" 2 "usage: ferryctl abort JOB [--json]" ferryctl abort
expect "a bandwidth out of bounds names sensible bounds" 2 \
	"ferryctl: --bandwidth wants a whole number from 1 to 1048576, not '99999999999999999999'" \
	ferryctl migrate x --bandwidth 99999999999999999999

lab vm create cli1 --host h1 --mem 128 --dirty-mib 8 --dirty-rate 4 > /dev/null
check "guest cli1 runs on h1" wait_until 30 exactly_one cli1 h1
id=$(ferryctl migrate cli1 --to h2 --bandwidth 3 --no-wait)
check "a slow migration started (job $id)" [ -n "$id" ]
# --- job set / postcopy / complete on the running migration ---------------
speed() { lab virsh h1 migrate-getspeed cli1 2> /dev/null | tr -d '[:space:]'; }
speed_is() { [ "$(speed)" = "$1" ]; }
in_flight() { lab virsh h1 domjobinfo cli1 2> /dev/null | grep -Eq '^Job type: +Unbounded'; }
check "the migration is in flight on the source (domjobinfo)" wait_until 20 in_flight
check "libvirt on the source has it at 3 MiB/s (migrate-getspeed)" wait_until 10 speed_is 3
note "speed before job set: $(speed)"
ferryctl job set "$id" --bandwidth 7 --json > "$tmp/set.json"; rc=$?
check "job set --bandwidth 7: exit 0 ($rc)" [ "$rc" = 0 ]
check "... its --json is a job (docs/schema/job.json)" "$REPO/tests/lab/jsonschema-check" job "$tmp/set.json"
check "... libvirt's migrate-getspeed on the source now says 7" speed_is 7
check "... with the migration still in flight" in_flight
check "... journaled with who asked (uid 0)" jqe '[.history[] | select(.type == "info" and (.data | type) == "object" and .data.control == "set")][0].data | .bandwidth_mibs == 7 and .by_uid == 0' <(ferryctl job "$id" --json)
expect "job set with nothing to set: its usage" 2 "ferryctl: job set: --bandwidth MIB or --max-downtime MS
usage: ferryctl job ID [--json] | set ID [--bandwidth MIB] [--max-downtime MS] |
                    postcopy ID | complete ID [--yes]" ferryctl job set "$id"
expect "job postcopy of a job started without post-copy is refused" 1 \
	"ferryctl: job $id was not started with post-copy allowed (migrate --postcopy): use job complete to pause and finish" \
	ferryctl job postcopy "$id"
expect "job complete (pause-and-finish) without --yes and no terminal is refused" 1 \
	"ferryctl: job $id: complete pauses the guest until the rest is copied; confirm with --yes" \
	ferryctl job complete "$id"
expect "job set of a job that does not exist: no job" 1 "ferryctl: no job 99999" \
	ferryctl job set 99999 --bandwidth 5
ferryctl job set 99999 --bandwidth 5 --json > "$tmp/err.json" 2> /dev/null; rc=$?
check "... with --json, an error object and the same exit 1" bash -c "[ $rc = 1 ] && jq -e '.error.message == \"no job 99999\"' '$tmp/err.json' > /dev/null"
ferryctl abort "$id" --json > "$tmp/abort.json"; rc=$?
check "abort --json: exit 0, one object naming the job" bash -c "[ $rc = 0 ] && jq -e --argjson id '$id' '.id == \$id and .vm == \"cli1\"' '$tmp/abort.json' > /dev/null"
ferryctl watch "$id" > /dev/null 2>&1
state=$(ferryctl job "$id" --json | jq -r .job.state)
expect "abort of a job that ended says how it ended" 1 \
	"ferryctl: job $id is not running: it ended $state" ferryctl abort "$id"
check "cli1 still runs on h1 only" exactly_one cli1 h1

# job postcopy of a job started with post-copy allowed: it switches, and
# the guest ends on the destination only.
id2=$(ferryctl migrate cli1 --to h2 --bandwidth 3 --postcopy --no-wait)
# Post-copy can start once QEMU is copying (in its setup phase it cannot):
# wait for the job's first progress sample.
copying() { ferryctl job "$id2" --json | jq -e '[.history[] | select(.type == "progress")] | length > 0' > /dev/null; }
check "a post-copy-allowed migration is copying (job $id2)" wait_until 20 copying
ferryctl job postcopy "$id2" > "$tmp/pc.out" 2>&1; rc=$?
check "job postcopy: exit 0 ($rc: $(head -c 200 "$tmp/pc.out"))" [ "$rc" = 0 ]
ferryctl watch "$id2" > /dev/null 2>&1
check "... the job succeeded" [ "$(ferryctl job "$id2" --json | jq -r .job.state)" = succeeded ]
check "... journaled: postcopy, by uid 0" jqe '[.history[] | select(.type == "info" and (.data | type) == "object" and .data.control == "postcopy")][0].data.by_uid == 0' <(ferryctl job "$id2" --json)
check "cli1 runs on h2 only" wait_until 20 exactly_one cli1 h2
ferryctl migrate cli1 --to h1 > /dev/null 2>&1
check "cli1 back on h1" wait_until 20 exactly_one cli1 h1

# --- maintenance -----------------------------------------------------------
ferryctl maintenance enter h3 --wait > /dev/null 2>&1
check "h3 in maintenance" [ "$(host_admin h3)" = maintenance ]
expect "a migration to it: 'host h3 is in maintenance'" 3 "" \
	ferryctl migrate cli1 --to h3
check "... the refusal reads 'host h3 is in maintenance'" grep -q "host h3 is in maintenance" "$tmp/out"
lab stop h3 hostd > /dev/null
check "h3 goes down" wait_until 30 bash -c ". '$REPO/tests/lab/lib.sh'; [ \"\$(host_state h3)\" = down ]"
ferryctl maintenance exit h3 > "$tmp/out" 2>&1; rc=$?
check "maintenance exit of a down host says it is down (exit $rc)" \
	grep -q "host h3 is out of maintenance but down: its hostd is not connected" "$tmp/out"
lab start h3 hostd > /dev/null
check "h3 comes back up" wait_until 30 bash -c ". '$REPO/tests/lab/lib.sh'; [ \"\$(host_state h3)\" = up ]"

# --- reload (SIGHUP) -------------------------------------------------------
hosts_n() { ferryctl hosts --json | jq length; }
printf 'hosts = ( oops\n' >> "$CONF"
kill -HUP "$(cat "$PIDF")"
check "a bad file: the reload fails with a logged error" wait_until 10 grep -q "reload of $CONF failed, nothing changed" "$LOG"
check "... and nothing changed (3 hosts, h3 up)" bash -c ". '$REPO/tests/lab/lib.sh'; [ \"\$(ferryctl hosts --json | jq length)\" = 3 ] && [ \"\$(host_state h3)\" = up ]"
sed '/name = "h3"/d; s/\(name = "h2".*}\),$/\1/' "$tmp/conf.orig" > "$CONF"
kill -HUP "$(cat "$PIDF")"
check "h3 removed from the file: it goes without a restart" wait_until 10 bash -c "[ \"\$(ferryctl hosts --json | jq -r '[.[].name] | join(\",\")')\" = h1,h2 ]"
check "... a migration to it: unknown host" bash -c "ferryctl migrate cli1 --to h3 2>&1 | grep -q h3"
pid0=$(cat "$PIDF")
cp "$tmp/conf.orig" "$CONF"
kill -HUP "$(cat "$PIDF")"
check "h3 added back: it comes up" wait_until 30 bash -c ". '$REPO/tests/lab/lib.sh'; [ \"\$(host_state h3)\" = up ]"
check "... with the same coordinator (no restart)" [ "$(cat "$PIDF")" = "$pid0" ] && kill -0 "$pid0"
check "the reloads were logged" grep -q "reloaded: 3 hosts (1 added, 0 removed" "$LOG"
finish
