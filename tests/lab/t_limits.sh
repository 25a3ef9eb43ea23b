#!/usr/bin/env bash
# Pre-authentication limits, as the audit broke them (finding 3): a stranger
# on another machine (h2's namespace) holds 30 idle TCP connections to h1's
# hostd, reopening each as soon as it is closed. h1's session must survive
# it, and a restarted hostd must take the coordinator back within seconds
# (the audit saw h1 stay down for as long as the flood ran).
. "$(dirname "$0")/lib.sh"

all_up() { [ "$(ferryctl hosts --json | jq '[.[] | select(.state == "up")] | length')" = 3 ]; }
h1_down() { [ "$(host_state h1)" = down ]; }
check "three hosts up within 15 s" wait_until 15 all_up

addr=$(ferryctl hosts --json | jq -r '.[] | select(.name == "h1") | .address')
stats=$(mktemp)
stop=$(mktemp -u)
# Runs until $stop exists; prints "opened N closed M" at the end.
ip netns exec "fl$LAB_ID-h2" /usr/bin/python3 - "${addr%:*}" "${addr##*:}" "$stop" > "$stats" 2>&1 <<'PY' &
import os, select, socket, sys, time
host, port, stop = sys.argv[1], int(sys.argv[2]), sys.argv[3]
socks, opened, closed = {}, 0, 0
def dial():
    global opened
    s = socket.socket(); s.setblocking(False)
    try: s.connect((host, port))
    except BlockingIOError: pass
    except OSError: pass
    opened += 1
    return s
for i in range(30):
    s = dial(); socks[s.fileno()] = s
end = time.time() + 120
while not os.path.exists(stop) and time.time() < end:
    r, _, _ = select.select(list(socks.values()), [], [], 0.05)
    for s in r:
        try: data = s.recv(4096)
        except OSError: data = b''
        if data: continue              # hostd's banner: keep holding
        del socks[s.fileno()]; s.close(); closed += 1
        n = dial(); socks[n.fileno()] = n
    time.sleep(0.005)
print("opened", opened, "closed", closed)
PY
flood=$!
sleep 2
check "h1's session survives 30 idle connections from one address" all_up

lab stop h1 hostd > /dev/null
check "h1 goes down when its hostd stops" wait_until 20 h1_down
lab start h1 hostd > /dev/null
t0=$(now_ms)
check "h1 is back up within 20 s while the flood goes on" wait_until 20 all_up
note "h1 up again after $(( $(now_ms) - t0 )) ms"
t0=$(now_ms)
ferryctl hosts > /dev/null
check "ferryctl hosts answers meanwhile ($(( $(now_ms) - t0 )) ms)" [ $(( $(now_ms) - t0 )) -lt 2000 ]
sleep 1
touch "$stop"
wait "$flood"
read -r _ opened _ closed < "$stats"
note "flood: opened $opened connections, hostd closed $closed"
check "hostd turned the surplus away at once (closed $closed)" [ "${closed:-0}" -gt 100 ]
check "hostd logs why, at most once a second" \
	grep -q "refused: too many unauthenticated connections from this address" \
	"/var/lib/ferry-lab/$LAB_ID/h1/hostd.log"
lines=$(grep -c "refused: too many unauthenticated" "/var/lib/ferry-lab/$LAB_ID/h1/hostd.log")
check "... not once per refusal ($lines lines for $closed refusals)" [ "$lines" -lt 60 ]
rm -f "$stats" "$stop"
finish
