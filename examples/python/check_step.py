#!/usr/bin/python3
"""check_step.py - one training step of build/train against PyTorch.

build/train --dump-step FILE writes, after the first step's backward and
before the optimizer (hrweights.py's container): "input" (B x h x w x 3,
the augmented batch, NHWC), "labels" (B, classes as floats), "loss" (1),
"p:<name>" every parameter and BN statistic before the step, "g:<name>"
every parameter's gradient of the mean loss (before weight decay). This
builds train_ref.py's network, loads p:, and runs the train-mode forward on
the input, the head's loss and the backward twice in PyTorch: in float64
(the reference) and in float32 (the noise floor of float arithmetic on this
step). Then per gradient tensor: C's max |g_c - g_64| over the tensor's
max |g_64|, next to torch-float32's own error on the same scale:

    /usr/bin/python3 examples/python/check_step.py DUMP --net res18 --width 0.25 \\
        --depth 2 --stem-stride 2 --head cos --s 16 --m 0.2 [--ls E] [--step N] [-v]

A tensor passes when C's error is within --tol-grad (2e-3) or within
--noise (4) times torch-float32's (a step can be ill-conditioned: summing
10^5 nearly cancelling terms, float32 loses digits whoever adds them; mobile
at stem 1 does). A gradient that is zero in exact arithmetic (a BN whose output only
feeds another BN, through a conv: its beta) is float64 noise in the
reference; C's must be within --tol-zero (1e-6) of the step's largest
gradient. The loss passes within --tol-loss (1e-3, relative).

Exit 0 if everything passes, 1 if not, 2 for bad usage or a bad file. Quiet
by default: one summary line; -v prints every tensor. The arch options
default as train.c's do (res18: 0.25 / 2 / 2, the others 1 / 1 / 1); --s /
--m default to the trainer's per head; --step is the step dumped (0: the
first of a run), for SphereFace's lambda.
"""
import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import hrweights  # noqa: E402
import train_ref  # noqa: E402

import torch  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(prog="check_step.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("dump")
    ap.add_argument("--net", choices=train_ref.NETS, default="res")
    ap.add_argument("--width", type=float, default=0.0)
    ap.add_argument("--depth", type=int, default=0)
    ap.add_argument("--stem-stride", type=int, default=0)
    ap.add_argument("--head", choices=train_ref.HEADS, default="cos")
    ap.add_argument("--s", type=float, default=None)
    ap.add_argument("--m", type=float, default=None)
    ap.add_argument("--ls", type=float, default=0.0)
    ap.add_argument("--step", type=int, default=0, help="the step dumped (SphereFace's lambda): 0")
    ap.add_argument("--tol-loss", type=float, default=1e-3)
    ap.add_argument("--tol-grad", type=float, default=2e-3)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--tol-zero", type=float, default=1e-6,
                    help="a gradient zero in exact arithmetic: max |g_c| over the step's largest |g| (1e-6)")
    ap.add_argument("--noise", type=float, default=4.0,
                    help="a tensor also passes within this many times torch-float32's own error (4)")
    ap.add_argument("--no-f32", action="store_true", help="skip the float32 torch run (the noise floor)")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    if a.s is None:
        a.s = 1.0 if a.head == "softmax" else 16.0
    if a.m is None:
        a.m = {"softmax": 0.0, "sphere": 2.0, "cos": 0.2, "arc": 0.3}[a.head]
    s, m, ls = (float(np.float32(v)) for v in (a.s, a.m, a.ls))
    try:
        t = hrweights.read(a.dump)
    except hrweights.WeightsError as e:
        print(f"check_step: {e}", file=sys.stderr)
        return 2
    for k in ("input", "labels", "loss", "p:head.w", "p:fc.w"):
        if k not in t:
            print(f"check_step: {a.dump}: no '{k}' (not a --dump-step file)", file=sys.stderr)
            return 2
    x = t["input"]
    y = t["labels"].astype(np.int64)
    classes, emb = t["p:head.w"].shape
    arch = train_ref.arch_defaults(a.net, a.width, a.depth, a.stem_stride)
    model = train_ref.Net(arch, emb, classes)
    try:
        hrweights.load_into(model, t, a.dump, prefix="p:")
    except hrweights.WeightsError as e:
        print(f"check_step: {e} (check --net/--width/--depth)", file=sys.stderr)
        return 2
    try:
        ref = run(model, x, y, a.head, s, m, ls, lam_of(a), torch.float64)
        f32 = None if a.no_f32 else run(model, x, y, a.head, s, m, ls, lam_of(a), torch.float32)
    except RuntimeError as err:
        print(f"check_step: forward failed ({err}): another --stem-stride or input size?", file=sys.stderr)
        return 2
    lc = float(t["loss"][0])
    lr_, g64 = ref
    loss_rel = abs(lr_ - lc) / max(abs(lr_), 1e-12)
    missing = [k[2:] for k in t if k.startswith("g:") and k[2:] not in g64]
    if missing:
        print(f"check_step: {a.dump}: gradient of '{missing[0]}' is not a parameter of this network", file=sys.stderr)
        return 2
    names = [n for n in g64 if "g:" + n in t]
    nog = [n for n in g64 if "g:" + n not in t]
    if nog:
        print(f"check_step: {a.dump}: no gradient 'g:{nog[0]}' in the dump", file=sys.stderr)
        return 2
    gmax = max(float(np.abs(g64[n]).max()) for n in names)
    rows, bad = [], []
    worst = (0.0, "", 0.0)
    for n in names:
        gc = t["g:" + n].astype(np.float64)
        gr = g64[n]
        sc = float(np.abs(gr).max())
        if sc <= 1e-9 * gmax:  # zero in exact arithmetic (a BN before a BN): C's value is rounding noise
            err = float(np.abs(gc).max()) / gmax
            e32 = float(np.abs(f32[1][n]).max()) / gmax if f32 else float("nan")
            ok = err <= a.tol_zero
            kind = "zero"
        else:
            err = float(np.abs(gc - gr).max()) / sc
            e32 = float(np.abs(f32[1][n] - gr).max()) / sc if f32 else float("nan")
            ok = err <= a.tol_grad or (f32 is not None and err <= a.noise * e32)
            kind = ""
            if err > worst[0]:
                worst = (err, n, e32)
        rows.append((n, err, e32, sc, kind, ok))
        if not ok:
            bad.append(n)
    if a.verbose:
        for n, err, e32, sc, kind, ok in rows:
            print(f"  {n:16s} C {err:.2e}  torch-f32 {e32:.2e}  scale {sc:.2e}"
                  f"{'  (zero: |g_c| / max |g|)' if kind else ''}{'' if ok else '  FAIL'}")
    ok = loss_rel <= a.tol_loss and not bad
    print(f"check_step: {'OK' if ok else 'FAIL'}: {arch_desc(a, arch)} head {a.head}: loss C {lc:.6f} f64 "
          f"{lr_:.6f} (rel {loss_rel:.1e}); {len(names)} gradients, max rel {worst[0]:.1e} ({worst[1]}; "
          f"torch-f32 {worst[2]:.1e})" + (f"; {len(bad)} over: {', '.join(bad[:4])}" if bad else ""))
    return 0 if ok else 1


def lam_of(a):
    return train_ref.sphereface_lambda(a.step) if a.head == "sphere" else 0.0


def run(model0, x, y, head, s, m, ls, lam, dt):
    """(loss, name -> gradient as float64 numpy) of one train-mode step in dt"""
    import copy
    model = copy.deepcopy(model0).to(dt).to(memory_format=torch.channels_last)
    model.train()
    inp = torch.from_numpy(np.ascontiguousarray(x)).to(dt).permute(0, 3, 1, 2)
    e = model(inp)
    loss, _ = train_ref.head_loss(head, s, m, lam, ls, e, model.head_w, torch.from_numpy(y))
    loss.backward()
    sd = dict(model.state_dict())
    for k, p in model.named_parameters():
        sd[k] = p.grad if p.grad is not None else torch.zeros_like(p)
    g = {k: v.astype(np.float64) for k, v in hrweights.state_dict_to_tensors(sd).items()
         if not (k.endswith(".mean") or k.endswith(".var"))}
    return float(loss.detach()), g


def arch_desc(a, arch):
    return f"{a.dump}: {train_ref.arch_str(arch)}"


if __name__ == "__main__":
    sys.exit(main())
