#!/usr/bin/env bash
# hostd's privilege separation (hostd/privsep.c): the process that parses
# what the network sends before authentication is not the root process that
# holds the libvirt connection. Asserted from the kernel's view of the two
# processes (/proc), from who holds the listening socket, from what each
# logs, and by killing the network process while a guest runs.
. "$(dirname "$0")/lib.sh"

STATE=/var/lib/ferry-lab/$LAB_ID
RUN=/run/ferry-lab/$LAB_ID
all_up() { [ "$(ferryctl hosts --json | jq '[.[] | select(.state == "up")] | length')" = "$(lab_hosts | wc -l)" ]; }
h1_up() { [ "$(host_state h1)" = up ]; }
h1_down() { [ "$(host_state h1)" = down ]; }
check "all hosts up within 15 s" wait_until 15 all_up

parent=$(cat "$RUN/h1-hostd.pid")
child() { pgrep -P "$parent" -f -- '-N 3' | head -1; }
net=$(child)
check "h1's hostd (pid $parent) has a network process" is_number "$net"
field() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$2/status"; }
check "the parent runs as root" [ "$(field Uid "$parent")" = 0 ]
check "the network process runs as nobody (uid 65534), real/effective/saved" \
    [ "$(awk '/^Uid:/ { print $2, $3, $4 }' "/proc/$net/status")" = "65534 65534 65534" ]
check "the network process has no supplementary groups beyond nobody's" \
    [ "$(awk '/^Groups:/ { print $2 }' "/proc/$net/status")" = "$(id -g nobody)" ]
check "the network process cannot gain privileges (NoNewPrivs)" [ "$(field NoNewPrivs "$net")" = 1 ]
check "the network process has no capabilities" [ "$(field CapEff "$net")" = 0000000000000000 ]
check "the network process is chrooted in h1's privsep directory" \
    [ "$(readlink "/proc/$net/root")" = "$STATE/h1/privsep" ]

# Who listens on 7220 in h1's namespace: only the network process.
listeners=$(ip netns exec "fl$LAB_ID-h1" ss -Hltnp 'sport = :7220')
note "listeners: $listeners"
check "the network process holds hostd's listening socket" grep -q "pid=$net," <<<"$listeners"
check "the root process does not" bash -c "! grep -q 'pid=$parent,' <<<'$listeners'"

# Garbage before authentication reaches only the network process.
addr=$(ferryctl hosts --json | jq -r '.[] | select(.name == "h1") | .address')
mark=$(wc -l < "$STATE/h1/hostd.log")
ip netns exec "fl$LAB_ID-h2" python3 -c '
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), 5)
s.recv(256); s.sendall(b"SSH-2.0-evil\r\n" + b"\xff" * 4096); s.settimeout(5)
try: s.recv(256)
except Exception: pass
' "${addr%:*}" "${addr##*:}" 2> /dev/null
refused() { tail -n +"$mark" "$STATE/h1/hostd.log" | grep -Eq "ferry-hostd-net\[$net\].*(refused|handshake failed)"; }
check "a peer speaking garbage is refused by the network process" wait_until 10 refused
check "the root process never saw it" bash -c "! tail -n +$mark '$STATE/h1/hostd.log' | grep 'ferry-hostd\[$parent\]' | grep -Eq 'refused|handshake failed'"

# A guest keeps running while the network process dies and comes back.
lab vm create ps1 --host h1 --mem 128 --dirty-mib 8 --dirty-rate 2 > /dev/null
seen() { ferryctl vms --json | jq -e '.[] | select(.name == "ps1" and .state == "running")' > /dev/null; }
check "ps1 is seen running" wait_until 30 seen
check "ps1's guest beats" wait_until 90 lab heartbeat ps1
t0=$(now_ms)
kill -9 "$net"
check "h1 goes down when its network process is killed" wait_until 20 h1_down
new_child() { n=$(child); [ -n "$n" ] && [ "$n" != "$net" ]; }
check "the root process starts another network process" wait_until 10 new_child
check "the root process itself lived on (pid $parent)" kill -0 "$parent"
check "h1 is up again" wait_until 20 h1_up
net=$(child)
check "the new network process is unprivileged too" \
    [ "$(awk '/^Uid:/ { print $2 }' "/proc/$net/status")" = 65534 ]
check "ps1 kept running on h1 only" exactly_one ps1 h1
check "ps1 beats on and its heartbeat never reset" beats_after ps1 "$t0"
check "a migration through the new network process succeeds" \
    timeout 120 ferryctl migrate ps1 --to h2 --bandwidth 50
check "ps1 runs on h2 only" exactly_one ps1 h2

# authorized_keys: the network process sees the parent's copy, kept current
# and checked (StrictModes) by root.
copy=$STATE/h1/privsep/keys/authorized_keys
orig=$STATE/h1/authorized_keys
check "the network process's copy equals the original" cmp -s "$orig" "$copy"
chmod 0620 "$orig"
emptied() { [ ! -s "$copy" ]; }
check "a group-writable original empties the copy (no key admitted)" wait_until 10 emptied
complained() { grep -q "authorized_keys.*writable by group/others" "$STATE/h1/hostd.log"; }
check "and the root process says why" wait_until 5 complained
chmod 0600 "$orig"
restored() { cmp -s "$orig" "$copy"; }
check "a fixed original is copied again" wait_until 10 restored

# A privsep_user that does not exist: hostd refuses to start, and says so.
bad=$(mktemp -d)
sed 's/^privsep_user = .*/privsep_user = "no-such-user";/' "$STATE/h1/hostd.conf" > "$bad/hostd.conf"
out=$("${FERRY_BUILD:-build}/ferry-hostd" -f "$bad/hostd.conf" 2>&1); rc=$?
check "hostd exits 1 for an unknown privsep_user (got $rc)" [ "$rc" = 1 ]
check "naming the user" grep -q "privsep_user 'no-such-user': no such user" <<<"$out"
rm -rf "$bad"

lab vm destroy ps1 > /dev/null 2>&1
finish
