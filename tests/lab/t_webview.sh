#!/usr/bin/env bash
# The web view in a real browser (issue 17): headless Chromium (Debian's
# chromium and chromium-driver) on the lab's HTTPS API, driven through
# chromedriver's WebDriver API by webview.py. While a migration runs the
# page shows the three hosts and the migrating VM, its progress bar
# advances, and the VM appears under its destination afterwards.
# Screenshots are kept in the test's output directory (printed).
. "$(dirname "$0")/lib.sh"

out=${TEST_OUTDIR:-$(mktemp -d /tmp/ferry-webview.XXXXXX)}
mkdir -p "$out"
trap 'lab vm destroy wv1 > /dev/null 2>&1' EXIT

if [ -z "${FERRY_API:-}" ]; then
	notok "the lab has no HTTPS API (FERRY_API unset)"
	finish
fi
curl -sS -D "$out/headers.txt" -o "$out/index.html" --cacert "$FERRY_CA" "$FERRY_API/"; rc=$?
check "GET / answers" [ $rc = 0 ]
check "the page is HTML" grep -qi '^content-type: text/html' "$out/headers.txt"
check "with a strict Content-Security-Policy" grep -qi "^content-security-policy: default-src 'none'; script-src 'self'" "$out/headers.txt"
check "and no inline script or style" bash -c "! grep -Eqi '<script>|<script [^>]*>[^<]|style=|<style' '$out/index.html'"
check "GET /ferry.js is JavaScript" bash -c "curl -sS -D - -o /dev/null --cacert '$FERRY_CA' '$FERRY_API/ferry.js' | grep -qi '^content-type: text/javascript'"

lab vm create wv1 --host h1 --mem 256 --dirty-mib 16 --dirty-rate 4 > /dev/null
check "wv1 runs on h1" wait_until 30 exactly_one wv1 h1
python3 "$(dirname "$0")/webview.py" wv1 h1 h2 "$out" || FAILED=1
check "wv1 runs on h2 only (libvirt)" wait_until 30 exactly_one wv1 h2
note "artefacts in $out"
finish
