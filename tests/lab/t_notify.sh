#!/usr/bin/env bash
# systemd's notify protocol, end to end, without systemd (PID 1 here is not
# systemd): each daemon is started with NOTIFY_SOCKET on a datagram socket
# of ours (tests/lab/notify-listen.py) and WATCHDOG_USEC. READY=1 must come
# only once the daemon serves (the coordinator: store open and control
# socket listening; hostd: listening and libvirt answered), never from a
# hostd whose libvirt does not answer; watchdog pings come periodically;
# SIGTERM brings STOPPING=1. Both run in a network namespace of their own
# (loopback only); hostd's libvirt is its test driver.
. "$(dirname "$0")/lib.sh"

listen="$REPO/tests/lab/notify-listen.py"
w=$(mktemp -d /tmp/ferry-t-notify.XXXXXX)
trap 'rm -rf "$w"' EXIT

# first_ms FILE PATTERN: time of the first datagram matching PATTERN.
first_ms() { grep -F -m1 "$2" "$1" | awk '{print $1}'; }
pings() { grep -c "'WATCHDOG=1'" "$1"; }
# Gaps between pings, at most MS (and at least one ping), over the run.
pings_periodic() {
	awk -v max="$2" "/'WATCHDOG=1'/ { if (n++ && \$1 - last > max) bad = 1; last = \$1 } END { exit !(n >= 3 && !bad) }" "$1"
}

# A network namespace of the test's own: loopback only, its ports ours.
in_netns() { unshare -n bash -c 'ip link set lo up && exec "$@"' in_netns "$@"; }

# ---- coordinator (its one host is on a closed loopback port)
ssh-keygen -q -t ed25519 -N '' -f "$w/id" > /dev/null
: > "$w/known_hosts"
cat > "$w/coordinator.conf" <<CONF
database = "$w/ferry.db";
socket = "$w/ferry.sock";
identity = "$w/id";
known_hosts = "$w/known_hosts";
hosts = ( { name = "h1"; address = "127.0.0.1"; port = 9; } );
CONF
in_netns "$listen" --probe "unix:$w/ferry.sock" --seconds 3 --watchdog-usec 400000 -- \
	"$(command -v ferry-coordinator)" -f "$w/coordinator.conf" > "$w/c.out" 2> "$w/c.log"
sed 's/^/# coordinator: /' "$w/c.out" | grep -v WATCHDOG
ready=$(first_ms "$w/c.out" "'READY=1")
check "the coordinator sends READY=1" [ -n "$ready" ]
check "... with a STATUS= line" grep -q "'READY=1\\\\nSTATUS=coordinating 1 hosts; control socket $w/ferry.sock'" "$w/c.out"
check "... only once its control socket accepts connections" \
	grep -q "^$ready up 'READY=1" "$w/c.out"
check "watchdog pings from the coordinator every 200 ms or so ($(pings "$w/c.out") in 3 s)" \
	pings_periodic "$w/c.out" 600
check "SIGTERM: STOPPING=1, then a clean exit" \
	bash -c "grep -q \"'STOPPING=1\" '$w/c.out' && grep -q '^exit 0$' '$w/c.out'"

# ---- hostd
ssh-keygen -q -t ed25519 -N '' -f "$w/host_key" > /dev/null
cp "$w/id.pub" "$w/authorized_keys"
chmod 600 "$w/authorized_keys"
hostd_conf() { # FILE URI
	cat > "$1" <<CONF
listen = "127.0.0.1";
port = 7220;
host_key = "$w/host_key";
authorized_keys = "$w/authorized_keys";
libvirt_uri = "$2";
advertise_uri = "qemu+tcp://127.0.0.1/system";
migration_address = "127.0.0.1";
CONF
}
hostd_conf "$w/hostd.conf" "test:///default"
hostd_conf "$w/hostd-nolibvirt.conf" "test://$w/no-such-driver-file.xml"

in_netns "$listen" --probe tcp:127.0.0.1:7220 --seconds 3 --watchdog-usec 400000 -- \
	"$(command -v ferry-hostd)" -f "$w/hostd.conf" > "$w/h.out" 2> "$w/h.log"
sed 's/^/# hostd: /' "$w/h.out" | grep -v WATCHDOG
ready=$(first_ms "$w/h.out" "'READY=1")
check "hostd sends READY=1" [ -n "$ready" ]
check "... once libvirt answered (STATUS= names it and its domains)" \
	grep -q "'READY=1\\\\nSTATUS=listening on 127.0.0.1:7220; libvirt test:///default: [0-9]* domains'" "$w/h.out"
check "... and only while its port accepts connections" \
	grep -q "^$ready up 'READY=1" "$w/h.out"
check "watchdog pings from hostd every 200 ms or so ($(pings "$w/h.out") in 3 s)" \
	pings_periodic "$w/h.out" 600
check "SIGTERM: STOPPING=1, then a clean exit" \
	bash -c "grep -q \"'STOPPING=1\" '$w/h.out' && grep -q '^exit 0$' '$w/h.out'"

# A hostd whose libvirt does not answer listens, but is not ready.
in_netns "$listen" --probe tcp:127.0.0.1:7220 --seconds 4 --watchdog-usec 400000 -- \
	"$(command -v ferry-hostd)" -f "$w/hostd-nolibvirt.conf" > "$w/n.out" 2> "$w/n.log"
sed 's/^/# hostd without libvirt: /' "$w/n.out" | grep -v WATCHDOG
check "hostd without libvirt listens (its port accepts connections)" grep -q '^probe-first-ok ' "$w/n.out"
check "... but never sends READY=1" bash -c "! grep -q \"'READY=1\" '$w/n.out'"
check "... and STATUS= says what it waits for" \
	grep -qF "STATUS=waiting for libvirt test://$w/no-such-driver-file.xml: libvirt: connect" "$w/n.out"
check "... its loop still pings the watchdog" pings_periodic "$w/n.out" 600
finish
