#!/usr/bin/env python3
"""Turn bench_difficulty's CSV into the README's markdown table.
usage: python3 bench/csv2md.py build/bench_difficulty.csv [more.csv ...]
Several CSVs (runs of different sizes) are merged, a later file's rows
replacing an earlier one's for the same case; each row then names its run,
and every run's '# meta' line (version, git hash, ISA, OpenBLAS core) and
date follow the table."""
import csv, sys

rows, metas = [], []
for run, path in enumerate(sys.argv[1:], 1):
    lines = open(path).readlines()
    metas.append(lines[0][1:].strip() if lines and lines[0].startswith('#') else 'no meta line')
    for r in csv.DictReader(l for l in lines if not l.startswith('#')):
        r['run'] = run
        rows.append(r)
many = len(metas) > 1
if not rows:
    sys.exit("no rows")
r0 = rows[0]
print(f"Measured {r0['date'][:10]} on {r0['cpu']}, {r0['compiler']}, `{r0['flags']}`"
      + (f"; {metas[0]}" if not many else "") + ". "
      "GFLOP/s = N(N-1)d / median seconds for every method (one triangle); "
      "% peak is against the FMA peak of the path hardreid runs, measured in the same run; "
      "peers get W normalized beforehand (untimed), hardreid normalizes inside the timed "
      "call. Ratio = peer median / hardreid median; min-max is the spread of hardreid's "
      "repetitions.\n")
cases = {}
for r in rows:
    cases.setdefault((int(r['N']), int(r['d']), int(r['threads'])), {})[r['method']] = r
def ok(m):
    return m is not None and m.get('status') == 'ok'
def ratio(p):
    return f"{float(p['hr_speedup']):.2f}x" if ok(p) and p.get('hr_speedup') else 'skipped'
def gf(p):
    return p['gflops'] if ok(p) else 'skipped'
print("| N | d | thr | hardreid median s (min-max) | GFLOP/s | % peak "
      "| OpenBLAS GFLOP/s | ratio | FAISS GFLOP/s | ratio | ssyrk GFLOP/s | ratio |"
      + (" run |" if many else ""))
print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if many else ""))
for (n, d, t) in sorted(cases):
    c = cases[(n, d, t)]
    h = c.get('hardreid')
    hs = (f"{float(h['median_s']):.4g} ({float(h['min_s']):.4g}-{float(h['max_s']):.4g})"
          if ok(h) else 'skipped')
    print(f"| {n} | {d} | {t} | {hs} | {gf(h)} | {h['pct_peak'] + '%' if ok(h) else 'skipped'} | "
          + " | ".join(f"{gf(c.get(m))} | {ratio(c.get(m))}" for m in ('blas', 'faiss', 'syrk'))
          + " |" + (f" {(h or next(iter(c.values())))['run']} |" if many else ""))
if many:
    print()
    for run, m in enumerate(metas, 1):
        d = next((r['date'] for r in rows if r['run'] == run), '?')
        print(f"Run {run} ({d}): {m}.  ")
