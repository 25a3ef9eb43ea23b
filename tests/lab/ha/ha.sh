# tests/lab/ha/ha.sh: what the HA lab tests share (sourced after lib.sh):
# the lab's two coordinators c1 and c2, each asked on its own socket.
RUN=/run/ferry-lab/$LAB_ID
STATE=/var/lib/ferry-lab/$LAB_ID
[ -S "$RUN/c1.sock" ] && [ -S "$RUN/c2.sock" ] || {
	notok "$(basename "$0" .sh) needs a lab with --coordinators 2 (LAB_COORDINATORS=2 tests/run ...)"
	finish
}
LEASE_MS=$(sed -n 's/.*lease_ms = \([0-9]*\);.*/\1/p' "$STATE/c1/coordinator.conf")

cctl() { local c=$1; shift; FERRY_SOCKET=$RUN/$c.sock ferryctl "$@"; }
role() { cctl "$1" status --json 2> /dev/null | jq -r .role; }
epoch() { cctl "$1" status --json 2> /dev/null | jq -r .epoch; }
is_role() { [ "$(role "$1")" = "$2" ]; }
other() { [ "$1" = c1 ] && echo c2 || echo c1; }
leader() { local c; for c in c1 c2; do is_role $c leader && { echo $c; return 0; }; done; return 1; }
hosts_up() { [ "$(cctl "$1" status --json | jq .hosts_up)" = 3 ]; }
# ha_pair: L is whichever leads (an earlier test may have left either), S
# the other, which must be its standby with all its sessions.
ha_pair() {
	check "one coordinator leads" wait_until 30 leader
	L=$(leader)
	S=$(other "$L")
	check "$S is the standby of $L" wait_until 20 is_role "$S" standby
	check "$S has its sessions" wait_until 20 hosts_up "$S"
}
