#!/usr/bin/env bash
# The systemd units: `systemd-analyze verify` clean and the security
# exposure within what README states, checked on a scratch root holding
# the units, the built binaries at the units' paths and this machine's own
# system units (nothing is installed on the machine itself).
. "$(dirname "$0")/lib.sh"

root=$(mktemp -d /tmp/ferry-t-units.XXXXXX)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/usr/sbin" "$root/etc/systemd/system" "$root/usr/lib/systemd"
cp -a /lib/systemd/system "$root/usr/lib/systemd/"
cp "$REPO"/deploy/systemd/*.service "$root/etc/systemd/system/"
for u in ferry-coordinator ferry-hostd; do
	out=$(systemd-analyze verify --man=no --root="$root" "$u.service" 2>&1); rc=$?
	check "systemd-analyze verify $u.service: no binary, an error" [ $rc != 0 ]
	cp "$FERRY_BUILD/$u" "$root/usr/sbin/$u"
	out=$(systemd-analyze verify --man=no --root="$root" "$u.service" 2>&1); rc=$?
	check "systemd-analyze verify $u.service is clean (exit $rc${out:+: $out})" \
		[ $rc = 0 ] && [ -z "$out" ]
	score=$(systemd-analyze security --offline=true --root="$root" "$u.service" 2>&1 |
		sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p')
	note "$u: exposure $score"
	# hostd's privilege separation costs it 0.6 (README, systemd units).
	max=2.5; [ "$u" = ferry-hostd ] && max=3.0
	check "$u.service exposure at most $max (it is ${score:-unknown})" \
		awk -v s="$score" -v m="$max" 'BEGIN { exit !(s != "" && s + 0 <= m) }'
	check "$u.service is Type=notify with a watchdog and Restart=on-failure" \
		bash -c "grep -qx Type=notify '$REPO/deploy/systemd/$u.service' &&
			grep -q '^WatchdogSec=' '$REPO/deploy/systemd/$u.service' &&
			grep -qx Restart=on-failure '$REPO/deploy/systemd/$u.service'"
done
finish
