#!/usr/bin/env bash
# The coordinator's HTTPS API in the lab (lab up configures it with a lab
# CA; lab env gives FERRY_API, FERRY_CA, FERRY_TOKEN, FERRY_READ_TOKEN):
# every resource answers with the JSON ferryctl --json prints for the same
# object; a migration started by POST /v1/migrations streams its progress
# over Server-Sent Events and succeeds (the VM on exactly one host, asked
# of libvirt), the stream resumes with Last-Event-ID; the same migration
# POSTed again is a 409; 401/403/400/404/413; a slow client, huge headers
# and too many connections are cut; every answer is checked against the
# OpenAPI document.
. "$(dirname "$0")/lib.sh"

tmp=$(mktemp -d)
sse_pid=
cleanup() {
	[ -n "$sse_pid" ] && kill "$sse_pid" 2> /dev/null
	lab vm destroy api1 > /dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT

: "${FERRY_API:?lab env gives FERRY_API}" "${FERRY_CA:?}" "${FERRY_TOKEN:?}" "${FERRY_READ_TOKEN:?}"
# api METHOD PATH TOKEN [BODY]: the status on stdout, the body in $tmp/out
# (and kept as $tmp/aN for the OpenAPI check, listed under TEMPLATE).
api() {
	local auth=() data=()
	[ -n "$3" ] && auth=(-H "Authorization: Bearer $3")
	[ $# -ge 4 ] && data=(-H 'Content-Type: application/json' --data-binary "$4")
	curl -sS --max-time 30 --cacert "$FERRY_CA" -o "$tmp/out" -w '%{http_code}' \
		-X "$1" "${auth[@]}" "${data[@]}" "$FERRY_API$2"
}
# seen TEMPLATE METHOD STATUS: records the last answer for api_schema.py.
seen() {
	n=$(($(cat "$tmp/seen" 2> /dev/null | wc -l) + 1))
	cp "$tmp/out" "$tmp/a$n"
	echo "$2 $1 $3 $tmp/a$n" >> "$tmp/seen"
}
# call METHOD PATH TEMPLATE TOKEN [BODY]: api + seen; prints the status.
call() {
	local st
	st=$(api "$1" "$2" "${@:4}")
	seen "$3" "$1" "$st"
	echo "$st"
}
# same DESC FILTER A B: the two JSON documents agree once FILTER is applied.
same() {
	if diff <(jq -S "$2" "$3") <(jq -S "$2" "$4") > "$tmp/diff"; then
		ok "$1"
	else
		notok "$1"
		head -20 "$tmp/diff" | sed 's/^/# /'
	fi
}
errcode() { jq -r .error.code "$tmp/out" 2> /dev/null; }

# --- the shapes: each resource against ferryctl --json of the same object ---
lab vm create api1 --host h1 --mem 256 --dirty-mib 32 --dirty-rate 8 > /dev/null
wait_until 15 exactly_one api1 h1
check "lab env's CA verifies the API's certificate (TLS only)" \
	[ "$(call GET /v1/hosts /v1/hosts "$FERRY_READ_TOKEN")" = 200 ]
ferryctl hosts --json > "$tmp/ctl"
# last_seen_ms and free memory move between the two calls
same "GET /v1/hosts is ferryctl hosts --json" 'map(del(.last_seen_ms, .mem_free_mib))' "$tmp/out" "$tmp/ctl"
check "plain HTTP is not served" bash -c "! curl -s --max-time 5 http://${FERRY_API#https://}/v1/hosts -o /dev/null -w '%{http_code}' | grep -q 200"

check "GET /v1/vms answers" [ "$(call GET /v1/vms /v1/vms "$FERRY_READ_TOKEN")" = 200 ]
ferryctl vms --json > "$tmp/ctl"
same "GET /v1/vms is ferryctl vms --json" 'sort_by(.host, .name)' "$tmp/out" "$tmp/ctl"
check "GET /v1/vms?host=h1 lists api1 on h1" \
	bash -c "[ \"\$(curl -sS --cacert $FERRY_CA -H 'Authorization: Bearer $FERRY_READ_TOKEN' '$FERRY_API/v1/vms?host=h1' | jq -r 'map(select(.name == \"api1\")) | .[0].host')\" = h1 ]"

check "POST /v1/checks answers 200" \
	[ "$(call POST /v1/checks /v1/checks "$FERRY_TOKEN" '{"vm":"api1","to":"h2","bandwidth_mib":20}')" = 200 ]
ferryctl check api1 --to h2 --bandwidth 20 --json > "$tmp/ctl"
same "POST /v1/checks is ferryctl check --json (names, verdicts, keys)" \
	'{vm, source, destination, ok, checks: [.checks[] | {name, ok, k: keys}]}' "$tmp/out" "$tmp/ctl"
# The wire's options, as ferryctl check --parallel/--no-tls takes them.
check "POST /v1/checks with parallel and tls answers 200" \
	[ "$(call POST /v1/checks /v1/checks "$FERRY_TOKEN" '{"vm":"api1","to":"h2","parallel":2,"tls":false}')" = 200 ]
ferryctl check api1 --to h2 --parallel 2 --no-tls --json > "$tmp/ctl"
same "... the same verdicts as ferryctl check --parallel 2 --no-tls" \
	'{vm, destination, ok, checks: [.checks[] | {name, ok}]}' "$tmp/out" "$tmp/ctl"
st=$(call POST /v1/checks /v1/checks "$FERRY_TOKEN" '{"vm":"api1","to":"h2","parallel":99}')
check "parallel 99: 400 naming the field and its range ($st: $(jq -c .error.message "$tmp/out"))" \
	bash -c "[ $st = 400 ] && jq -r .error.message $tmp/out | grep -q \"'parallel'\""
st=$(call POST /v1/migrations /v1/migrations "$FERRY_TOKEN" '{"vm":"api1","to":"h2","postcopy":"sometimes"}')
check "postcopy \"sometimes\": 400 listing the modes ($st)" \
	bash -c "[ $st = 400 ] && jq -r .error.message $tmp/out | grep -q 'never'"

check "maintenance enter dry_run answers 200" \
	[ "$(call POST /v1/hosts/h1/maintenance /v1/hosts/{name}/maintenance "$FERRY_TOKEN" '{"action":"enter","dry_run":true}')" = 200 ]
ferryctl maintenance enter h1 --dry-run --json > "$tmp/ctl"
same "maintenance dry run is ferryctl maintenance enter --dry-run --json" 'del(.id)' "$tmp/out" "$tmp/ctl"
check "h1 is still active after the dry run" [ "$(host_admin h1)" = active ]
st=$(call POST /v1/hosts/h1/maintenance /v1/hosts/{name}/maintenance "$FERRY_TOKEN" '{"action":"cancel"}')
check "maintenance cancel with nothing to cancel: 409 ($st)" [ "$st" = 409 ]
msg=$(jq -r .error.message "$tmp/out")
ferryctl maintenance cancel h1 > /dev/null 2> "$tmp/ctl"
check "its message is ferryctl's ($msg)" grep -qF "$msg" "$tmp/ctl"
check "maintenance exit of an active host answers" \
	[ "$(call POST /v1/hosts/h3/maintenance /v1/hosts/{name}/maintenance "$FERRY_TOKEN" '{"action":"exit"}')" = 200 ]

check "GET /v1/rebalance/plan answers 200" \
	[ "$(call GET '/v1/rebalance/plan?max_moves=1' /v1/rebalance/plan "$FERRY_READ_TOKEN")" = 200 ]
ferryctl rebalance --max-moves 1 --json > "$tmp/ctl"
same "the plan is ferryctl rebalance --json (moves, keys)" '{moves, k: keys}' "$tmp/out" "$tmp/ctl"

# --- a migration over the API, followed on the event stream --------------
curl -sS -N --cacert "$FERRY_CA" -H "Authorization: Bearer $FERRY_READ_TOKEN" \
	-H 'Last-Event-ID: 0' "$FERRY_API/v1/events" > "$tmp/sse" 2> "$tmp/sse.err" &
sse_pid=$!
st=$(call POST /v1/migrations /v1/migrations "$FERRY_TOKEN" '{"vm":"api1","to":"h2","bandwidth_mib":15}')
cp "$tmp/out" "$tmp/job.json"
st2=$(call POST /v1/migrations /v1/migrations "$FERRY_TOKEN" '{"vm":"api1","to":"h3"}')
check "POST /v1/migrations answers 202 with the job" [ "$st" = 202 ]
job=$(jq -r .id "$tmp/job.json")
check "the job names api1, h1 -> h2" jqe '.vm == "api1" and .source == "h1" and .destination == "h2" and .kind == "migrate"' "$tmp/job.json"
check "the same VM POSTed again while it moves: 409 ($st2)" [ "$st2" = 409 ]
check "the 409 says the VM has a job in flight" bash -c "jq -r .error.message $tmp/out | grep -q 'in flight'"
ferryctl watch "$job" --json > "$tmp/watch" &
watch_pid=$!
done_in_sse() { grep '^data: ' "$tmp/sse" | sed 's/^data: //' | jq -e --argjson j "$job" 'select(.job == $j and .event == "done")' > /dev/null 2>&1; }
if wait_until 90 done_in_sse; then
	ok "the event stream brings the job's done event"
else
	notok "the event stream brings the job's done event"
	echo "# the stream: $(grep -c '^id: ' "$tmp/sse") events, curl $(kill -0 "$sse_pid" 2> /dev/null && echo running || echo gone): $(tail -c 200 "$tmp/sse.err")"
fi
wait "$watch_pid"
grep '^data: ' "$tmp/sse" | sed 's/^data: //' | jq -c --argjson j "$job" 'select(.job == $j)' > "$tmp/events"
np=$(jq -s 'map(select(.event == "progress")) | length' "$tmp/events")
check "at least 3 progress events over SSE ($np)" [ "$np" -ge 3 ]
# The body's bandwidth_mib reached QEMU: no sample beats the cap (QEMU's
# own rate; 20 % for its sampling), and some came near it.
fast=$(jq -s '[.[] | select(.event == "progress") | .mib_per_s // 0] | max // 0' "$tmp/events")
check "bandwidth_mib 15 held: the fastest sample $fast MiB/s, 5-18" \
	jq -n -e "$fast >= 5 and $fast <= 18"
check "the done event says succeeded, running on h2" \
	jqe -s 'map(select(.event == "done"))[0] | .state == "succeeded" and .running_on == "h2"' "$tmp/events"
check "api1 runs on h2 only (libvirt and Ferry agree)" wait_until 10 exactly_one api1 h2
same "SSE progress events have ferryctl watch --json's keys" \
	'map(select(.event == "progress") | keys) | unique' <(jq -s . "$tmp/events") <(jq -s . "$tmp/watch")
same "the SSE done event is ferryctl watch --json's" \
	'map(select(.event == "done")) | .[0] | del(.elapsed_ms)' <(jq -s . "$tmp/events") <(jq -s . "$tmp/watch")
ids=$(grep '^id: ' "$tmp/sse" | sed 's/^id: //' | tr '\n' ' ')
check "event ids increase" bash -c "echo '$ids' | tr ' ' '\n' | grep . | sort -n -c"
mid=$(grep '^id: ' "$tmp/sse" | sed -n 3p | sed 's/^id: //')
curl -sS -N --max-time 3 --cacert "$FERRY_CA" -H "Authorization: Bearer $FERRY_READ_TOKEN" \
	-H "Last-Event-ID: $mid" "$FERRY_API/v1/events" > "$tmp/sse2" 2> /dev/null
check "resumed with Last-Event-ID $mid: the next is $((mid + 1))" \
	[ "$(grep '^id: ' "$tmp/sse2" | head -1 | sed 's/^id: //')" = $((mid + 1)) ]
kill "$sse_pid" 2> /dev/null
sse_pid=
# The stream's answer, for the document check.
printf '""' > "$tmp/out"
seen /v1/events GET 200

check "GET /v1/jobs answers" [ "$(call GET /v1/jobs /v1/jobs "$FERRY_READ_TOKEN")" = 200 ]
ferryctl jobs --json > "$tmp/ctl"
same "GET /v1/jobs is ferryctl jobs --json" '.' "$tmp/out" "$tmp/ctl"
check "GET /v1/jobs/ID answers" [ "$(call GET "/v1/jobs/$job" /v1/jobs/{id} "$FERRY_READ_TOKEN")" = 200 ]
ferryctl job "$job" --json > "$tmp/ctl"
same "GET /v1/jobs/ID is ferryctl job ID --json, with its history" '.' "$tmp/out" "$tmp/ctl"
check "the history has every state in order" \
	jqe '[.history[] | select(.type == "state") | .state] == ["pending", "checking", "migrating", "verifying", "succeeded"]' "$tmp/out"
st=$(call POST "/v1/jobs/$job/abort" /v1/jobs/{id}/abort "$FERRY_TOKEN")
check "aborting a finished job: 404 or 409 ($st), with the reason" \
	bash -c "[ '$st' = 409 ] || [ '$st' = 404 ]"

# --- refusals -------------------------------------------------------------
st=$(call GET /v1/hosts /v1/hosts ""); check "no token: 401 ($st)" [ "$st" = 401 ]
check "401 is a JSON error" [ "$(errcode)" = unauthorized ]
st=$(call GET /v1/hosts /v1/hosts "fy_$(printf '0%.0s' {1..64})"); check "unknown token: 401 ($st)" [ "$st" = 401 ]
st=$(call POST /v1/migrations /v1/migrations "$FERRY_READ_TOKEN" '{"vm":"api1","to":"h1"}')
check "a read token that acts: 403 ($st)" [ "$st" = 403 ]
st=$(call POST /v1/migrations /v1/migrations "$FERRY_TOKEN" '{"vm": 12}'); check "a bad body: 400 ($st)" [ "$st" = 400 ]
check "400 says which field" bash -c "jq -r .error.message $tmp/out | grep -q \"'vm'\""
st=$(call POST /v1/migrations /v1/migrations "$FERRY_TOKEN" 'not json'); check "not JSON: 400 ($st)" [ "$st" = 400 ]
st=$(call GET /v1/jobs/999999 /v1/jobs/{id} "$FERRY_READ_TOKEN"); check "no such job: 404 ($st)" [ "$st" = 404 ]
st=$(call POST /v1/migrations /v1/migrations "$FERRY_TOKEN" '{"vm":"no-such-vm"}'); check "no such VM: 404 ($st)" [ "$st" = 404 ]
st=$(call POST /v1/hosts/h9/maintenance /v1/hosts/{name}/maintenance "$FERRY_TOKEN" '{"action":"enter"}')
check "no such host: 404 ($st)" [ "$st" = 404 ]
head -c 200000 /dev/zero | tr '\0' ' ' > "$tmp/big"
st=$(curl -sS --cacert "$FERRY_CA" -o "$tmp/out" -w '%{http_code}' -H "Authorization: Bearer $FERRY_TOKEN" \
	-H 'Content-Type: application/json' --data-binary @"$tmp/big" "$FERRY_API/v1/migrations")
seen /v1/migrations POST "$st"
check "a 200 KB body: 413 ($st)" [ "$st" = 413 ]
check "413 is a JSON error" [ "$(errcode)" = too_large ]
st=$(call GET /v1/openapi.json /v1/openapi.json "")
check "GET /v1/openapi.json needs no token ($st)" [ "$st" = 200 ]
cp "$tmp/out" "$tmp/openapi.json"

# A rebalance applied (last: it may move VMs); 202 and the plan.
st=$(call POST /v1/rebalance/apply /v1/rebalance/apply "$FERRY_TOKEN" '{"max_moves":1}')
check "POST /v1/rebalance/apply: 202 ($st)" [ "$st" = 202 ]

# --- rude clients -----------------------------------------------------------
addr=${FERRY_API#https://}
host=${addr%:*}
port=${addr##*:}
rude() {
	python3 - "$host" "$port" "$FERRY_CA" "$1" << 'EOF'
import socket, ssl, sys, time
host, port, ca, what = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)
def conn():
    s = socket.create_connection((host, port), timeout=30)
    return ctx.wrap_socket(s, server_hostname=host)
if what == "slow":
    # Half a request, then silence: cut within the idle timeout (5 s).
    s = conn()
    s.sendall(b"GET /v1/hosts HTTP/1.1\r\nHost: x\r\n")
    t = time.monotonic()
    try:
        data = s.recv(1024)
    except (ssl.SSLError, OSError):
        data = b""
    print("cut after %.1f s" % (time.monotonic() - t), file=sys.stderr)
    sys.exit(0 if time.monotonic() - t < 12 and not data.startswith(b"HTTP/1.1 200") else 1)
if what == "headers":
    # 64 KiB of headers: refused (431) or cut, never served.
    s = conn()
    try:
        s.sendall(b"GET /v1/hosts HTTP/1.1\r\nHost: x\r\n" + b"X-Junk: " + b"a" * 65536 + b"\r\n\r\n")
    except (ssl.SSLError, OSError):
        pass	# cut while sending: refused too
    try:
        data = s.recv(1024)
    except (ssl.SSLError, OSError):
        data = b""
    print(data[:40], file=sys.stderr)
    sys.exit(0 if not data.startswith(b"HTTP/1.1 200") else 1)
if what == "many":
    # More connections than one address may hold (16): the extra ones are
    # refused; once they go, the API answers again.
    held, refused = [], 0
    for i in range(24):
        try:
            c = conn()
            c.sendall(b"GET /v1/openapi.json HTTP/1.1\r\nHost: x\r\n")  # half: held open
            held.append(c)
        except (ssl.SSLError, OSError):
            refused += 1
    print("held %d refused %d" % (len(held), refused), file=sys.stderr)
    for c in held:
        c.close()
    sys.exit(0 if refused >= 8 and len(held) <= 16 else 1)
EOF
}
check "a slow client (half a request) is cut" rude slow
check "huge headers are refused, not served" rude headers
check "too many connections from one address are refused" rude many
check "the API answers again afterwards" wait_until 10 bash -c "[ \"\$(curl -sS --cacert $FERRY_CA -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $FERRY_READ_TOKEN' $FERRY_API/v1/hosts)\" = 200 ]"

# --- every answer above against the OpenAPI document -------------------------
/usr/bin/python3 "$(dirname "$0")/api_schema.py" "$tmp/openapi.json" "$tmp/seen" | grep -v '^ok - openapi: .* matches its schema$' || true
check "every answer above matches the OpenAPI document" /usr/bin/python3 "$(dirname "$0")/api_schema.py" "$tmp/openapi.json" "$tmp/seen" > /dev/null

# Whatever the rebalance moved is done before the lab is used again.
settled() { ! ferryctl jobs --json | jq -e 'map(select(.ended_ms == null)) | length > 0' > /dev/null; }
wait_until 60 settled
finish
