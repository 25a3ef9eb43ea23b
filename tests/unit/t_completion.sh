#!/usr/bin/env bash
# Bash completion of ferryctl (deploy/completion/ferryctl), static words:
# sources it in this bash, sets COMP_WORDS/COMP_CWORD as readline would,
# calls the function and compares COMPREPLY. Live names come from a fake
# ferryctl on PATH (with jq, and without it), and a coordinator that is not
# there must cost nothing: empty, silent and fast. tests/lab/t_completion_live.sh
# checks live names against a real coordinator.
set -uo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
fails=0
ok() { echo "ok - $*"; }
notok() { echo "not ok - $*"; fails=$((fails + 1)); }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# shellcheck disable=SC1091
. "$REPO/deploy/completion/ferryctl"
complete -p ferryctl >/dev/null 2>&1 && ok "the completion registers _ferryctl for ferryctl" ||
	notok "no complete -F for ferryctl after sourcing"

# comp "LINE" : COMPREPLY, sorted, space-separated, for the cursor at the end
# of LINE (a trailing space means a new, empty word). Splits on spaces and
# '=' as readline does with the default COMP_WORDBREAKS.
comp() {
	local line=$1
	line=${line//=/ = }
	read -r -a COMP_WORDS <<<"$line"
	[[ "$1" == *" " || "$1" == *"=" ]] && COMP_WORDS+=("")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE=$1 COMP_POINT=${#1}
	COMPREPLY=()
	_ferryctl ferryctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
	printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//'
}
expect() { # desc line expected
	local got
	got=$(comp "$2" 2>"$tmp/err")
	if [ "$got" = "$3" ] && [ ! -s "$tmp/err" ]; then ok "$1"
	else notok "$1: '$2' gave [$got], expected [$3]$([ -s "$tmp/err" ] && echo "; stderr: $(head -c 200 "$tmp/err")")"; fi
}

# No coordinator for the static words; the real ferryctl when built.
export FERRY_SOCKET=$tmp/none.sock
build=${FERRY_BUILD:-$REPO/build}
[ -x "$build/ferryctl" ] && PATH=$build:$PATH
expect "commands" "ferryctl " "abort audit check cpu-baseline hosts job jobs maintenance metrics migrate place plan rebalance snapshot status token vms watch"
expect "a command's prefix" "ferryctl ma" "maintenance"
expect "global options" "ferryctl --" "--help --socket --version"
expect "migrate's options" "ferryctl migrate web1 --" \
	"--abort-on-interrupt --auto-converge --bandwidth --copy-storage --json --max-downtime --no-postcopy --no-tls --no-wait --parallel --postcopy --timeout --tls --to"
expect "options before the VM" "ferryctl migrate --no-" "--no-postcopy --no-tls --no-wait"
expect "jobs' options" "ferryctl jobs --" "--all --json --limit"
expect "maintenance subcommands" "ferryctl maintenance " "cancel enter exit"
expect "maintenance exit's options only" "ferryctl maintenance exit h1 --" "--json --restore --wait"
expect "maintenance enter's options" "ferryctl maintenance enter h1 --" "--copy-storage --dry-run --force --json --max-parallel --wait"
expect "--policy values" "ferryctl plan --snapshot x --policy " "balance consolidate"
expect "--policy=VALUE" "ferryctl rebalance --policy=c" "consolidate"
expect "a numeric value is not completed" "ferryctl migrate web1 --bandwidth " ""
expect "after a valued option, options again" "ferryctl migrate web1 --bandwidth 50 --no-w" "--no-wait"
expect "--socket before the command is skipped" "ferryctl --socket /tmp/x hosts --" "--json"
expect "snapshot takes nothing" "ferryctl snapshot --" ""
# What the live lookup's timeout did, read from a wrapper around it rather
# than from the wall clock (a loaded CI machine once made a 2 s timeout look
# like 6.7 s): 124 is timeout's "killed it", anything else the command's own.
mkdir -p "$tmp/shim"
printf '#!/bin/sh\n"%s" "$@"; rc=$?; echo $rc >>"$TIMEOUT_LOG"; exit $rc\n' \
	"$(type -P timeout)" >"$tmp/shim/timeout"
chmod +x "$tmp/shim/timeout"
export TIMEOUT_LOG=$tmp/timeout.log
: >"$TIMEOUT_LOG"
PATH=$tmp/shim:$PATH expect "no coordinator: VM names empty and silent" "ferryctl migrate " ""
rcs=$(tr '\n' ' ' <"$TIMEOUT_LOG")
case "$rcs" in
"" | *124*) notok "no coordinator: the lookup should fail at once, not run into its timeout (rc [$rcs])" ;;
*) ok "no coordinator: ferryctl failed by itself (rc $rcs), no timeout spent" ;;
esac

# A fake ferryctl answering --json like the real one.
mkdir -p "$tmp/bin"
cat >"$tmp/bin/ferryctl" <<'FAKE'
#!/bin/sh
[ "$1" = --socket ] && { echo "$2" >>"$FAKE_LOG"; shift 2; }
case "$1 $2" in
"hosts --json") echo '[ { "name": "kvm1", "state": "up" }, { "name": "kvm2", "state": "down" } ]' ;;
"vms --json") echo '[ { "name": "web1", "host": "kvm1" }, { "name": "db1", "host": "kvm2" } ]' ;;
"jobs --json") echo '[ { "id": 7, "vm": "web1", "state": "migrating" }, { "id": 6, "vm": "db1", "state": "succeeded" } ]' ;;
"slow --json") ;;
*) exit 2 ;;
esac
FAKE
chmod +x "$tmp/bin/ferryctl"
export FAKE_LOG=$tmp/sockets
PATH_SAVED=$PATH
live() {
	expect "$1: VM names" "ferryctl migrate " "db1 web1"
	expect "$1: VM prefix" "ferryctl check w" "web1"
	expect "$1: --to host names" "ferryctl migrate web1 --to " "kvm1 kvm2"
	expect "$1: --to=host" "ferryctl check web1 --to=kvm2" "kvm2"
	expect "$1: --host names" "ferryctl vms --host " "kvm1 kvm2"
	expect "$1: maintenance HOST" "ferryctl maintenance enter " "kvm1 kvm2"
	expect "$1: nothing after HOST" "ferryctl maintenance enter kvm1 " ""
	expect "$1: job ids" "ferryctl watch " "6 7"
	expect "$1: abort offers only unfinished jobs" "ferryctl abort " "7"
	expect "$1: only one VM" "ferryctl migrate web1 " ""
}
PATH=$tmp/bin:$PATH_SAVED
live "with jq"
# Without jq: a PATH holding only what the fallback needs.
mkdir -p "$tmp/nojq"
for t in timeout grep sed sort tr cat; do ln -s "$(type -P $t)" "$tmp/nojq/$t"; done
PATH=$tmp/bin:$tmp/nojq
type -P jq >/dev/null && notok "jq still on the restricted PATH"
live "without jq"
PATH=$tmp/bin:$PATH_SAVED
# A coordinator that hangs costs the timeout, not the hang: the lookup is
# killed (124) and the completion returns long before the 60 s sleep ends.
printf '#!/bin/sh\nexec sleep 60\n' >"$tmp/bin/ferryctl.slow"
mv "$tmp/bin/ferryctl" "$tmp/bin/ferryctl.fake"
mv "$tmp/bin/ferryctl.slow" "$tmp/bin/ferryctl"
chmod +x "$tmp/bin/ferryctl"
: >"$TIMEOUT_LOG"
t0=$(date +%s)
PATH=$tmp/shim:$PATH expect "a hung coordinator: nothing offered" "ferryctl migrate " ""
s=$(($(date +%s) - t0))
rcs=$(tr '\n' ' ' <"$TIMEOUT_LOG")
[ "$rcs" = "124 " ] && [ $s -lt 30 ] && ok "a hung coordinator: its lookup was cut by the timeout (rc 124, ${s} s)" ||
	notok "a hung coordinator: lookups ended [$rcs] after ${s} s, expected one cut by the timeout (124)"
mv "$tmp/bin/ferryctl.fake" "$tmp/bin/ferryctl"
: >"$FAKE_LOG"
comp "ferryctl --socket /run/other.sock migrate " >/dev/null
[ "$(cat "$FAKE_LOG")" = /run/other.sock ] && ok "live lookups use the command line's --socket" ||
	notok "live lookups asked [$(cat "$FAKE_LOG")], not /run/other.sock"
[ $fails = 0 ]
