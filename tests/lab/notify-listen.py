#!/usr/bin/env python3
"""notify-listen.py: stand in for systemd's NOTIFY_SOCKET around a daemon.

  notify-listen.py --probe unix:PATH|tcp:HOST:PORT --seconds N \
      --watchdog-usec US -- DAEMON ARGS...

Binds a datagram socket, starts DAEMON with NOTIFY_SOCKET and WATCHDOG_USEC
(and WATCHDOG_PID) set, and prints one line per datagram: the time in ms
since the start, whether the probe could connect at that moment, and the
datagram. Also prints "probe-first-ok MS" when the probe first succeeded.
After N seconds sends SIGTERM, keeps listening up to 10 s for the daemon to
exit, prints "exit RC" and exits 0.
"""
import argparse, os, signal, socket, subprocess, sys, tempfile, time

ap = argparse.ArgumentParser()
ap.add_argument("--probe", required=True)
ap.add_argument("--seconds", type=float, default=3)
ap.add_argument("--watchdog-usec", type=int, default=400000)
ap.add_argument("cmd", nargs="+")
a = ap.parse_args()

def probe():
    kind, _, rest = a.probe.partition(":")
    try:
        if kind == "unix":
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(1)
            s.connect(rest)
        else:
            host, _, port = rest.rpartition(":")
            s = socket.create_connection((host, int(port)), timeout=1)
        s.close()
        return "up"
    except OSError:
        return "down"

d = tempfile.mkdtemp(prefix="ferry-notify.")
path = os.path.join(d, "notify")
sk = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sk.bind(path)
sk.settimeout(0.05)
env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC=str(a.watchdog_usec))
t0 = time.monotonic()
ms = lambda: int((time.monotonic() - t0) * 1000)
p = subprocess.Popen(a.cmd, env=env, stdin=subprocess.DEVNULL)
# WATCHDOG_PID must name the daemon; Popen knows it only once it is
# running, so it is not set: sd_watchdog_enabled then accepts any pid.
first_up = None
termed = None
rc = None
while True:
    try:
        data = sk.recv(4096).decode(errors="replace")
        # A connection per ping would be a flood; the rest are probed.
        print(ms(), "-" if data == "WATCHDOG=1" else probe(), repr(data),
              flush=True)
    except socket.timeout:
        pass
    if first_up is None and probe() == "up":
        first_up = ms()
        print("probe-first-ok", first_up, flush=True)
    if termed is None and time.monotonic() - t0 >= a.seconds:
        p.send_signal(signal.SIGTERM)
        termed = ms()
    if termed is not None:
        rc = p.poll()
        if rc is not None or ms() - termed > 10000:
            break
# Anything sent just before the exit.
sk.settimeout(0.2)
try:
    while True:
        print(ms(), "-", repr(sk.recv(4096).decode(errors="replace")), flush=True)
except socket.timeout:
    pass
if rc is None:
    p.kill()
    rc = p.wait()
print("exit", rc, flush=True)
os.unlink(path)
os.rmdir(d)
