#!/usr/bin/env bash
# make check-packages: build the .debs (dpkg-buildpackage in a copy of the
# tree), lintian them, install them, check what the install did, bring up a
# lab running the installed daemons (lab up --installed, lab $LAB_ID,
# default 8), migrate a guest live with the installed ferryctl and check the
# outcome with libvirt on both hosts, then tear the lab down and purge the
# packages, checking that the purge left nothing. Root only; the machine is
# left as it was found (a trap tears down and purges on any failure).
# Prints "ok - " / "not ok - " lines and "N passed, M failed".
set -uo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
export LAB_ID=${LAB_ID:-8}
LAB="$REPO/deploy/lab/lab"
PKGS="ferry-hostd ferry-coordinator ferryctl"
# The lab helpers (lab, wait_until, exactly_one, heartbeat_ok); the counting
# ok/notok/check/finish below replace theirs.
. "$REPO/tests/lab/lib.sh"
passed=0 failed=0 installed=0 labup=0
ok() { echo "ok - $*"; passed=$((passed + 1)); }
notok() { echo "not ok - $*"; failed=$((failed + 1)); }
check() { local d=$1; shift; if "$@"; then ok "$d"; else notok "$d"; fi; }
finish() {
	echo
	echo "$passed passed, $failed failed"
	[ "$failed" = 0 ]
	exit
}
[ "$(id -u)" = 0 ] || { echo "check-packages: must run as root" >&2; exit 1; }

work=$(mktemp -d /tmp/ferry-pkg.XXXXXX)
cleanup() {
	set +e
	[ "$labup" = 1 ] && "$LAB" down --id "$LAB_ID" >/dev/null 2>&1
	# shellcheck disable=SC2086
	[ "$installed" = 1 ] && DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq $PKGS >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT

# Never touch an install this script did not make.
for p in $PKGS; do
	if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q installed; then
		notok "$p is already installed here: not touching it"; finish
	fi
done
[ -e /etc/ferry ] && { notok "/etc/ferry exists: not touching it"; finish; }

"$REPO/deploy/deps.sh" --packaging || { notok "deps.sh --packaging"; finish; }

# 1. Build, in a copy (dpkg-buildpackage writes to ..).
mkdir -p "$work/src/ferry"
(cd "$REPO" && git ls-files -co --exclude-standard -z | tar --null -T - -cf -) | tar -x -C "$work/src/ferry"
if (cd "$work/src/ferry" && dpkg-buildpackage -us -uc -b -j2) >"$work/build.log" 2>&1; then
	ok "dpkg-buildpackage -us -uc -b built $(cd "$work/src" && ls ./*.deb | grep -vc dbgsym) packages"
else
	tail -30 "$work/build.log"; notok "dpkg-buildpackage failed"; finish
fi
debs=()
for p in $PKGS; do
	f=$(ls "$work/src/${p}_"*.deb 2>/dev/null | head -1)
	[ -n "$f" ] && debs+=("$f") || notok "no $p .deb"
done
[ ${#debs[@]} = 3 ] || finish
lintian --tag-display-limit 0 "$work/src/"*.changes >"$work/lintian.log" 2>&1
grep -v 'root privileges' "$work/lintian.log" | sed 's/^/# lintian: /'
check "lintian: no errors" bash -c "! grep -q '^E: ' '$work/lintian.log'"
check "ferry-hostd depends on libvirt-daemon and its libraries" \
	bash -c "dpkg-deb -f '${debs[0]}' Depends | grep -q 'libvirt-daemon.*libvirt0'"

# Enabled the Debian way, not started before the operator configures them;
# an upgrade restarts a running one.
for d in "${debs[0]}" "${debs[1]}"; do
	pi=$(dpkg-deb --ctrl-tarfile "$d" | tar -xO ./postinst)
	check "$(basename "${d%%_*}"): postinst enables the unit, try-restarts on upgrade, never starts it" \
		bash -c '[[ "$1" == *"deb-systemd-helper enable"* && "$1" == *"deb-systemd-invoke try-restart"* && "$1" != *"deb-systemd-invoke start"* ]]' _ "$pi"
done

# 2. Install, and what the install did.
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${debs[@]}" >"$work/install.log" 2>&1
rc=$?
installed=1
[ $rc = 0 ] && ok "apt-get install of the three .debs" || { tail -20 "$work/install.log"; notok "apt-get install failed"; finish; }
check "binaries in /usr/sbin and /usr/bin" test -x /usr/sbin/ferry-hostd -a -x /usr/sbin/ferry-coordinator -a -x /usr/bin/ferryctl
check "group ferry exists (system group)" bash -c '[ "$(getent group ferry | cut -d: -f3)" -lt 1000 ]'
check "coordinator.conf uses socket_group ferry" grep -q '^socket_group = "ferry";' /etc/ferry/coordinator.conf
check "/etc/ferry/id_ed25519 generated, mode 0600" bash -c '[ "$(stat -c %a /etc/ferry/id_ed25519)" = 600 ] && ssh-keygen -l -f /etc/ferry/id_ed25519.pub | grep -q ED25519'
check "/etc/ferry/authorized_keys created" test -f /etc/ferry/authorized_keys
check "conffiles: /etc/ferry/hostd.conf and coordinator.conf" bash -c \
	"dpkg-query -W -f='\${Conffiles}' ferry-hostd | grep -q /etc/ferry/hostd.conf && dpkg-query -W -f='\${Conffiles}' ferry-coordinator | grep -q /etc/ferry/coordinator.conf"
check "units installed and enabled" bash -c 'for u in ferry-hostd ferry-coordinator; do [ -f /lib/systemd/system/$u.service ] && [ -L /etc/systemd/system/multi-user.target.wants/$u.service ] || exit 1; done'
check "unit ExecStart is /usr/sbin/ferry-hostd -f /etc/ferry/hostd.conf" grep -q '^ExecStart=/usr/sbin/ferry-hostd -f /etc/ferry/hostd.conf' /lib/systemd/system/ferry-hostd.service
check "man finds ferryctl(1) and ferry-coordinator.conf(5)" bash -c 'man -w ferryctl >/dev/null && man -w 5 ferry-coordinator.conf >/dev/null'
fp=$(ssh-keygen -l -f /etc/ferry/id_ed25519.pub)
echo '# the operator edits' >>/etc/ferry/coordinator.conf
dpkg -i "${debs[1]}" >"$work/reinstall.log" 2>&1
check "reinstalling keeps the key" bash -c "[ \"\$(ssh-keygen -l -f /etc/ferry/id_ed25519.pub)\" = '$fp' ]"
check "reinstalling keeps an edited coordinator.conf" grep -q '^# the operator edits' /etc/ferry/coordinator.conf

# 3. A lab on the installed daemons, and one real migration.
"$LAB" down --id "$LAB_ID" >/dev/null 2>&1
labup=1
if "$LAB" up --id "$LAB_ID" --hosts 2 --installed >"$work/lab.log" 2>&1; then
	ok "lab up --installed (lab $LAB_ID)"
else
	tail -20 "$work/lab.log"; notok "lab up --installed failed"; finish
fi
eval "$("$LAB" env --id "$LAB_ID")"
exe_of() { readlink "/proc/$(head -1 "/run/ferry-lab/$LAB_ID/$1.pid")/exe"; }
check "the lab's hostds run /usr/sbin/ferry-hostd" bash -c "[ '$(exe_of h1-hostd)' = /usr/sbin/ferry-hostd ] && [ '$(exe_of h2-hostd)' = /usr/sbin/ferry-hostd ]"
check "the lab's coordinator runs /usr/sbin/ferry-coordinator" test "$(exe_of coordinator)" = /usr/sbin/ferry-coordinator
check "ferryctl is /usr/bin/ferryctl" test "$(command -v ferryctl)" = /usr/bin/ferryctl
wait_until 60 sh -c '[ "$(ferryctl hosts --json | jq "[.[] | select(.state == \"up\")] | length")" = 2 ]'
check "both hosts up" test "$(ferryctl hosts --json | jq '[.[] | select(.state == "up")] | length')" = 2
vm=pk$LAB_ID
lab vm create "$vm" --host h1 --mem 128 --dirty-mib 8 >/dev/null 2>&1 || notok "lab vm create $vm"
wait_until 60 sh -c "ferryctl vms --json | jq -e '.[] | select(.name == \"$vm\" and .host == \"h1\")'"
check "$vm runs on h1 (libvirt and ferry)" exactly_one "$vm" h1
. /usr/share/bash-completion/completions/ferryctl
COMP_WORDS=(ferryctl migrate "$vm" --to "") COMP_CWORD=4 COMPREPLY=()
_ferryctl
check "the installed completion offers the live hosts for --to" test "$(printf '%s ' "${COMPREPLY[@]}")" = "h1 h2 "
ferryctl migrate "$vm" --to h2 >"$work/migrate.log" 2>&1
rc=$?
sed 's/^/# /' "$work/migrate.log" | tail -5
check "ferryctl migrate $vm --to h2 exited 0" test $rc = 0
check "the job's final state is succeeded" test "$(ferryctl jobs --json | jq -r --arg v "$vm" '[.[] | select(.vm == $v)][0].state')" = succeeded
check "libvirt: $vm runs on h2 and not on h1; ferry agrees" exactly_one "$vm" h2
check "$vm's guest kept beating" heartbeat_ok "$vm" --since-ms "$(now_ms)" --wait 20
lab vm destroy "$vm" >/dev/null 2>&1
# The lab stays in its mode: a daemon restarted is the installed one again.
lab stop h2 hostd >/dev/null 2>&1 && lab start h2 hostd >/dev/null 2>&1
check "lab start h2 hostd starts /usr/sbin/ferry-hostd again" test "$(exe_of h2-hostd)" = /usr/sbin/ferry-hostd

# 4. Down and purge: nothing left behind.
"$LAB" down --id "$LAB_ID" >/dev/null 2>&1 && labup=0
check "lab $LAB_ID down" test "$labup" = 0
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq $PKGS >"$work/purge.log" 2>&1 && installed=0
check "apt-get purge" test "$installed" = 0
check "purge removed /etc/ferry, /var/lib/ferry and the binaries" bash -c '[ ! -e /etc/ferry ] && [ ! -e /var/lib/ferry ] && [ ! -e /usr/sbin/ferry-hostd ] && [ ! -e /usr/bin/ferryctl ]'
check "purge removed the ferry group and the unit links" bash -c '! getent group ferry >/dev/null && [ ! -e /etc/systemd/system/multi-user.target.wants/ferry-hostd.service ]'
finish
