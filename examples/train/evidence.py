#!/usr/bin/env python3
"""evidence.py - the method's evidence on a Market-layout set: every sampler
(and its control), seeds, C trainer (and the PyTorch twin with --torch),
mean +- std per configuration.

  python3 examples/train/evidence.py --data /tmp/glyphs --seeds 1,2,3 --jobs 2 \
      --steps 1000 --out evidence.csv [--torch] [--set main|policies|all]

Each run is build/train --data DIR --sampler S --seed K --threads 1 (the
trainer's --data defaults: res18 x0.25, 64x32), --jobs runs side by side.
Rows go to --out as they finish (a stopped run keeps what it finished); a
configuration already in --out with that seed is not run again.
"""
import argparse
import csv
import os
import re
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# name -> sampler arguments; each hardness mode beside its control
MAIN = [
    ("shuffle", "--sampler shuffle"),          # the conventional loader
    ("hardepoch", "--sampler hardepoch"),      # control: shuffle
    ("pk", "--sampler pk"),
    ("hardpk", "--sampler hardpk"),            # control: pk
    ("uniform-prop", "--sampler uniform-prop"),
    ("prop", "--sampler prop"),                # control: uniform-prop (mode B)
    ("hard", "--sampler hard"),                # mode A: its other images are uniform (control: shuffle)
]
POLICIES = [
    ("hardpk R=10", "--sampler hardpk --refresh 10"),
    ("hardpk R=100", "--sampler hardpk --refresh 100"),
    ("hardpk shifted", "--sampler hardpk --weighting shifted"),
    ("hardpk softmax T=0.1", "--sampler hardpk --weighting softmax --temp 0.1"),
    ("hardpk softmax T=0.03", "--sampler hardpk --weighting softmax --temp 0.03"),
]
METRIC = re.compile(r"^test \(all\): rank-1 ([\d.]+)%.*mAP ([\d.]+)%", re.M)
HARD = re.compile(r"^test \(hardest tenth\): rank-1 ([\d.]+)%.*mAP ([\d.]+)%", re.M)
TIME = re.compile(r"^train time ([\d.]+) s", re.M)
FIELDS = ["trainer", "config", "seed", "steps", "rank1", "mAP", "hard_rank1", "hard_mAP", "train_s"]


def run(trainer, name, args, seed, o):
    if trainer == "c":
        cmd = [os.path.join(ROOT, o.bin)]
    else:
        cmd = ["/usr/bin/python3", os.path.join(ROOT, "examples/python/train_ref.py")]
    cmd += ["--data", o.data, "--seed", str(seed), "--threads", "1", "--steps", str(o.steps), "--quiet"]
    cmd += args.split() + o.extra.split()
    p = subprocess.run(cmd, capture_output=True, text=True)
    m, h, t = METRIC.search(p.stdout), HARD.search(p.stdout), TIME.search(p.stdout)
    if p.returncode or not m:
        sys.stderr.write("evidence: FAILED %s: %s\n%s\n" % (" ".join(cmd), p.returncode, p.stderr[-2000:]))
        return None
    return {"trainer": trainer, "config": name, "seed": seed, "steps": o.steps,
            "rank1": float(m.group(1)), "mAP": float(m.group(2)),
            "hard_rank1": float(h.group(1)) if h else "", "hard_mAP": float(h.group(2)) if h else "",
            "train_s": float(t.group(1)) if t else ""}


def table(rows):
    groups = {}
    for r in rows:
        groups.setdefault((r["trainer"], r["config"], int(r["steps"])), []).append(r)
    out = ["| trainer | configuration | steps | seeds | rank-1 | mAP | hard-10% rank-1 | hard-10% mAP |",
           "|---|---|---:|---:|---:|---:|---:|---:|"]

    def ms(v):
        v = [float(x) for x in v if x != ""]
        if not v:
            return "-"
        return "%.1f ± %.1f" % (statistics.mean(v), statistics.stdev(v) if len(v) > 1 else 0.0)
    order = [n for n, _ in MAIN + POLICIES]
    for key in sorted(groups, key=lambda k: (k[0], order.index(k[1]) if k[1] in order else 99, k[2])):
        g = groups[key]
        out.append("| %s | %s | %d | %d | %s | %s | %s | %s |" % (
            "C" if key[0] == "c" else "PyTorch", key[1], key[2], len(g), ms(r["rank1"] for r in g),
            ms(r["mAP"] for r in g), ms(r["hard_rank1"] for r in g), ms(r["hard_mAP"] for r in g)))
    out += ["", paired(rows, ms)]
    return "\n".join(out)


# each configuration beside its control (the difference paired by seed)
CONTROL = {"hardepoch": "shuffle", "hardpk": "pk", "prop": "uniform-prop", "hard": "shuffle",
           "hardpk R=10": "hardpk", "hardpk R=100": "hardpk", "hardpk shifted": "hardpk",
           "hardpk softmax T=0.1": "hardpk", "hardpk softmax T=0.03": "hardpk"}


def paired(rows, ms):
    """Per trainer: configuration minus its control, seed by seed (mean +-
    std of the differences, and in how many seeds it is ahead); then C
    minus PyTorch per configuration."""
    by = {(r["trainer"], r["config"], int(r["steps"]), int(r["seed"])): r for r in rows}
    out = ["| trainer | configuration - control | steps | seeds | Δ rank-1 | ahead | Δ mAP | ahead "
           "| Δ hard-10% rank-1 | Δ hard-10% mAP |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    keys = sorted({(t, c, st) for t, c, st, _ in by})

    def diffs(a, b, f):
        d = []
        for (t, c, st, seed), r in by.items():
            if (t, c, st) == a and (b[0], b[1], b[2], seed) in by:
                x, y = r[f], by[(b[0], b[1], b[2], seed)][f]
                if x != "" and y != "":
                    d.append(float(x) - float(y))
        return d

    def line(label, trainer, a, b):
        d = {f: diffs(a, b, f) for f in ("rank1", "mAP", "hard_rank1", "hard_mAP")}
        if not d["rank1"]:
            return
        out.append("| %s | %s | %d | %d | %s | %d/%d | %s | %d/%d | %s | %s |" % (
            trainer, label, a[2], len(d["rank1"]), ms(d["rank1"]),
            sum(x > 0 for x in d["rank1"]), len(d["rank1"]), ms(d["mAP"]),
            sum(x > 0 for x in d["mAP"]), len(d["mAP"]), ms(d["hard_rank1"]), ms(d["hard_mAP"])))
    order = [n for n, _ in MAIN + POLICIES]
    for t, c, st in sorted(keys, key=lambda k: (k[0], order.index(k[1]) if k[1] in order else 99, k[2])):
        if c in CONTROL:
            line("%s - %s" % (c, CONTROL[c]), "C" if t == "c" else "PyTorch", (t, c, st), (t, CONTROL[c], st))
    for t, c, st in sorted(keys, key=lambda k: (order.index(k[1]) if k[1] in order else 99, k[2])):
        if t == "c" and ("torch", c, st) in keys:
            line("%s: C - PyTorch" % c, "both", (t, c, st), ("torch", c, st))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--steps", type=int, default=1000, help="1000 (the trainer's --data default)")
    ap.add_argument("--out", default="evidence.csv")
    ap.add_argument("--set", choices=["main", "policies", "all"], default="main")
    ap.add_argument("--torch", action="store_true", help="also the PyTorch twin (the main set)")
    ap.add_argument("--bin", default="build/train")
    ap.add_argument("--extra", default="", help="more trainer arguments for every run")
    ap.add_argument("--table", action="store_true", help="only print the table of --out")
    o = ap.parse_args()
    rows = []
    if os.path.exists(o.out):
        with open(o.out) as f:
            rows = list(csv.DictReader(f))
    if o.table:
        print(table(rows))
        return 0
    done = {(r["trainer"], r["config"], int(r["seed"]), int(r["steps"])) for r in rows}
    seeds = [int(s) for s in o.seeds.split(",")]
    # seed by seed, the main set first (C and the twin side by side), so a
    # stopped run leaves comparable halves
    trainers = ["c", "torch"] if o.torch else ["c"]
    todo = [(t, n, a, s) for s in seeds for n, a in (MAIN if o.set != "policies" else [])
            for t in trainers]
    todo += [("c", n, a, s) for s in seeds for n, a in (POLICIES if o.set != "main" else [])]
    todo = [t for t in todo if (t[0], t[1], t[3], o.steps) not in done]
    new = not os.path.exists(o.out)
    with open(o.out, "a", newline="") as f, ThreadPoolExecutor(o.jobs) as ex:
        w = csv.DictWriter(f, FIELDS)
        if new:
            w.writeheader()
        for r in ex.map(lambda t: run(t[0], t[1], t[2], t[3], o), todo):
            if r:
                w.writerow(r)
                f.flush()
                rows.append(r)
                print("%-6s %-22s seed %d: rank-1 %.1f mAP %.1f (%.0f s)" % (
                    r["trainer"], r["config"], r["seed"], r["rank1"], r["mAP"], r["train_s"] or 0), flush=True)
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
