#!/usr/bin/env bash
# The audit trail (issue 17): a migrate, an abort and a maintenance enter
# through ferryctl are recorded with the caller's user name and uid (the
# control socket's SO_PEERCRED), what was asked and the job each started or
# acted on; a refused command is recorded with its refusal; a dry run and
# reads are not recorded.
. "$(dirname "$0")/lib.sh"

tmp=$(mktemp -d)
trap 'lab vm destroy au1 > /dev/null 2>&1; lab vm destroy au2 > /dev/null 2>&1; rm -rf "$tmp"' EXIT
me=$(id -un)
uid=$(id -u)
since=$(date +%s)

lab vm create au1 --host h1 --mem 256 > /dev/null
lab vm create au2 --host h1 --mem 256 --dirty-mib 64 --dirty-rate 32 > /dev/null
check "au1 runs on h1" wait_until 30 exactly_one au1 h1
check "au2 runs on h1" wait_until 30 exactly_one au2 h1
ferryctl migrate au1 --to h2 > /dev/null; rc=$?
check "au1 migrated" [ $rc = 0 ]
mjob=$(ferryctl jobs --json | jq -r '[.[] | select(.vm == "au1")][-1].id')
# A slow one, aborted while it runs.
ajob=$(ferryctl migrate au2 --to h3 --bandwidth 2 --no-wait)
migrating() { ferryctl job "$ajob" --json | jq -e '.job.state == "migrating"' > /dev/null; }
check "au2's migration runs (job $ajob)" wait_until 60 migrating
ferryctl abort "$ajob" > /dev/null; rc=$?
check "abort accepted" [ $rc = 0 ]
ended() { ferryctl job "$ajob" --json | jq -e '.job.ended_ms != null' > /dev/null; }
check "the aborted job ends" wait_until 60 ended
ferryctl abort 999999 > /dev/null 2>&1; rc=$?
check "an abort of no job is refused (exit $rc)" [ $rc = 1 ]
ferryctl maintenance enter h3 --dry-run > /dev/null; rc=$?
check "a dry run plans (exit $rc)" [ $rc = 0 ]
ferryctl maintenance enter h3 --wait > /dev/null; rc=$?
check "h3 enters maintenance" [ $rc = 0 ]
ferryctl maintenance exit h3 > /dev/null; rc=$?
check "h3 leaves maintenance" [ $rc = 0 ]

ferryctl audit --since "@$since" --json > "$tmp/a.json"; rc=$?
check "ferryctl audit --json answers" [ $rc = 0 ]
entry() { jq -c --arg w "$1" "[.[] | select(.what == \$w)]$2" "$tmp/a.json"; }
note "$(jq -c '.[] | [.id, .who, .uid, .what, .outcome, .job_id, .job_state]' "$tmp/a.json" | tr '\n' ' ')"
check "the migrate names $me (uid $uid) and job $mjob" jqe --arg me "$me" --argjson uid "$uid" --argjson j "$mjob" \
    '[.[] | select(.what == "migrate" and .args.vm == "au1")][0] | .via == "ctl" and .who == $me and .uid == $uid and .outcome == "accepted" and .job_id == $j and .job_state == "succeeded" and .args.to == "h2"' "$tmp/a.json"
check "the abort names $me and job $ajob, now rolled back" jqe --arg me "$me" --argjson j "$ajob" \
    '[.[] | select(.what == "abort" and .outcome == "accepted")][0] | .who == $me and .job_id == $j and .job_state == "rolled_back" and .args.id == $j' "$tmp/a.json"
check "the refused abort is recorded with its refusal" jqe --arg me "$me" \
    '[.[] | select(.what == "abort" and .outcome == "refused")][0] | .who == $me and .job_id == null and (.message | test("999999"))' "$tmp/a.json"
check "the maintenance enter names $me and its drain" jqe --arg me "$me" --argjson uid "$uid" \
    '[.[] | select(.what == "maintenance-enter")] | length == 1 and (.[0] | .who == $me and .uid == $uid and .outcome == "accepted" and .args.host == "h3" and (.job_id | type == "number") and .job_state == "completed")' "$tmp/a.json"
check "the maintenance exit is recorded" jqe '[.[] | select(.what == "maintenance-exit")] | length == 1' "$tmp/a.json"
check "the dry run and the reads are not" jqe '[.[] | select(.args.dry_run == true or .what == "audit" or .what == "jobs")] | length == 0' "$tmp/a.json"
ferryctl audit --since "@$since" > "$tmp/a.txt"
check "the table shows the user and the uid" grep -q "$me (uid $uid)" "$tmp/a.txt"
check "and the refusal" grep -q "refused" "$tmp/a.txt"
# Through the HTTPS API (when the lab has it): the token's name, no uid,
# and GET /v1/audit answers what ferryctl audit --json prints.
if [ -n "${FERRY_API:-}" ]; then
	api() { curl -sS --cacert "$FERRY_CA" -H "Authorization: Bearer $1" "${@:2}"; }
	code=$(api "$FERRY_TOKEN" -o "$tmp/r.json" -w '%{http_code}' -X POST "$FERRY_API/v1/jobs/888888/abort")
	check "an API abort of no job is refused ($code)" bash -c "[ '$code' = 404 ] || [ '$code' = 409 ]"
	code=$(api "$FERRY_READ_TOKEN" -o /dev/null -w '%{http_code}' -X POST "$FERRY_API/v1/jobs/888888/abort")
	check "a read token may not act ($code)" [ "$code" = 403 ]
	api "$FERRY_READ_TOKEN" "$FERRY_API/v1/audit?since_ms=$((since * 1000))" > "$tmp/api.json"
	ferryctl audit --since "@$since" --json > "$tmp/ctl.json"
	check "GET /v1/audit is ferryctl audit --json" cmp -s <(jq -S . "$tmp/api.json") <(jq -S . "$tmp/ctl.json")
	check "the API's refusal names its token, via api, no uid" jqe \
	    '[.[] | select(.via == "api" and .what == "abort")] | length == 1 and (.[0] | .outcome == "refused" and (.who | length > 0) and .uid == null and .args.id == 888888 and (.message | test("888888")))' "$tmp/api.json"
	note "API entry: $(jq -c '[.[] | select(.via == "api")][0] | {who, what, outcome, message}' "$tmp/api.json")"
	check "the read token's 403 acted on nothing and is not recorded" jqe '[.[] | select(.via == "api")] | length == 1' "$tmp/api.json"
	code=$(api "" -o /dev/null -w '%{http_code}' "$FERRY_API/v1/audit")
	check "GET /v1/audit without a token: 401 ($code)" [ "$code" = 401 ]
fi
ferryctl audit --since "someday" > /dev/null 2>&1; rc=$?
check "a bad --since is a usage error (exit $rc)" [ $rc = 2 ]
finish
