#!/bin/sh
# Install every Debian 12 package Ferry's build, tests and lab need.
# Idempotent: asks apt only for what is missing. clang and libclang-rt-dev
# (libFuzzer, only recommended by clang) are for tests/fuzz; faketime
# (libfaketime) for the lab's stepped wall clock (lab up --faketime);
# postgresql/libpq for the HA store, libmicrohttpd/GnuTLS for the HTTPS
# API, gnutls-bin (certtool) for the lab's PKI, prometheus for promtool,
# chromium for the web view's browser test, python3-jsonschema to validate
# every ferryctl --json output against docs/schema/ (tests/lab/t_json.sh)
# and the API's answers against its OpenAPI document (t_api); nettle-dev
# (GnuTLS's crypto library: the API's constant-time token comparison).
set -eu

PKGS="build-essential pkg-config gcc make
libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients libvirt-dev
qemu-system-x86 qemu-utils qemu-block-extra
nfs-ganesha nfs-ganesha-vfs rpcbind libnfs-utils libnfs-dev
libssh-dev openssh-client libprotobuf-c-dev protobuf-c-compiler libuv1-dev
libcmocka-dev libsqlite3-dev sqlite3 libconfig-dev libjson-c-dev libxml2-dev libsystemd-dev jq python3 python3-jsonschema
clang libclang-rt-dev
mandoc groff-base man-db
iproute2 cpio busybox-static procps psmisc util-linux kmod systemd
glusterfs-server glusterfs-client nftables tgt libiscsi-dev faketime
librbd-dev librados-dev ceph-mon ceph-osd ceph-common
postgresql libpq-dev libmicrohttpd-dev libgnutls28-dev gnutls-bin prometheus
nettle-dev
chromium chromium-driver fonts-dejavu-core"
# deps.sh --packaging: also what building and checking the .debs needs
# (make check-packages).
if [ "${1:-}" = --packaging ]; then
	PKGS="$PKGS dpkg-dev debhelper fakeroot lintian"
fi

# One dpkg-query for all: every plain `make` runs this.
# shellcheck disable=SC2086
installed=$(dpkg-query -W -f='${Package} ${Status}\n' $PKGS 2>/dev/null |
	awk '$NF == "installed" { printf " %s", $1 } END { print " " }')
missing=""
for p in $PKGS; do
	case "$installed" in
	*" $p "*) ;;
	*) missing="$missing $p" ;;
	esac
done
if [ -z "$missing" ]; then
	echo "deps: all packages present"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing:$missing; run 'make deps' as root" >&2
	exit 1
fi
echo "deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
