#!/usr/bin/env bash
# make install / make uninstall into a DESTDIR: every file where the
# prefix says, the units' paths rewritten for it, configs never written
# over, and uninstall removing all of it except a config an operator edited.
set -uo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
B=${FERRY_BUILD:-$REPO/build}
fails=0
ok() { echo "ok - $*"; }
notok() { echo "not ok - $*"; fails=$((fails + 1)); }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
[ -x "$B/ferryctl" ] || { notok "no $B/ferryctl: build first"; exit 1; }
# The build tests/run tests; under SAN=1 that is build-san, and make must
# know it (it would otherwise rebuild objects there without sanitizers).
if [ "$(basename "$B")" = build-san ]; then mk() { make -s -C "$REPO" SAN=1 "$@"; }
else mk() { make -s -C "$REPO" B="$B" "$@"; }; fi

# 1. The defaults: PREFIX=/usr/local, SYSCONFDIR=$PREFIX/etc.
D=$tmp/d1
mk install DESTDIR="$D" >"$tmp/out" 2>&1 || { notok "make install failed: $(tail -5 "$tmp/out")"; exit 1; }
want="usr/local/bin/ferryctl usr/local/sbin/ferry-coordinator usr/local/sbin/ferry-hostd
usr/local/lib/systemd/system/ferry-coordinator.service usr/local/lib/systemd/system/ferry-hostd.service
usr/local/share/man/man1/ferryctl.1 usr/local/share/man/man5/ferry-coordinator.conf.5
usr/local/share/man/man5/ferry-hostd.conf.5 usr/local/share/man/man8/ferry-coordinator.8
usr/local/share/man/man8/ferry-hostd.8 usr/local/share/bash-completion/completions/ferryctl
usr/local/etc/ferry/coordinator.conf usr/local/etc/ferry/hostd.conf
usr/local/share/ferry/www/index.html usr/local/share/ferry/www/ferry.css
usr/local/share/ferry/www/ferry.js"
got=$(cd "$D" && find . -type f | sed 's|^\./||' | sort)
[ "$got" = "$(echo $want | tr ' ' '\n' | sort)" ] && ok "default prefix: exactly the 16 files under /usr/local" ||
	notok "default prefix installed: $(echo $got)"
cmp -s "$B/ferryctl" "$D/usr/local/bin/ferryctl" && [ -x "$D/usr/local/sbin/ferry-hostd" ] &&
	ok "the binaries are the build's, executable" || notok "installed binaries differ or are not executable"
"$D/usr/local/bin/ferryctl" --help | grep -q '^  migrate ' && ok "the installed ferryctl runs" ||
	notok "installed ferryctl --help did not list migrate"
u=$D/usr/local/lib/systemd/system/ferry-hostd.service
grep -q '^ExecStart=/usr/local/sbin/ferry-hostd -f /usr/local/etc/ferry/hostd.conf' "$u" &&
	! grep -qE '(^|[= "])(/usr/sbin/|/etc/ferry)' "$u" && ok "hostd unit: ExecStart from /usr/local/sbin, config in /usr/local/etc/ferry" ||
	notok "hostd unit paths: $(grep "^Exec" "$u" | tr '\n' ' ')"
u=$D/usr/local/lib/systemd/system/ferry-coordinator.service
grep -q '^ExecStart=/usr/local/sbin/ferry-coordinator -f /usr/local/etc/ferry/coordinator.conf' "$u" &&
	ok "coordinator unit: ExecStart matches the prefix" || notok "coordinator unit: $(grep "^Exec" "$u" | tr '\n' ' ')"
grep -q '"/usr/local/etc/ferry/id_ed25519"' "$D/usr/local/etc/ferry/coordinator.conf" &&
	ok "the example config names files under SYSCONFDIR" || notok "coordinator.conf paths not rewritten"
stat -c %a "$D/usr/local/share/man/man1/ferryctl.1" "$D/usr/local/etc/ferry/hostd.conf" | sort -u | grep -qx 644 &&
	ok "pages and configs mode 0644" || notok "modes: $(stat -c '%a %n' "$D"/usr/local/share/man/man1/* "$D"/usr/local/etc/ferry/*)"

# The rewritten units are valid where they were installed: systemd-analyze
# on the DESTDIR as a root, with this machine's own units beside them.
mkdir -p "$D/usr/lib/systemd" "$D/etc/systemd/system"
cp -a /lib/systemd/system "$D/usr/lib/systemd/"
for u in ferry-hostd ferry-coordinator; do
	cp "$D/usr/local/lib/systemd/system/$u.service" "$D/etc/systemd/system/"
	out=$(systemd-analyze verify --man=no --root="$D" "$u.service" 2>&1)
	rc=$?
	[ $rc = 0 ] && [ -z "$out" ] && ok "systemd-analyze verify of the installed $u.service is clean" ||
		notok "systemd-analyze verify $u.service (exit $rc): $out"
	rm -f "$D/etc/systemd/system/$u.service"
done
rm -rf "$D/usr/lib/systemd" "$D/etc/systemd"

# 2. Packaging's layout, and an existing config left alone.
D=$tmp/d2
mkdir -p "$D/etc/ferry"
echo '# mine' >"$D/etc/ferry/hostd.conf"
mk install DESTDIR="$D" PREFIX=/usr SYSCONFDIR=/etc UNITDIR=/lib/systemd/system >"$tmp/out" 2>&1 ||
	notok "make install PREFIX=/usr failed: $(tail -3 "$tmp/out")"
[ -x "$D/usr/sbin/ferry-coordinator" ] && [ -x "$D/usr/bin/ferryctl" ] &&
	[ -f "$D/usr/share/bash-completion/completions/ferryctl" ] && [ -f "$D/usr/share/man/man8/ferry-hostd.8" ] &&
	ok "PREFIX=/usr: binaries, completion and pages under /usr" || notok "PREFIX=/usr layout: $(cd "$D" && find . -type f | tr '\n' ' ')"
grep -q '^ExecStart=/usr/sbin/ferry-hostd -f /etc/ferry/hostd.conf' "$D/lib/systemd/system/ferry-hostd.service" &&
	ok "PREFIX=/usr SYSCONFDIR=/etc: unit paths /usr/sbin and /etc/ferry" || notok "unit under /lib/systemd/system wrong"
[ "$(cat "$D/etc/ferry/hostd.conf")" = "# mine" ] && grep -q 'exists, left alone' "$tmp/out" &&
	ok "an existing hostd.conf is not written over" || notok "existing hostd.conf was replaced"
cmp -s <(cat "$REPO/deploy/etc/coordinator.conf.example") "$D/etc/ferry/coordinator.conf" &&
	ok "a missing coordinator.conf is installed from the example" || notok "coordinator.conf not the example"

# 3. uninstall: everything but the edited configs.
echo '# edited' >>"$D/etc/ferry/coordinator.conf"
mk uninstall DESTDIR="$D" PREFIX=/usr SYSCONFDIR=/etc UNITDIR=/lib/systemd/system >"$tmp/out" 2>&1 ||
	notok "make uninstall failed: $(tail -3 "$tmp/out")"
left=$(cd "$D" && find . -type f | sed 's|^\./||' | sort | tr '\n' ' ')
[ "$left" = "etc/ferry/coordinator.conf etc/ferry/hostd.conf " ] &&
	ok "uninstall removed all but the two edited configs" || notok "after uninstall: [$left]"
D=$tmp/d1
mk uninstall DESTDIR="$D" >"$tmp/out" 2>&1 || notok "make uninstall (defaults) failed"
left=$(cd "$D" && find . -type f | wc -l)
[ "$left" = 0 ] && [ ! -d "$D/usr/local/etc/ferry" ] &&
	ok "uninstall of an unedited install leaves no file, and removes the config directory" ||
	notok "after uninstall: $(cd "$D" && find . -type f | tr '\n' ' ')"
[ $fails = 0 ]
