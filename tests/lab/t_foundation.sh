#!/usr/bin/env bash
# Foundation: hosts come up over SSH, guests appear where they run, a host
# whose hostd stops goes down and comes back, an unknown SSH key gets no
# session, config check mode, ferryctl's errors.
. "$(dirname "$0")/lib.sh"

all_up() { [ "$(ferryctl hosts --json | jq '[.[] | select(.state == "up")] | length')" = 3 ]; }
check "three hosts up within 15 s" wait_until 15 all_up
check "hosts --json has the documented fields" \
	bash -c 'ferryctl hosts --json | jq -e ".[0] | has(\"name\") and has(\"state\") and has(\"admin_state\") and has(\"address\") and has(\"libvirt_uri\") and has(\"cpus\") and has(\"mem_mib\") and has(\"mem_free_mib\") and has(\"vms\")" > /dev/null'

# lab env puts both ferryctl and lab itself on PATH (README's examples say "lab vm create ...").
envpath() { (unset -f lab; eval "$("$LAB" --id "$LAB_ID" env)"; [ "$(command -v lab)" = "$(readlink -f "$LAB")" ] && [ -x "$(command -v ferryctl)" ]); }
check "lab env puts lab and ferryctl on PATH" envpath

lab vm create fa --host h1 --mem 128 --dirty-mib 8 > /dev/null
lab vm create fb --host h2 --mem 128 --disk none > /dev/null
seen() { [ "$(ferryctl vms --json | jq -r --arg v "$1" '.[] | select(.name == $v) | .host + ":" + .state')" = "$2:running" ]; }
t0=$(now_ms)
check "new guest fa appears on h1 in vms --json within 5 s" wait_until 5 seen fa h1
check "new guest fb appears on h2 in vms --json within 5 s" wait_until 5 seen fb h2
note "guests seen after $(( $(now_ms) - t0 )) ms"
check "vms --json has the documented fields" \
	bash -c 'ferryctl vms --json | jq -e "map(select(.name == \"fa\"))[0] | .mem_mib == 128 and .vcpus >= 1 and .host == \"h1\"" > /dev/null'

lab stop h3 hostd > /dev/null
t0=$(now_ms)
check "h3 goes down when its hostd stops" wait_until 20 bash -c "[ \"\$(ferryctl hosts --json | jq -r '.[] | select(.name == \"h3\") | .state')\" = down ]"
note "h3 seen down after $(( $(now_ms) - t0 )) ms"
lab start h3 hostd > /dev/null
t0=$(now_ms)
check "h3 comes back up when its hostd returns" wait_until 30 all_up
note "h3 seen up after $(( $(now_ms) - t0 )) ms"

# An SSH client with a key hostd does not know gets no session.
tmp=$(mktemp -d)
ssh-keygen -q -t ed25519 -N '' -f "$tmp/intruder" > /dev/null
addr=$(ferryctl hosts --json | jq -r '.[] | select(.name == "h1") | .address')
out=$(timeout 20 ssh -i "$tmp/intruder" -p "${addr##*:}" -o BatchMode=yes \
	-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
	-o IdentitiesOnly=yes -s "ferry@${addr%:*}" ferry < /dev/null 2>&1)
rc=$?
refused() { [ "$rc" -ne 0 ] && grep -q 'Permission denied' <<< "$out"; }
check "an unknown SSH key is refused (ssh exit $rc)" refused
check "hostd logs the refused key's fingerprint" \
	grep -q "refused key SHA256:" "/var/lib/ferry-lab/$LAB_ID/h1/hostd.log"
check "the coordinator's session to h1 survived the intrusion" all_up
rm -rf "$tmp"

# Config check mode.
conf=/var/lib/ferry-lab/$LAB_ID/h1/hostd.conf
out=$(ferry-hostd -n -f "$conf" 2>&1)
check "ferry-hostd -n accepts the lab config" [ "$out" = "configuration OK" ]
bad=$(mktemp)
{ cat "$conf"; echo "bogus_key = 1;"; } > "$bad"
out=$(ferry-hostd -n -f "$bad" 2>&1); rc=$?
names_line() { [ "$rc" -ne 0 ] && grep -q "$bad:[0-9]*: unknown setting 'bogus_key'" <<< "$out"; }
check "ferry-hostd -n names the bad line ($out)" names_line
out=$(ferry-coordinator -n -f "/var/lib/ferry-lab/$LAB_ID/coordinator/coordinator.conf" 2>&1)
check "ferry-coordinator -n accepts the lab config" [ "$out" = "configuration OK" ]
rm -f "$bad"

# ferryctl errors.
ferryctl --socket /nonexistent.sock hosts > /dev/null 2>&1; rc=$?
check "ferryctl exits 4 when the coordinator is unreachable" [ $rc = 4 ]
out=$(ferryctl vms --host nosuchhost 2>&1); rc=$?
unknown_host() { [ "$rc" = 1 ] && grep -q "unknown host 'nosuchhost'" <<< "$out"; }
check "ferryctl vms --host of an unknown host fails clearly" unknown_host
ferryctl frobnicate > /dev/null 2>&1; rc=$?
check "an unknown command is a usage error" [ $rc = 2 ]

# The control socket: only root and socket_group, even if its mode is opened.
# ferryctl runs from a root-owned 0755 copy: the clone's own directory may be
# one nobody cannot enter (mktemp -d), and a ferryctl that never ran (exit
# 127) must not pass for a refused one.
ctldir=$(mktemp -d /tmp/ferry-ctl.XXXXXX)
chmod 755 "$ctldir"
install -m 755 "$(command -v ferryctl)" "$ctldir/ferryctl"
nobody_uid=$(id -u nobody)
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$ctldir/ferryctl" "$@"; }
out=$(as_nobody --help 2>&1); rc=$?
runs() { [ "$rc" = 0 ] && grep -q '^usage: ferryctl' <<< "$out"; }
check "ferryctl runs as nobody (--help exit $rc)" runs
out=$(as_nobody --socket "$FERRY_SOCKET" hosts 2>&1); rc=$?
note "as nobody, socket mode 0660: exit $rc: $out"
denied() { [ "$rc" = 5 ] && grep -q "not allowed: you are not in group ferry" <<< "$out"; }
check "a user outside socket_group cannot connect to the 0660 socket (exit 5, not allowed)" denied
clog=/var/lib/ferry-lab/$LAB_ID/coordinator/coordinator.log
refusals() { grep -c "control: refused a client (pid [0-9]*, uid $nobody_uid): not root nor in socket_group" "$clog"; }
before=$(refusals)
chmod 666 "$FERRY_SOCKET"
out=$(as_nobody --socket "$FERRY_SOCKET" hosts 2>&1); rc=$?
chmod 660 "$FERRY_SOCKET"
note "as nobody, socket mode 0666: exit $rc: $out"
cut() { [ "$rc" = 5 ] && grep -q "not allowed: you are not in group ferry" <<< "$out" &&
	! grep -q '"name"\|^NAME' <<< "$out"; }
check "... nor use it when the socket's mode lets it connect (exit 5, refused by the coordinator)" cut
check "the coordinator logs the refused client with nobody's uid $nobody_uid" \
	wait_until 5 bash -c "[ \$(grep -c 'control: refused a client (pid [0-9]*, uid $nobody_uid): not root nor in socket_group' '$clog') -gt $before ]"
rm -rf "$ctldir"

# Names that must not reach libvirt are refused at the door.
out=$(ferryctl migrate '../etc/x' --to h2 2>&1); rc=$?
badname() { [ "$rc" = 1 ] && grep -q "must not start with" <<< "$out"; }
check "a VM name like ../etc/x is refused" badname

lab vm destroy fa > /dev/null
lab vm destroy fb > /dev/null
finish
