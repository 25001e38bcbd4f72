"""A PyTorch training loop with hardness-aware identity sampling.

The batches come from hardreid.torch's HardIdentityBatchSampler (the
package in python/, loaded in place through examples/python/hardreid.py):
every R steps it reads the classifier's weight (N identities x d, an
nn.Linear) without a copy into hr_difficulty; the difficulties become
sampling weights (hr_weights, with an eps-uniform floor) and an alias
table; every batch is P identities x K images, the identities drawn by
hardness (hr_batch_pk), fed to a DataLoader.

The data is synthetic so the script runs anywhere: N identities, each a
Gaussian cluster in feature space, with some pairs of identities planted
close together; those pairs should come out hardest, and the sampler should
draw them more often than uniform.

    python3 examples/python/torch_loop.py [--steps 200] [--refresh 10]

Without PyTorch it fails (exit 1) naming the package (Debian 12:
python3-torch, which `make test` installs); with HR_ALLOW_SKIP=1 in the
environment it skips instead (exit 0) and says so.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hardreid  # noqa: E402,F401  (the shim: puts the package, hardreid.torch too, in reach)

try:
    import torch
    from torch.utils.data import DataLoader, TensorDataset
    from hardreid.torch import HardIdentityBatchSampler
except ImportError:
    skip = os.environ.get("HR_ALLOW_SKIP") == "1"
    print(f"torch_loop: {'SKIPPED (HR_ALLOW_SKIP=1)' if skip else 'FAILED'}: "
          "PyTorch is not installed (Debian 12: apt-get install python3-torch)",
          file=sys.stdout if skip else sys.stderr)
    sys.exit(0 if skip else 1)


def make_data(n_ids, per_id, dim, pairs, seed):
    g = np.random.default_rng(seed)
    centers = g.standard_normal((n_ids, dim)).astype(np.float32)
    for a in range(pairs):  # identity 2a+1 looks almost like 2a
        centers[2 * a + 1] = centers[2 * a] + 0.15 * g.standard_normal(dim).astype(np.float32)
    labels = np.repeat(np.arange(n_ids), per_id).astype(np.int32)
    x = centers[labels] + 0.6 * g.standard_normal((labels.size, dim)).astype(np.float32)
    return x, labels


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ids", type=int, default=200)
    ap.add_argument("--per-id", type=int, default=12)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--refresh", type=int, default=10, help="R: steps between difficulty refreshes")
    ap.add_argument("--P", type=int, default=16)
    ap.add_argument("--K", type=int, default=4)
    ap.add_argument("--check", action="store_true",
                    help="a test (make test): assert every batch's shape and "
                         "every refresh against torch's own cosine maxima")
    args = ap.parse_args()

    torch.manual_seed(0)
    x, labels = make_data(args.ids, args.per_id, args.dim, args.pairs, seed=1)
    dataset = TensorDataset(torch.from_numpy(x), torch.from_numpy(labels.astype(np.int64)))

    embed = torch.nn.Sequential(torch.nn.Linear(args.dim, 128), torch.nn.ReLU(), torch.nn.Linear(128, 64))
    fc = torch.nn.Linear(64, args.ids, bias=False)  # fc.weight: identities x features
    opt = torch.optim.SGD(list(embed.parameters()) + list(fc.parameters()), lr=0.05, momentum=0.9)

    # row k of fc is identity k: the sampler numbers identities by ascending
    # label, the same order (labels here are 0..N-1)
    sampler = HardIdentityBatchSampler(labels=labels, num_identities=args.P, num_instances=args.K,
                                       weight=fc.weight, refresh_every=args.refresh, eps=0.05,
                                       batches_per_epoch=args.steps)
    # num_workers=0: the loader pulls batches from the sampler as training
    # goes, so a refresh (before batches 0, R, 2R, ...) sees the weight of
    # the step just taken
    loader = DataLoader(dataset, batch_sampler=sampler, num_workers=0)
    drawn = np.zeros(args.ids, np.int64)
    checks = 0
    for step, (xb, yb) in enumerate(loader):
        if step % args.refresh == 0 and args.check:
            checks += check_refresh(sampler, fc.weight)
        if args.check:
            checks += check_batch(yb.numpy(), args.P, args.K)
        drawn += np.bincount(yb.numpy(), minlength=args.ids)
        loss = torch.nn.functional.cross_entropy(fc(embed(xb)), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % max(1, args.steps // 5) == 0 or step == args.steps - 1:
            c = sampler.difficulty
            print(f"step {step:4d}  loss {loss.item():.3f}  difficulty: max {c.max():.3f} "
                  f"mean {c.mean():.3f}  hardest identity {int(c.argmax())} "
                  f"(nearest {int(sampler.nearest[c.argmax()])})")

    c = sampler.difficulty
    planted = np.arange(2 * args.pairs)
    hard = np.argsort(-c)[:2 * args.pairs]
    found = len(set(hard) & set(planted))
    share = drawn[planted].sum() / drawn.sum()
    print(f"planted near pairs among the {2 * args.pairs} hardest identities: {found} of {2 * args.pairs}")
    print(f"their share of the images drawn: {share:.3f} (uniform would be {2 * args.pairs / args.ids:.3f})")
    if args.check:
        if step + 1 != args.steps:
            fail(f"the loader gave {step + 1} batches, want {args.steps}")
        print(f"torch_loop: {checks + 1} checks passed")


def fail(msg):
    print(f"torch_loop: FAILED: {msg}", file=sys.stderr)
    sys.exit(1)


def check_batch(y, P, K):
    """A P x K batch: P distinct identities, K images of each, in P runs."""
    if y.shape != (P * K,):
        fail(f"batch of {y.shape} labels, want {P * K}")
    runs = y.reshape(P, K)
    if not (runs == runs[:, :1]).all():
        fail(f"a run of K images mixes identities: {runs.tolist()}")
    if len(set(runs[:, 0].tolist())) != P:
        fail(f"identities repeat within a batch: {runs[:, 0].tolist()}")
    return 1


def check_refresh(sampler, weight):
    """The sampler's difficulties against torch's own: normalized rows, the
    full cosine matrix with the diagonal masked, its row maxima (2e-5, the
    library's cross-path tolerance); nearest where the winner is clear."""
    with torch.no_grad():
        w = torch.nn.functional.normalize(weight.detach().double(), dim=1)
        s = w @ w.T
        s.fill_diagonal_(-float("inf"))
        top = torch.topk(s, 2, dim=1)
    want, gap = top.values[:, 0].numpy(), (top.values[:, 0] - top.values[:, 1]).numpy()
    err = np.abs(sampler.difficulty.astype(np.float64) - want).max()
    if err > 2e-5:
        fail(f"difficulty differs from torch's by {err:.3g}")
    clear = gap > 1e-4
    if (sampler.nearest[clear] != top.indices[:, 0].numpy()[clear]).any():
        fail("nearest differs from torch's arg-max on a row with a clear winner")
    return 1


if __name__ == "__main__":
    main()
