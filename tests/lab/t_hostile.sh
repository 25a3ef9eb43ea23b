#!/usr/bin/env bash
# The hostile host, in the lab (issue 11, finding 1): h2 keeps its valid key
# but advertises qemu+ssh://ADDR/system?command=PAYLOAD, where PAYLOAD is a
# script on storage every host sees that would touch a marker file. Real
# libvirtd runs command= as root on the migration's source if the URI ever
# reaches it. `ferryctl migrate VM --to h2` must be refused, the payload
# never run, h2 flagged with the reason in `ferryctl hosts --json`, and
# every other host keep working; once h2 is honest again the operator
# accepts it and it takes migrations.
. "$(dirname "$0")/lib.sh"

tmp=$(mktemp -d /tmp/ferry-hostile.XXXXXX)
chmod 755 "$tmp"
conf=/var/lib/ferry-lab/$LAB_ID/h2/hostd.conf
restore() {
	[ -f "$tmp/hostd.conf.orig" ] && cp "$tmp/hostd.conf.orig" "$conf" &&
		{ lab stop h2 hostd; lab start h2 hostd; } > /dev/null 2>&1
	lab vm destroy hz1 > /dev/null 2>&1
	rm -rf "$tmp"
}
trap restore EXIT

field() { ferryctl hosts --json | jq -r --arg h "$1" --arg f "$2" '.[] | select(.name == $h) | .[$f] // ""'; }
is_up() { [ "$(host_state "$1")" = up ]; }
flagged() { [ "$(field h2 trust)" = flagged ]; }
marker_absent() { [ ! -e "$tmp/MARKER" ]; }

marker=$tmp/MARKER
cat > "$tmp/payload" <<PAYLOAD
#!/bin/sh
# What a compromised host would run as root on another host.
echo "ran as \$(id -un) on \$(hostname): \$*" > $marker
exit 1
PAYLOAD
chmod 755 "$tmp/payload"
addr=$(sed -n 's/^listen = "\(.*\)";/\1/p' "$conf")
check "h2's hostd.conf names its address ($addr)" [ -n "$addr" ]
evil="qemu+ssh://$addr/system?command=$tmp/payload"

lab vm create hz1 --host h1 --mem 128 > /dev/null
check "hz1 runs on h1" wait_until 30 exactly_one hz1 h1
check "h2 is pinned at first contact" [ "$(field h2 trust)" = pinned ]

# h2 turns hostile: same key, a URI with command=.
cp "$conf" "$tmp/hostd.conf.orig"
sed -i "s#^advertise_uri = .*#advertise_uri = \"$evil\";#" "$conf"
lab stop h2 hostd > /dev/null
lab start h2 hostd > /dev/null
check "h2 comes back up with the hostile URI" wait_until 30 is_up h2
wait_until 10 flagged
out=$(ferryctl migrate hz1 --to h2 2>&1); rc=$?
note "migrate --to h2: rc $rc: $(tail -1 <<< "$out")"
sleep 1		# a payload run by libvirtd would have written by now
check "the payload never ran (no $marker)" marker_absent
[ -e "$marker" ] && note "marker: $(cat "$marker")"
check "migrate --to h2 is refused (exit 3)" [ "$rc" = 3 ]
check "... because h2 is flagged" grep -q "flagged" <<< "$out"
check "hz1 still runs on h1 only" exactly_one hz1 h1
check "ferryctl hosts --json: h2 is flagged" flagged
check "... with the reason naming command" bash -c "ferryctl hosts --json | jq -e '.[] | select(.name == \"h2\") | .flag_reason | test(\"command\")' > /dev/null"
check "... and the URI Ferry uses is still the pinned one" [ "$(field h2 libvirt_uri)" = "qemu+tcp://$addr/system" ]
check "h2 stays up (its own VMs are still its word)" is_up h2
out=$(ferryctl hosts accept h2 2>&1); rc=$?
refused_unsafe() { [ "$rc" = 1 ] && grep -q "'command' is not allowed" <<< "$out"; }
check "accepting h2 while it still lies is refused, naming command" refused_unsafe

# Everyone else keeps working.
out=$(ferryctl migrate hz1 --to h3 2>&1); rc=$?
check "migrate hz1 --to h3 succeeds" [ "$rc" = 0 ]
check "hz1 runs on h3 only" wait_until 10 exactly_one hz1 h3
check "the payload never ran" marker_absent

# h2 is fixed; the flag stays until the operator accepts it.
cp "$tmp/hostd.conf.orig" "$conf"
lab stop h2 hostd > /dev/null
lab start h2 hostd > /dev/null
check "h2 comes back up honest" wait_until 30 is_up h2
check "h2 is still flagged (only the operator clears it)" flagged
out=$(ferryctl hosts accept h2 2>&1); rc=$?
check "ferryctl hosts accept h2 succeeds" [ "$rc" = 0 ]
check "h2 is pinned again" [ "$(field h2 trust)" = pinned ]
out=$(ferryctl migrate hz1 --to h2 2>&1); rc=$?
check "migrate hz1 --to h2 now succeeds" [ "$rc" = 0 ]
check "hz1 runs on h2 only" wait_until 10 exactly_one hz1 h2
check "the payload never ran" marker_absent
exit $FAILED
