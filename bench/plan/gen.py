#!/usr/bin/env python3
"""Generates a Ferry snapshot of a given size, deterministically from a seed.

    gen.py --hosts N --vms M [--seed S] [--constraints] > snapshot.json

Hosts come in three hardware classes; VMs in common flavours. Placement is
skewed on purpose (a few hot hosts, many cool ones), as clusters drift after
host additions and uneven scheduling, while every host stays within its
memory and a vCPU ratio of 4. --constraints adds what the planner must
respect (pinned VMs, anti-affinity and affinity groups, a host down);
without it the cluster is one hbal can plan too.
"""
import argparse
import json
import random
import sys

HOST_CLASSES = [  # mem_mib, reserved_mib, cpus, weight
    (262144, 8192, 48, 5),
    (393216, 8192, 64, 3),
    (524288, 16384, 96, 2),
]
FLAVOURS = [  # mem_mib, vcpus, weight
    (2048, 1, 4), (4096, 2, 6), (8192, 2, 5), (8192, 4, 4),
    (16384, 4, 3), (16384, 8, 2), (32768, 8, 1),
]
VCPU_RATIO = 4.0


def pick(rng, items):
    total = sum(i[-1] for i in items)
    r = rng.uniform(0, total)
    for i in items:
        r -= i[-1]
        if r <= 0:
            return i
    return items[-1]


def generate(nhosts, nvms, seed, constraints):
    rng = random.Random(seed)
    hosts = []
    for i in range(nhosts):
        mem, res, cpus, _ = pick(rng, HOST_CLASSES)
        hosts.append({"name": "n%04d" % i, "mem_mib": mem,
                      "reserved_mib": res, "cpus": cpus, "state": "up"})
    # Enough memory for the VMs at about 60% utilisation on average.
    used = [h["reserved_mib"] for h in hosts]
    vcpu = [0] * nhosts
    weight = [rng.paretovariate(1.5) for _ in hosts]
    down = set()
    if constraints and nhosts >= 4:
        down.add(nhosts - 1)
    vms = []
    for j in range(nvms):
        mem, vcpus, _ = pick(rng, FLAVOURS)
        for _ in range(1000):
            h = rng.choices(range(nhosts), weights=weight)[0]
            if (used[h] + mem <= hosts[h]["mem_mib"] * 0.97 and
                    vcpu[h] + vcpus <= VCPU_RATIO * hosts[h]["cpus"]):
                break
        else:
            h = min(range(nhosts), key=lambda k: used[k] / hosts[k]["mem_mib"])
        used[h] += mem
        vcpu[h] += vcpus
        vms.append({"name": "v%05d" % j, "host": hosts[h]["name"],
                    "mem_mib": mem, "vcpus": vcpus})
    if constraints:
        for h in down:
            hosts[h]["state"] = "maintenance"
        for v in vms:
            r = rng.random()
            if r < 0.03:
                v["pinned"] = True
            elif r < 0.13:
                v["groups"] = ["anti:svc%d" % rng.randrange(max(1, nvms // 30))]
        # Affinity pairs among VMs that already share a host.
        byhost = {}
        for v in vms:
            if not v.get("pinned") and not v.get("groups"):
                byhost.setdefault(v["host"], []).append(v)
        k = 0
        for h in sorted(byhost):
            if len(byhost[h]) >= 2 and rng.random() < 0.3:
                for v in byhost[h][:2]:
                    v["groups"] = ["affinity:pair%d" % k]
                k += 1
    return {"hosts": hosts, "vms": vms}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, required=True)
    ap.add_argument("--vms", type=int, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--constraints", action="store_true")
    a = ap.parse_args()
    json.dump(generate(a.hosts, a.vms, a.seed, a.constraints), sys.stdout,
              indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
