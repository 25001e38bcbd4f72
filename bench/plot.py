#!/usr/bin/env python3
"""Benchmark CSVs -> SVG charts with gnuplot (make plots).

usage: plot.py difficulty CSV OUT.svg   GFLOP/s vs N per method, FMA peak drawn in
       plot.py sampling CSV OUT.svg     ns/draw and build ns/category vs n

The CSVs are the ones bench_difficulty / bench_sampling write (--csv); the
difficulty one may carry the extra 'source' column of the README's merged
table. The chart title says where the numbers come from: the README table,
a full run, or a smoke run (seconds-long, not representative). The data go
into the gnuplot script as inline data blocks, so the script is
self-contained (written next to the SVG as .gp for inspection).
Standard library only; needs gnuplot (Debian gnuplot-nox).
"""
import csv
import os
import statistics
import subprocess
import sys
import time

COLORS = {"hardreid": "#d62728", "blas": "#1f77b4", "faiss": "#2ca02c",
          "gsl": "#1f77b4", "cumsum": "#2ca02c", "batched": "#ff7f0e", "batched_scalar": "#9467bd"}
LABELS = {"hardreid": "hardreid", "blas": "OpenBLAS sgemm blocks + max", "faiss": "FAISS knn_inner_product k=2"}


def provenance(path, rows):
    name = os.path.basename(path)
    r0 = rows[0]
    when = r0.get("date", "")[:10]
    machine = ", ".join(x for x in (r0.get("cpu", ""), r0.get("compiler", "")) if x)
    shapes = {(r.get("N", r.get("n")), r.get("d")) for r in rows}
    if "smoke" in name or len(shapes) == 1:
        kind = "fresh smoke run (seconds-long: not the README's numbers)"
    elif "source" in r0:
        kind = "the README's table"
    else:
        kind = "a full run"
    return kind, when, machine


def gnuplot(script, out):
    with open(os.path.splitext(out)[0] + ".gp", "w") as f:
        f.write(script)
    subprocess.run(["gnuplot"], input=script.encode(), check=True)


def difficulty(path, out):
    rows = [r for r in csv.DictReader(open(path)) if r.get("status") == "ok" and r.get("gflops")]
    if not rows:
        sys.exit(f"plot.py: no usable rows in {path}")
    kind, when, machine = provenance(path, rows)
    ds = sorted({int(r["d"]) for r in rows})
    ts = sorted({int(r["threads"]) for r in rows})
    methods = [m for m in ("hardreid", "blas", "faiss") if any(r["method"] == m for r in rows)]
    blocks, peaks = [], {}
    for t in ts:
        peaks[t] = statistics.median(float(r["peak_gflops"]) for r in rows
                                     if int(r["threads"]) == t and r.get("peak_gflops"))
        for d in ds:
            for m in methods:
                pts = sorted((int(r["N"]), float(r["gflops"])) for r in rows
                             if int(r["threads"]) == t and int(r["d"]) == d and r["method"] == m)
                body = "\n".join(f"{n} {g}" for n, g in pts) or "nan nan"
                blocks.append(f"$t{t}d{d}{m} << EOD\n{body}\nEOD\n")
    ymax = max(peaks.values()) * 1.1
    nmin = min(int(r["N"]) for r in rows)
    nmax = max(int(r["N"]) for r in rows)
    if nmin == nmax:
        nmin, nmax = nmin / 2, nmax * 2
    title = (f"Difficulty (fused W W^T + masked row max): GFLOP/s = N(N-1)d / s, one triangle for every method\\n"
             f"{kind}, {when}, {machine}; dashed: FMA peak measured in the same run")
    s = ["set terminal svg size 1400,720 dynamic noenhanced font 'sans,11' background '#ffffff'",
         f"set output '{out}'", *blocks,
         "set logscale x 2", f"set xrange [{nmin}:{nmax}]", f"set yrange [0:{ymax:.0f}]",
         "set grid", "set key top left font ',9' samplen 2",
         "set xlabel 'N (identities)'", "set ylabel 'GFLOP/s'", "set format x '%.0f'",
         f"set multiplot layout {len(ts)},{len(ds)} title \"{title}\" font ',12'"]
    for t in ts:
        for i, d in enumerate(ds):
            s.append(f"set title 'd = {d}, {t} thread{'s' if t > 1 else ''}'")
            s.append("set key " + ("on" if (t, i) == (ts[0], 0) else "off"))
            plots = [f"$t{t}d{d}{m} using 1:2 with linespoints lw 2 pt 7 ps 0.6 lc rgb '{COLORS[m]}' "
                     f"title '{LABELS[m]}'" for m in methods]
            plots.append(f"{peaks[t]:.1f} with lines dt 2 lw 1.5 lc rgb '#555555' "
                         f"title 'FMA peak ({peaks[t]:.0f})'")
            s.append("plot " + ", \\\n     ".join(plots))
    s.append("unset multiplot")
    gnuplot("\n".join(s) + "\n", out)


def sampling(path, out):
    rows = list(csv.DictReader(open(path)))
    if not rows:
        sys.exit(f"plot.py: no rows in {path}")
    kind, _, _ = provenance(path, rows)
    ns = sorted({int(r["n"]) for r in rows})
    xmin, xmax = ns[0] / 2, ns[-1] * 2
    when = time.strftime("%Y-%m-%d", time.gmtime(os.path.getmtime(path)))

    def series(method, isa, col):
        pts = sorted((int(r["n"]), float(r[col])) for r in rows
                     if r["method"] == method and (isa is None or r["isa"] == isa) and r.get(col))
        return "\n".join(f"{n} {v}" for n, v in pts) or "nan nan"

    best = "avx2" if any(r["isa"] == "avx2" for r in rows) else "neon"
    draw = [("hardreid", "scalar", "hardreid: hr_alias_draw (one call per draw)", "hardreid"),
            ("hardreid_batched", best, f"hardreid: hr_alias_draw_n ({best})", "batched"),
            ("hardreid_batched", "scalar", "hardreid: hr_alias_draw_n (scalar path)", "batched_scalar"),
            ("gsl", None, "GSL gsl_ran_discrete", "gsl"),
            ("cumsum", None, "cumsum + binary search (numpy/torch way)", "cumsum")]
    build = [("hardreid", "scalar", "hardreid: hr_alias_build", "hardreid"),
             ("gsl", None, "GSL gsl_ran_discrete_preproc", "gsl"),
             ("cumsum", None, "cumsum (prefix sums)", "cumsum")]
    blocks = []
    for i, (m, isa, _, _) in enumerate(draw):
        blocks.append(f"$draw{i} << EOD\n{series(m, isa, 'draw_ns_per_draw')}\nEOD\n")
    for i, (m, isa, _, _) in enumerate(build):
        blocks.append(f"$build{i} << EOD\n{series(m, isa, 'build_ns_per_category')}\nEOD\n")
    title = (f"Alias sampler vs GSL and cumsum, 1 thread, weights uniform in (0, 1]\\n"
             f"{kind} ({os.path.basename(path)}, written {when}); lower is better")
    s = ["set terminal svg size 1100,480 dynamic noenhanced font 'sans,11' background '#ffffff'",
         f"set output '{out}'", *blocks,
         "set logscale xy", "set grid", f"set xrange [{xmin}:{xmax}]", "set key top left font ',9' samplen 2",
         "set xlabel 'n (categories)'", "set format x '10^{%L}'",
         f"set multiplot layout 1,2 title \"{title}\" font ',12'",
         "set title 'draw'", "set ylabel 'ns per draw'",
         "plot " + ", \\\n     ".join(f"$draw{i} using 1:2 with linespoints lw 2 pt 7 ps 0.6 "
                                     f"lc rgb '{COLORS[c]}' title '{lab}'"
                                     for i, (_, _, lab, c) in enumerate(draw)),
         "set title 'build'", "set ylabel 'ns per category'",
         "plot " + ", \\\n     ".join(f"$build{i} using 1:2 with linespoints lw 2 pt 7 ps 0.6 "
                                     f"lc rgb '{COLORS[c]}' title '{lab}'"
                                     for i, (_, _, lab, c) in enumerate(build)),
         "unset multiplot"]
    gnuplot("\n".join(s) + "\n", out)


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("difficulty", "sampling"):
        sys.exit(__doc__)
    {"difficulty": difficulty, "sampling": sampling}[sys.argv[1]](sys.argv[2], sys.argv[3])
