#!/usr/bin/env python3
"""Benchmark CSVs -> SVG charts with gnuplot (make plots).

usage: plot.py difficulty CSV OUT.svg   GFLOP/s vs N per method, FMA peak drawn in
       plot.py sampling CSV OUT.svg     ns/draw and build ns/category vs n
       plot.py gemm CSV OUT.svg         hr_gemm vs OpenBLAS GFLOP/s and ratio per case, 0.9x target
       plot.py conv CSV OUT.svg         hardreid/oneDNN ratio per layer (fwd, fwd+bwd), 1.0x target

The CSVs are the ones bench_difficulty / bench_sampling / bench_gemm /
bench_conv write (--csv); the difficulty one may carry the extra 'source'
column of the README's merged table. The chart title says where the numbers
come from: the README table, a full run, or a smoke run (seconds-long, not
representative). The data go into the gnuplot script as inline data blocks,
so the script is self-contained (written next to the SVG as .gp for
inspection).
Standard library only; needs gnuplot (Debian gnuplot-nox).
"""
import csv
import os
import statistics
import subprocess
import sys
import time

COLORS = {"hardreid": "#d62728", "blas": "#1f77b4", "faiss": "#2ca02c", "syrk": "#9467bd",
          "gsl": "#1f77b4", "cumsum": "#2ca02c", "batched": "#ff7f0e", "batched_scalar": "#9467bd",
          "hardreid2": "#ff9896", "blas2": "#aec7e8", "fwdbwd": "#ff7f0e", "fwdbwd2": "#ffbb78"}
LABELS = {"hardreid": "hardreid", "blas": "OpenBLAS sgemm blocks + max", "faiss": "FAISS knn_inner_product k=2",
          "syrk": "OpenBLAS ssyrk + sgemm triangle + max"}


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
    rows = [r for r in csv.DictReader(l for l in open(path) if not l.startswith('#')) if r.get("status") == "ok" and r.get("gflops")]
    if not rows:
        sys.exit(f"plot.py: no usable rows in {path}")
    kind, when, machine = provenance(path, rows)
    ds = sorted({int(r["d"]) for r in rows})
    ts = sorted({int(r["threads"]) for r in rows})
    methods = [m for m in ("hardreid", "blas", "faiss", "syrk") if any(r["method"] == m for r in rows)]
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
    rows = list(csv.DictReader(l for l in open(path) if not l.startswith('#')))
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

RATIO_CAP = 3.0   # ratio bars are clipped here (noisy smoke runs reach 10x); labels keep the value


def clipped(cap):
    return f"; bars clipped at {cap:.0f}x, labels unclipped" if cap else ""


def ratio_kind(path, names):
    """provenance() for the GEMM / conv CSVs (no date, cpu or N columns): the
    smoke cases are few and named so, or the file is."""
    when = time.strftime("%Y-%m-%d", time.gmtime(os.path.getmtime(path)))
    if "smoke" in os.path.basename(path) or len(names) <= 2 or any("smoke" in n for n in names):
        return "fresh smoke run (seconds-long, tiny shapes: not representative)", when
    return "a full run", when


def xtic(name):
    """A case / layer name on two lines: before ' on ' (conv layers), else at
    the space nearest its middle."""
    cut = [i for i, c in enumerate(name) if c == " "]
    if len(name) > 12 and cut:
        i = name.find(" on ") if " on " in name else min(cut, key=lambda i: abs(i - len(name) / 2))
        name = name[:i] + "\\n" + name[i + 1:]
    return '"' + name.replace('"', "'") + '"'


def bars(names, series, width=0.8, cap=None):
    """Grouped bars: one data block per series (x height label), x = group index
    plus the series' offset, heights clipped at cap (the label keeps the value);
    returns (blocks, box width, xtics command)."""
    w = width / len(series)
    blocks = []
    for j, (key, vals) in enumerate(series):
        body = "\n".join(f"{i + (j - (len(series) - 1) / 2) * w:.4f} {v if cap is None else min(v, cap)} {v:.2f}"
                         for i, v in enumerate(vals) if v is not None) or "nan nan nan"
        blocks.append(f"${key} << EOD\n{body}\nEOD\n")
    tics = "set xtics (" + ", ".join(f"{xtic(n)} {i}" for i, n in enumerate(names)) + ") font ',9'"
    return blocks, w, tics


def bar_plot(series, w, labels=True):
    out = []
    for key, title, color in series:
        out.append(f"${key} using 1:2:({w * 0.95:.4f}) with boxes fs solid 0.85 noborder "
                   f"lc rgb '{color}' title '{title}'")
        if labels:
            out.append(f"${key} using 1:2:3 with labels offset 0,0.6 font ',7' notitle")
    return out


def gemm(path, out):
    rows = [r for r in csv.DictReader(l for l in open(path) if not l.startswith('#')) if r.get("ratio")]
    if not rows:
        sys.exit(f"plot.py: no usable rows in {path}")
    names = list(dict.fromkeys(r["case"] for r in rows))
    ts = sorted({int(r["threads"]) for r in rows})
    kind, when = ratio_kind(path, names)

    def col(c, t):
        by = {r["case"]: float(r[c]) for r in rows if int(r["threads"]) == t}
        return [by.get(n) for n in names]

    sfx = {t: "" if i == 0 else "2" for i, t in enumerate(ts)}
    thr = {t: f"{t} thread{'s' if t > 1 else ''}" for t in ts}
    gf = [(f"gf{m}{t}", col(c, t), f"{lab}, {thr[t]}", COLORS[m + sfx[t]])
          for t in ts for m, c, lab in (("hardreid", "hardreid_gflops", "hr_gemm"),
                                        ("blas", "openblas_gflops", "OpenBLAS cblas_sgemm"))]
    rt = [(f"ratio{t}", col("ratio", t), thr[t], COLORS["hardreid" + sfx[t]]) for t in ts]
    ratios = [float(r["ratio"]) for r in rows]
    cap = RATIO_CAP if max(ratios) > RATIO_CAP else None
    gblocks, gw, tics = bars(names, [(k, v) for k, v, _, _ in gf])
    rblocks, rw, _ = bars(names, [(k, v) for k, v, _, _ in rt], cap=cap)
    gmax = max(float(r[c]) for r in rows for c in ("hardreid_gflops", "openblas_gflops"))
    rmax = max(1.2, min(max(ratios), RATIO_CAP) * 1.12)
    title = (f"hr_gemm vs OpenBLAS cblas_sgemm: GFLOP/s = 2mnk / s, median of 7 samples\\n"
             f"{kind} ({os.path.basename(path)}, written {when}); target: hr_gemm >= 0.9x OpenBLAS on every case")
    s = ["set terminal svg size 1400,900 dynamic noenhanced font 'sans,11' background '#ffffff'",
         f"set output '{out}'", *gblocks, *rblocks,
         tics, f"set xrange [-0.6:{len(names) - 0.4}]", "set grid ytics", "set bmargin 4",
         "set key top left font ',9' samplen 2 maxrows 2",
         f"set multiplot layout 2,1 title \"{title}\" font ',12'",
         "set title 'GFLOP/s per case (higher is better)'", "set ylabel 'GFLOP/s'",
         f"set yrange [0:{gmax * 1.15:.1f}]",
         "plot " + ", \\\n     ".join(bar_plot([(k, lab, c) for k, _, lab, c in gf], gw, labels=False)),
         f"set title 'ratio hr_gemm / OpenBLAS (dashed: 0.9x target{clipped(cap)})'", "set ylabel 'ratio'",
         f"set yrange [0:{rmax:.2f}]",
         "plot " + ", \\\n     ".join(bar_plot([(k, lab, c) for k, _, lab, c in rt], rw) +
                                     ["0.9 with lines dt 2 lw 1.5 lc rgb '#555555' title 'target 0.9x'",
                                      "1.0 with lines dt 3 lw 1 lc rgb '#999999' title 'parity'"]),
         "unset multiplot"]
    gnuplot("\n".join(s) + "\n", out)


def conv(path, out):
    rows = [r for r in csv.DictReader(l for l in open(path) if not l.startswith('#')) if r.get("fwd_ratio") and r.get("fwdbwd_ratio")]
    if not rows:
        sys.exit(f"plot.py: no usable rows in {path}")
    names = list(dict.fromkeys(r["layer"] for r in rows))
    ts = sorted({int(r["threads"]) for r in rows})
    kind, when = ratio_kind(path, names)

    def col(c, t):
        by = {r["layer"]: float(r[c]) for r in rows if int(r["threads"]) == t}
        return [by.get(n) for n in names]

    sfx = {t: "" if i == 0 else "2" for i, t in enumerate(ts)}
    thr = {t: f"{t} thread{'s' if t > 1 else ''}" for t in ts}
    rt = [(f"{p}{t}", col(f"{p}_ratio", t), f"{lab}, {thr[t]}", COLORS[("hardreid" if p == "fwd" else p) + sfx[t]])
          for p, lab in (("fwd", "forward"), ("fwdbwd", "forward + backward")) for t in ts]
    ratios = [float(r[c]) for r in rows for c in ("fwd_ratio", "fwdbwd_ratio")]
    cap = RATIO_CAP if max(ratios) > RATIO_CAP else None
    blocks, w, tics = bars(names, [(k, v) for k, v, _, _ in rt], cap=cap)
    rmax = max(1.3, min(max(ratios), RATIO_CAP) * 1.12)
    title = (f"hr_conv2d vs oneDNN (its preferred blocked layouts, primitives only): ratio of GFLOP/s, "
             f"median of 7 samples\\n{kind} ({os.path.basename(path)}, written {when})\\n"
             f"target: hardreid >= 1.0x oneDNN on every layer, forward and forward + backward{clipped(cap)}")
    s = ["set terminal svg size 1100,580 dynamic noenhanced font 'sans,11' background '#ffffff'",
         f"set output '{out}'", *blocks,
         tics, f"set xrange [-0.6:{len(names) - 0.4}]", f"set yrange [0:{rmax:.2f}]", "set grid ytics",
         "set bmargin 4", "set tmargin 5",
         "set key top left font ',9' samplen 2 maxrows 2",
         f"set title \"{title}\" font ',12'", "set ylabel 'ratio hardreid / oneDNN (higher is better)'",
         "plot " + ", \\\n     ".join(bar_plot([(k, lab, c) for k, _, lab, c in rt], w) +
                                     ["1.0 with lines dt 2 lw 1.5 lc rgb '#555555' title 'target 1.0x'"])]
    gnuplot("\n".join(s) + "\n", out)


if __name__ == "__main__":
    charts = {"difficulty": difficulty, "sampling": sampling, "gemm": gemm, "conv": conv}
    if len(sys.argv) != 4 or sys.argv[1] not in charts:
        sys.exit(__doc__)
    charts[sys.argv[1]](sys.argv[2], sys.argv[3])
