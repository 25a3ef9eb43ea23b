#!/bin/bash
# storage_probe.sh: storage/ (nfsprobe, nonce, storcheck) against a real NFS
# server: rpcbind + ganesha.nfsd in network namespace st-nfs (198.18.250.2,
# veth to 198.18.250.1 in the root namespace), exporting a temporary
# directory as /export. Checks: export mountable (v3, v4), a qcow2 image's
# magic read, a QEMU-style network disk accepted, a nonce written locally
# into the export seen through NFS (and a wrong one refused), and with the
# server frozen (SIGSTOP) or killed the probe fails within its timeout.
#
# Root only. Exits 0 if every check passed. Always removes its namespace,
# processes and files (trap), and ends by itself within 60 s.
set -u

if [ -z "${ST_PROBE_INNER:-}" ]; then
	# The hard limit: TERM at 55 s (the trap cleans up), KILL 5 s later.
	exec timeout -k 5 55 env ST_PROBE_INNER=1 "$0" "$@"
fi

NS=st-nfs
VETH_ROOT=st-nfs0
VETH_NS=st-nfs1
ROOT_ADDR=198.18.250.1
ADDR=198.18.250.2
REPO=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)
WORK=
SERVER_PID=
SHELL_PID=
FAILS=0

say() { echo "storage_probe: $*"; }
die() { echo "storage_probe: error: $*" >&2; exit 1; }

cleanup() {
	set +e
	if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -CONT "$SERVER_PID" 2>/dev/null
		kill -TERM "$SERVER_PID" 2>/dev/null
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$SERVER_PID" 2>/dev/null || break
			sleep 0.2
		done
		kill -KILL "$SERVER_PID" 2>/dev/null
	fi
	if [ -n "$WORK" ] && [ -s "$WORK/rpcbind.pid" ]; then
		kill -TERM "$(cat "$WORK/rpcbind.pid")" 2>/dev/null
	fi
	# The shell reaps both and exits; reap it.
	[ -n "$SHELL_PID" ] && wait "$SHELL_PID" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	ip link del "$VETH_ROOT" 2>/dev/null
	[ -n "$WORK" ] && rm -rf "$WORK"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 1' INT TERM HUP

[ "$(id -u)" = 0 ] || die "must run as root"
for p in ganesha.nfsd rpcbind nfs-ls qemu-img ip unshare cc pkg-config; do
	command -v "$p" >/dev/null || die "$p not installed"
done

ms() { date +%s%3N; }

# expect ok|fail DESC [--match TEXT] [--within MS] -- CMD...
expect() {
	local want=$1 desc=$2 match= within= out rc t0 dt
	shift 2
	while [ "$1" != -- ]; do
		case $1 in
		--match) match=$2; shift 2 ;;
		--within) within=$2; shift 2 ;;
		esac
	done
	shift
	t0=$(ms)
	out=$("$@" 2>&1)
	rc=$?
	dt=$(($(ms) - t0))
	if { [ "$want" = ok ] && [ $rc -ne 0 ]; } ||
	    { [ "$want" = fail ] && [ $rc -eq 0 ]; } ||
	    { [ -n "$match" ] && [[ "$out" != *"$match"* ]]; } ||
	    { [ -n "$within" ] && [ "$dt" -gt "$within" ]; }; then
		say "FAIL: $desc (${dt} ms): $out"
		echo "not ok - storage probe: $desc"
		FAILS=$((FAILS + 1))
		return 1
	fi
	say "pass: $desc (${dt} ms): $out"
	echo "ok - storage probe: $desc (${dt} ms)"
}

# ---------------------------------------------------------------- setup
WORK=$(mktemp -d /tmp/ferry-st-nfs.XXXXXX) || die "mktemp"
chmod 755 "$WORK"
CLI=$WORK/nfsprobe-cli
# shellcheck disable=SC2046
cc -std=gnu11 -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE \
    -I"$REPO/common" -I"$REPO/storage" $(pkg-config --cflags libnfs libiscsi libsystemd json-c) \
    -o "$CLI" "$REPO/tests/lab/nfsprobe-cli.c" "$REPO"/storage/*.c \
    "$REPO/common/log.c" "$REPO/common/clock.c" $(pkg-config --libs libnfs libiscsi libsystemd json-c) -lrbd -lrados -lpthread ||
	die "cannot build nfsprobe-cli"

# A namespace of this name is this script's own, left by a killed run.
ip netns del "$NS" 2>/dev/null
ip link del "$VETH_ROOT" 2>/dev/null
ip netns add "$NS" || die "ip netns add $NS"
ip link add "$VETH_ROOT" type veth peer name "$VETH_NS" || die "veth"
ip link set "$VETH_NS" netns "$NS" || die "veth into $NS"
ip addr add "$ROOT_ADDR/24" dev "$VETH_ROOT"
ip link set "$VETH_ROOT" up
ip netns exec "$NS" ip addr add "$ADDR/24" dev "$VETH_NS"
ip netns exec "$NS" ip link set "$VETH_NS" up
ip netns exec "$NS" ip link set lo up

EXPORT=$WORK/export
mkdir -p "$EXPORT/vm1"
qemu-img create -q -f qcow2 "$EXPORT/vm1/disk.qcow2" 16M || die "qemu-img"
qemu-img create -q -f raw "$EXPORT/vm1/plain.raw" 1M || die "qemu-img"

cat >"$WORK/ganesha.conf" <<EOF
NFS_CORE_PARAM {
	Protocols = 3, 4;
	mount_path_pseudo = true;
	Bind_addr = $ADDR;
	Enable_NLM = false;
	Enable_RQUOTA = false;
}
NFSV4 {
	Graceless = true;
	Lease_Lifetime = 10;
}
NFS_KRB5 {
	Active_krb5 = false;
}
EXPORT {
	Export_Id = 1;
	Path = "$EXPORT";
	Pseudo = "/export";
	Access_Type = RW;
	Squash = No_Root_Squash;
	Protocols = 3, 4;
	Transports = TCP;
	SecType = sys;
	FSAL {
		Name = VFS;
	}
}
LOG {
	Default_Log_Level = EVENT;
}
EOF

# rpcbind and ganesha in a private mount namespace (own /run and
# /var/lib/nfs), children of one shell that waits for them (and so reaps
# them); their pids go to $WORK for cleanup.
mkdir -p /var/lib/nfs
ip netns exec "$NS" unshare --mount --propagation private /bin/sh -ec '
	umount -l /sys; mount -t sysfs sysfs /sys
	mount -t tmpfs -o mode=0755 tmpfs /run
	mkdir -p /run/rpcbind /run/ganesha
	mount -t tmpfs -o mode=0755 tmpfs /var/lib/nfs
	mkdir -p /var/lib/nfs/ganesha
	rpcbind -f -w &
	echo $! >"$1/rpcbind.pid"
	i=0
	while [ ! -S /run/rpcbind.sock ] && [ $i -lt 50 ]; do
		sleep 0.1; i=$((i + 1))
	done
	ganesha.nfsd -F -f "$1/ganesha.conf" -L "$1/ganesha.log" \
	    -N NIV_EVENT -p /run/ganesha/ganesha.pid &
	echo $! >"$1/ganesha.pid"
	wait' sh "$WORK" >"$WORK/server.out" 2>&1 </dev/null &
SHELL_PID=$!
for _ in $(seq 1 50); do
	[ -s "$WORK/ganesha.pid" ] && break
	sleep 0.1
done
SERVER_PID=$(cat "$WORK/ganesha.pid" 2>/dev/null) || die "server did not start"

ready=
for _ in $(seq 1 40); do
	kill -0 "$SERVER_PID" 2>/dev/null || break
	if timeout 3 nfs-ls "nfs://$ADDR/export" >/dev/null 2>&1; then
		ready=1
		break
	fi
	sleep 0.5
done
if [ -z "$ready" ]; then
	tail -n 20 "$WORK/server.out" "$WORK/ganesha.log" 2>/dev/null
	die "ganesha not answering on nfs://$ADDR/export"
fi
say "ganesha (pid $SERVER_PID) serves $EXPORT as nfs://$ADDR/export"

# ---------------------------------------------------------------- checks
expect ok "export mountable (NFSv3)" -- "$CLI" export "$ADDR" /export 3 3000
expect ok "export mountable (NFSv4)" -- "$CLI" export "$ADDR" /export 4 3000
expect fail "unknown export refused" --within 3000 -- \
    "$CLI" export "$ADDR" /no-such-export 3 3000
expect ok "qcow2 magic read" -- \
    "$CLI" file "$ADDR" /export vm1/disk.qcow2 qcow2 3000
expect fail "raw file is no qcow2" --match "no qcow2 magic" -- \
    "$CLI" file "$ADDR" /export vm1/plain.raw qcow2 3000
expect ok "raw file readable" -- \
    "$CLI" file "$ADDR" /export vm1/plain.raw raw 3000
expect fail "missing image" --match "vm1/missing.qcow2" -- \
    "$CLI" file "$ADDR" /export vm1/missing.qcow2 qcow2 3000
expect ok "network disk (QEMU mounts the image's directory)" \
    --match "export /export/vm1 relpath disk.qcow2" -- \
    "$CLI" disk "$ADDR" /export/vm1/disk.qcow2 qcow2 3000

# A nonce written on "this host" straight into the exported directory must
# be what the server serves.
out=$("$CLI" nonce-write "$EXPORT/vm1") || die "nonce-write: $out"
read -r NAME VALUE _ <<<"$out"
say "nonce $NAME written into $EXPORT/vm1"
expect ok "nonce read locally" -- "$CLI" nonce-read "$EXPORT/vm1" "$NAME" "$VALUE"
expect ok "nonce seen through NFSv3" -- \
    "$CLI" nonce-nfs "$ADDR" /export vm1 "$NAME" "$VALUE" 3 3000
expect ok "nonce seen through NFSv4" -- \
    "$CLI" nonce-nfs "$ADDR" /export vm1 "$NAME" "$VALUE" 4 3000
WRONG=$(printf '%s' "$VALUE" | tr 0-9a-f 1-9a-f0)
expect fail "wrong nonce value refused" --match "contents differ" -- \
    "$CLI" nonce-nfs "$ADDR" /export vm1 "$NAME" "$WRONG" 3 3000
expect fail "wrong nonce value refused locally" --match "contents differ" -- \
    "$CLI" nonce-read "$EXPORT/vm1" "$NAME" "$WRONG"
expect ok "nonce removed" -- "$CLI" nonce-remove "$EXPORT/vm1" "$NAME" "$VALUE"
# (Not "removed nonce gone through NFS": ganesha caches entries, and one
# unlinked beneath it, not through NFS, stays visible a while.)
OTHER=$("$CLI" nonce-write "$WORK") || die "nonce-write: $OTHER"
read -r ONAME OVALUE _ <<<"$OTHER"
expect fail "nonce never written there not found through NFS" \
    --match "NOENT" -- \
    "$CLI" nonce-nfs "$ADDR" /export vm1 "$ONAME" "$OVALUE" 3 3000

# A hung server: the TCP stack still accepts, ganesha never answers.
kill -STOP "$SERVER_PID"
expect fail "frozen server: export probe times out" --within 4000 -- \
    "$CLI" export "$ADDR" /export 3 3000
expect fail "frozen server: nonce probe times out" --within 4000 -- \
    "$CLI" nonce-nfs "$ADDR" /export vm1 "$NAME" "$VALUE" 4 3000
expect fail "frozen server: network disk blocked" --within 4000 \
    --match "disk vda: nfs://$ADDR/export/vm1" -- \
    "$CLI" disk "$ADDR" /export/vm1/disk.qcow2 qcow2 3000
kill -CONT "$SERVER_PID"

# An address on the link that nobody answers (no ARP reply).
expect fail "silent address: probe fails within its timeout" --within 2500 -- \
    "$CLI" export 198.18.250.3 /export 3 1500

# A dead server.
kill -TERM "$SERVER_PID"
for _ in $(seq 1 25); do
	kill -0 "$SERVER_PID" 2>/dev/null || break
	sleep 0.2
done
kill -KILL "$SERVER_PID" 2>/dev/null
SERVER_PID=
expect fail "stopped server: export probe fails" --within 4000 -- \
    "$CLI" export "$ADDR" /export 3 3000
expect fail "stopped server: qcow2 probe fails" --within 4000 -- \
    "$CLI" file "$ADDR" /export vm1/disk.qcow2 qcow2 3000

if [ "$FAILS" -ne 0 ]; then
	say "$FAILS check(s) failed"
	exit 1
fi
say "all checks passed"
exit 0
