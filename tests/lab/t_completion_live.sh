#!/usr/bin/env bash
# Bash completion against the lab's real coordinator: host, VM and job names
# offered are exactly those ferryctl lists (tests/unit/t_completion.sh has
# the static words).
. "$(dirname "$0")/lib.sh"

. "$REPO/deploy/completion/ferryctl"
comp() {
	read -r -a COMP_WORDS <<<"$1"
	[[ "$1" == *" " ]] && COMP_WORDS+=("")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	_ferryctl ferryctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
	printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//'
}
sorted() { sort | tr '\n' ' ' | sed 's/ $//'; }

vm=ct-$LAB_ID-$$
lab vm create "$vm" --host h1 --mem 128 --dirty-mib 0 --disk none > /dev/null 2>&1 ||
	notok "lab vm create $vm"
wait_until 60 sh -c "ferryctl vms --json | jq -e '.[] | select(.name == \"$vm\")'" ||
	notok "$vm never appeared in ferryctl vms"

hosts=$(lab_hosts | sorted)
[ -n "$hosts" ] && [ "$(echo "$hosts" | wc -w)" -ge 2 ] || notok "ferryctl hosts listed [$hosts]"
got=$(comp "ferryctl maintenance enter ")
[ "$got" = "$hosts" ] && ok "maintenance enter HOST offers the coordinator's hosts [$got]" ||
	notok "maintenance enter offered [$got], ferryctl hosts lists [$hosts]"
got=$(comp "ferryctl migrate $vm --to ")
[ "$got" = "$hosts" ] && ok "--to offers the hosts" || notok "--to offered [$got], expected [$hosts]"
got=$(comp "ferryctl migrate ${vm%-*}")
echo "$got" | tr ' ' '\n' | grep -qx "$vm" && ok "migrate offers the lab's VM $vm [$got]" ||
	notok "migrate ${vm%-*} offered [$got], not $vm"
vms=$(ferryctl vms --json | jq -r '.[].name' | sort -u | sorted)
got=$(comp "ferryctl check ")
[ "$got" = "$vms" ] && ok "check offers every VM ferryctl lists" || notok "check offered [$got], ferryctl vms [$vms]"

# A job to name: a check-only migration of a guest without disks is refused
# or succeeds; either way it is a job the coordinator lists.
ferryctl migrate "$vm" --to h2 --json > /dev/null 2>&1
jobs=$(ferryctl jobs --json | jq -r '.[].id' | sort -u | sorted)
got=$(comp "ferryctl job ")
[ -n "$jobs" ] && [ "$got" = "$jobs" ] && ok "job ID offers the coordinator's job ids [$got]" ||
	notok "job offered [$got], ferryctl jobs lists [$jobs]"

lab vm destroy "$vm" > /dev/null 2>&1
exit $FAILED
