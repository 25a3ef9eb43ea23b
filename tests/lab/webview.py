#!/usr/bin/env python3
"""webview.py: drives Debian's headless Chromium through chromedriver's
WebDriver HTTP API (python3's standard library only) against the lab's
web view while a real migration runs. Run by t_webview.sh, which made the
guest; prints "ok - ..." / "not ok - ..." lines and exits 1 on a failure.

  webview.py VM SOURCE DEST OUTDIR

Environment: FERRY_API, FERRY_CA, FERRY_TOKEN (the lab's env)."""
import base64
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

failed = False


def ok(desc, cond):
    global failed
    print(("ok - " if cond else "not ok - ") + desc, flush=True)
    if not cond:
        failed = True
    return cond


def note(msg):
    print("# " + msg, flush=True)


class Driver:
    """The few WebDriver calls the test needs."""

    def __init__(self, port):
        self.base = "http://127.0.0.1:%d" % port
        self.sid = None

    def call(self, method, path, body=None, timeout=60):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data,
                                     method=method)
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read().decode() or "{}").get("value")

    def session(self, args):
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": "/usr/bin/chromium",
                                   "args": args},
            "goog:loggingPrefs": {"browser": "ALL"},
        }}}
        v = self.call("POST", "/session", caps, timeout=90)
        self.sid = v["sessionId"]

    def s(self, method, path, body=None):
        return self.call(method, "/session/%s%s" % (self.sid, path), body)

    def js(self, script, *args):
        return self.s("POST", "/execute/sync",
                      {"script": script, "args": list(args)})

    def screenshot(self, path):
        png = base64.b64decode(self.s("GET", "/screenshot"))
        with open(path, "wb") as f:
            f.write(png)
        return len(png)

    def logs(self):
        try:
            return self.s("POST", "/se/log", {"type": "browser"}) or []
        except Exception:  # not every chromedriver keeps the legacy call
            return []

    def quit(self):
        if self.sid:
            try:
                self.call("DELETE", "/session/" + self.sid, timeout=20)
            except Exception:
                pass


def wait(pred, secs, step=0.25):
    end = time.monotonic() + secs
    while True:
        try:
            v = pred()
        except Exception:
            v = None
        if v:
            return v
        if time.monotonic() >= end:
            return v
        time.sleep(step)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spki_hash(api):
    """The SPKI sha256 of the server's certificate, for Chromium's
    --ignore-certificate-errors-spki-list: it trusts that key only (the
    lab CA is not in Chromium's store, and no other error is ignored)."""
    host = api.split("://", 1)[1].rstrip("/")
    pem = subprocess.run(
        "openssl s_client -connect %s -servername ferry </dev/null 2>/dev/null"
        " | openssl x509 -pubkey -noout | openssl pkey -pubin -outform der"
        " | openssl dgst -sha256 -binary | base64" % host,
        shell=True, capture_output=True, text=True, timeout=30)
    return pem.stdout.strip()


def ferryctl(*args):
    return subprocess.run(["ferryctl"] + list(args), capture_output=True,
                          text=True, timeout=60)


def main():
    vm, src, dst, outdir = sys.argv[1:5]
    api = os.environ["FERRY_API"]
    token = os.environ["FERRY_TOKEN"]
    os.makedirs(outdir, exist_ok=True)
    port = free_port()
    log = open(os.path.join(outdir, "chromedriver.log"), "w")
    cd = subprocess.Popen(["chromedriver", "--port=%d" % port],
                          stdout=log, stderr=subprocess.STDOUT)
    d = Driver(port)
    try:
        if not ok("chromedriver listens", wait(
                lambda: d.call("GET", "/status", timeout=5)["ready"], 20)):
            return
        spki = spki_hash(api)
        ok("the coordinator's certificate key is pinned for Chromium",
           len(spki) == 44)
        d.session(["--headless=new", "--no-sandbox", "--disable-gpu",
                   "--disable-dev-shm-usage", "--window-size=1400,1000",
                   "--user-data-dir=" + os.path.join(outdir, "profile"),
                   "--ignore-certificate-errors-spki-list=" + spki])
        # The token in the fragment: never sent to the server.
        d.s("POST", "/url", {"url": api + "/#token=" + token})
        ok("the page loads over HTTPS (title %r)" % d.js("return document.title;"),
           d.js("return document.title;") == "Ferry")
        ok("the token left the address bar",
           wait(lambda: d.js("return location.hash === '' && "
                             "sessionStorage.getItem('ferry-token') !== null;"), 10))
        hosts = wait(lambda: d.js(
            "const h = [...document.querySelectorAll('[data-host]')]"
            ".map(e => e.dataset.host); return h.length === 3 ? h : null;"), 30)
        ok("the page shows the three hosts: %s" % hosts,
           hosts is not None and sorted(hosts) == ["h1", "h2", "h3"])
        under = ("return !!document.querySelector("
                 "'[data-host=\"' + arguments[0] + '\"] li[data-vm=\"' + arguments[1] + '\"]');")
        ok("%s is listed under %s" % (vm, src),
           wait(lambda: d.js(under, src, vm), 30))

        r = ferryctl("migrate", vm, "--to", dst, "--bandwidth", "6",
                     "--no-wait")
        job = r.stdout.strip()
        if not ok("migration of %s started (job %s)" % (vm, job),
                  r.returncode == 0 and job.isdigit()):
            note(r.stderr)
            return
        bar = ("const p = document.querySelector('#migrations tr[data-job=\"'"
               " + arguments[0] + '\"] progress'); return p ? p.value : null;")
        row_vm = ("const r = document.querySelector('#migrations tr[data-job=\"'"
                  " + arguments[0] + '\"]'); return r ? r.cells[1].textContent : null;")
        ok("the migrating VM is shown among the migrations",
           wait(lambda: d.js(row_vm, job) == vm, 30))
        seen = []
        t_end = time.monotonic() + 60
        while time.monotonic() < t_end:
            v = d.js(bar, job)
            if v is None and seen:
                break           # ended meanwhile
            if v is not None and (not seen or v != seen[-1]):
                seen.append(v)
            if len(seen) >= 3 and seen[-1] > seen[0]:
                break
            time.sleep(0.3)
        note("progress bar values seen: %s" % seen)
        ok("its progress bar advances (%s -> %s %%)" %
           (seen[0] if seen else "-", seen[-1] if seen else "-"),
           len(seen) >= 2 and seen[-1] > seen[0])
        rate = d.js("const r = document.querySelector('#migrations tr[data-job=\"'"
                    " + arguments[0] + '\"]'); return r ? r.cells[6].textContent : null;", job)
        ok("it shows the transfer rate (%s)" % rate,
           rate is not None and "MiB/s" in rate)
        shot = os.path.join(outdir, "webview-migrating.png")
        n = d.screenshot(shot)
        ok("screenshot kept: %s (%d bytes)" % (shot, n), n > 1000)

        def ended():
            j = json.loads(ferryctl("job", job, "--json").stdout)
            return j["job"].get("ended_ms") and j["job"]["state"]
        st = wait(ended, 120, 1)
        ok("the migration ends: %s" % st, st == "succeeded")
        ok("%s appears under %s afterwards" % (vm, dst),
           wait(lambda: d.js(under, dst, vm) and not d.js(under, src, vm), 30))
        ok("the migration leaves the running list",
           wait(lambda: d.js(bar, job) is None, 30))
        hist = wait(lambda: d.js(
            "const r = document.querySelector('#history tr[data-job=\"'"
            " + arguments[0] + '\"]'); return r && /\\d+ ms/.test(r.cells[8].textContent)"
            " ? r.cells[8].textContent : null;", job), 30)
        ok("the history shows its downtime (%s)" % hist, hist is not None)
        shot = os.path.join(outdir, "webview-after.png")
        n = d.screenshot(shot)
        ok("screenshot kept: %s (%d bytes)" % (shot, n), n > 1000)
        bad = [e for e in d.logs() if e.get("level") == "SEVERE" and
               ("Content Security Policy" in e.get("message", "") or
                "Uncaught" in e.get("message", ""))]
        for e in bad:
            note("console: " + e.get("message", ""))
        ok("no script error or CSP violation in the console", not bad)
    except Exception as e:  # a WebDriver call that failed
        ok("the browser session ran (%s: %s)" % (type(e).__name__, e), False)
    finally:
        d.quit()
        cd.terminate()
        try:
            cd.wait(10)
        except subprocess.TimeoutExpired:
            cd.kill()
        log.close()


main()
sys.exit(1 if failed else 0)
