#!/usr/bin/env bash
# Soak: SOAK_MIGRATIONS (default 200) back-and-forth live migrations of a few
# guests, with hostd's and the coordinator's open file descriptors and
# memory sampled before and after. Growth beyond noise is a leak. Runs in a
# lab brought up by tests/run (or `make soak`).
. "$(dirname "$0")/../lab/lib.sh"

N=${SOAK_MIGRATIONS:-200}
GUESTS=${SOAK_GUESTS:-"sk1 sk2 sk3"}

fds() { ls "/proc/$1/fd" 2> /dev/null | wc -l; }
rss() { awk '/VmRSS/ { print $2 }' "/proc/$1/status"; }
pidof_daemon() { cat "/run/ferry-lab/$LAB_ID/$1.pid"; }
sample() { # label
	local d
	for d in coordinator h1-hostd h2-hostd; do
		p=$(pidof_daemon "$d")
		echo "$1 $d fds=$(fds "$p") rss_kib=$(rss "$p")"
	done
}

for g in $GUESTS; do
	lab vm create "$g" --host h1 --mem 128 --dirty-mib 8 --dirty-rate 2 > /dev/null
done
for g in $GUESTS; do wait_until 20 exactly_one "$g" h1; done
# Warm up (first-use allocations, libvirt caches), then take the baseline.
for g in $GUESTS; do ferryctl migrate "$g" --to h2 > /dev/null; ferryctl migrate "$g" --to h1 > /dev/null; done
before=$(sample before)
echo "$before" | sed 's/^/# /'

done_n=0 failed=0 t0=$(now_ms)
while [ $done_n -lt "$N" ]; do
	for g in $GUESTS; do
		[ $done_n -ge "$N" ] && break
		src=$(on_one_host "$g")
		dst=h2; [ "$src" = h2 ] && dst=h1
		ferryctl migrate "$g" --to "$dst" > /dev/null 2>&1 || failed=$((failed + 1))
		done_n=$((done_n + 1))
	done
done
elapsed=$(( $(now_ms) - t0 ))
after=$(sample after)
echo "$after" | sed 's/^/# /'
note "$N migrations in $((elapsed / 1000)) s, $failed failed"
check "all $N migrations succeeded" [ "$failed" = 0 ]
for g in $GUESTS; do
	check "$g runs on exactly one host" bash -c ". '$REPO/tests/lab/lib.sh'; [ -n \"\$(on_one_host $g)\" ]"
	check "$g's heartbeat never reset" heartbeat_ok "$g"
done
for d in coordinator h1-hostd h2-hostd; do
	b=$(echo "$before" | awk -v d="$d" '$2 == d { sub("fds=", "", $3); sub("rss_kib=", "", $4); print $3, $4 }')
	a=$(echo "$after" | awk -v d="$d" '$2 == d { sub("fds=", "", $3); sub("rss_kib=", "", $4); print $3, $4 }')
	set -- $b $a
	check "$d: file descriptors $1 -> $3 (no growth)" [ $(( $3 - $1 )) -le 2 ]
	# Noise allowance: 8 MiB or 25 %, whichever is larger.
	allow=$(( $2 / 4 > 8192 ? $2 / 4 : 8192 ))
	check "$d: RSS $2 -> $4 KiB (within $allow KiB)" [ $(( $4 - $2 )) -le "$allow" ]
done
for g in $GUESTS; do lab vm destroy "$g" > /dev/null; done
finish
