#!/usr/bin/env python3
"""Turn bench_difficulty's CSV into the README's markdown table.
usage: python3 bench/csv2md.py build/bench_difficulty.csv
An optional 'source' column (added by hand when rows of several runs are
merged) becomes a last column saying which run each row comes from."""
import csv, sys

rows = list(csv.DictReader(open(sys.argv[1])))
if not rows:
    sys.exit("no rows")
r0 = rows[0]
print(f"Measured {r0['date'][:10]} on {r0['cpu']} (2 cores, AVX2+FMA, no AVX-512), "
      f"{r0['compiler']}, `{r0['flags']}`, hardreid path `{r0['isa']}`. "
      "GFLOP/s = N(N-1)d / seconds for every method (one triangle); median of the "
      "repetitions; peers get W normalized beforehand (untimed), hardreid normalizes "
      "inside the timed call. Ratio = peer seconds / hardreid seconds.\n")
cases = {}
for r in rows:
    cases.setdefault((int(r['N']), int(r['d']), int(r['threads'])), {})[r['method']] = r
src = 'source' in rows[0]
print("| N | d | threads | hardreid s | GFLOP/s | % FMA peak | OpenBLAS GFLOP/s | ratio | FAISS GFLOP/s | ratio |" + (" run |" if src else ""))
print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---|" if src else ""))
def cell(m, key):
    return m[key] if m and m.get('status') == 'ok' and m.get(key) not in (None, '') else 'skipped'
for (n, d, t) in sorted(cases):
    c = cases[(n, d, t)]
    h, b, f = c.get('hardreid'), c.get('blas'), c.get('faiss')
    def ratio(p):
        return f"{float(p['hr_speedup']):.2f}x" if p and p.get('status') == 'ok' and p.get('hr_speedup') else 'skipped'
    hs = f"{float(h['median_s']):.3f}" if h and h.get('status') == 'ok' else 'skipped'
    print(f"| {n} | {d} | {t} | {hs} | {cell(h,'gflops')} | {cell(h,'pct_peak')} | "
          f"{cell(b,'gflops')} | {ratio(b)} | {cell(f,'gflops')} | {ratio(f)} |"
          + (f" {(h or b or f)['source']} |" if src else ""))
