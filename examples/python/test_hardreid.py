"""Check the ctypes bindings against numbers numpy can verify (make test-python).

- difficulty: numpy's (Wn @ Wn.T) in float64 with the diagonal masked, max
  and argmax, to 2e-5 (HR_TOL_ISA); nearest must agree wherever the best
  and second-best cosines are further apart than that; on every ISA path;
- top-k: sorted, its first column equal to difficulty bitwise;
- a strided view (every other row) is used without a copy and agrees;
- errors: NaN raises HardReIDError, outputs never half-written; each other
  refusal of README's "Bad input" raises its exception with its text;
- hr_weights: docs/DESIGN.md's worked example;
- alias sampler: 400k draws, every frequency within 5 sigma of its
  probability, zero weights never drawn, a seed repeats its draws;
- identity index and P x K batches: junk excluded, P distinct identities.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hardreid  # noqa: E402

TOL = 2e-5
checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        raise AssertionError(what)


def reference(W):
    Wn = W.astype(np.float64)
    norm = np.linalg.norm(Wn, axis=1, keepdims=True)
    Wn = np.divide(Wn, norm, out=np.zeros_like(Wn), where=norm > 0)
    S = Wn @ Wn.T
    np.fill_diagonal(S, -np.inf)
    return S


def main():
    hr = hardreid.load()
    rs = np.random.default_rng(5)
    n, d = 700, 48
    W = rs.standard_normal((n, d)).astype(np.float32)
    W[1] = W[0] + 0.01 * rs.standard_normal(d).astype(np.float32)  # a near twin
    W[10] = 0                                                        # a fresh class
    S = reference(W)
    want_c, want_nn = S.max(axis=1), S.argmax(axis=1)
    top2 = np.sort(S, axis=1)[:, -2:]
    clear = (top2[:, 1] - top2[:, 0]) > TOL  # rows whose arg max is well defined

    paths = [p for p, here in hr.isas().items() if here]
    check(paths[0] == "scalar" and all(try_isa(hr, p) for p in paths), f"paths {paths}")
    check(all(not try_isa(hr, p) for p, here in hr.isas().items() if not here),
          "a path the registry says is missing was accepted")
    for isa in paths:
        hr.set_isa(isa)
        check(hr.isa() == isa, f"set_isa({isa})")
        c, nn = hr.difficulty(W)
        err = np.abs(c - want_c).max()
        check(c.dtype == np.float32 and nn.dtype == np.int32, "output dtypes")
        check(err <= TOL, f"{isa}: difficulty off by {err:.3g} > {TOL}")
        check((nn[clear] == want_nn[clear]).all(), f"{isa}: nearest disagrees with numpy's argmax")
        check(nn[0] == 1 and nn[1] == 0, f"{isa}: planted twins not found")
        check(c[10] == 0.0, f"{isa}: a zero row has similarity 0 with everything")
        print(f"  difficulty on {isa}: max |c - numpy| = {err:.2e}, nearest agrees on "
              f"{clear.sum()} of {n} rows with a clear winner")
    hr.set_isa("auto")

    c, nn = hr.difficulty(W)
    sim, idx = hr.neighbors_topk(W, 5)
    check((sim[:, 0] == c).all() and (idx[:, 0] == nn).all(), "top-k column 0 != difficulty bitwise")
    check((np.diff(sim, axis=1) <= 0).all(), "top-k not sorted")
    want_sim = np.take_along_axis(S, idx.astype(np.int64), axis=1)
    check(np.abs(sim - want_sim).max() <= TOL, "top-k similarities disagree with numpy")
    check(np.abs(sim[:, 4] - np.sort(S, axis=1)[:, -5]).max() <= TOL, "5th neighbour is not numpy's 5th")

    # a strided view: every other row, through ldw, no copy
    V = W[::2]
    cv, nv = hr.difficulty(V)
    Sv = reference(np.ascontiguousarray(V))
    check(np.abs(cv - Sv.max(axis=1)).max() <= TOL, "strided view")
    # float64 input is converted
    c64, _ = hr.difficulty(W.astype(np.float64))
    check((c64 == c).all(), "float64 input")

    # incremental refresh: some rows move, the update equals a fresh run
    W2 = W.copy()
    moved = np.array([5, 17, 17, 40], np.int32)
    W2[moved] = rs.standard_normal((moved.size, W.shape[1])).astype(np.float32)
    cu, nu = c.copy(), nn.copy()
    got = hr.difficulty_update(cu, nu, W2, moved)
    cf, nf = hr.difficulty(W2)
    check((cu == cf).all() and (nu == nf).all(), "difficulty_update != difficulty bitwise")
    check(3 <= got <= W.shape[0], f"difficulty_update recomputed {got} rows")

    # errors raise, with the library's text
    Wbad = W.copy()
    Wbad[3, 4] = np.nan
    try:
        hr.difficulty(Wbad)
        check(False, "NaN accepted")
    except hardreid.HardReIDError as e:
        check("NaN" in str(e), f"NaN error text: {e}")
    try:
        hr.set_isa(next(p for p, here in hr.isas().items() if not here))
        check(False, "unsupported ISA accepted")
    except hardreid.HardReIDError:
        check(True, "")

    # weights: docs/DESIGN.md's example
    p = hr.weights([0.98, 0.96, 0.9, 0.5, 0.46])
    check(np.allclose(p, [0.258, 0.253, 0.237, 0.132, 0.121], atol=5e-4), f"hr_weights example: {p}")
    p = hr.weights(c, eps=0.05)
    check(abs(p.sum() - 1) < 1e-5 and p.min() >= 0.05 / n * (1 - 1e-5), "hr_weights eps floor")

    # alias sampler: frequencies proportional to the weights
    w = np.array([5, 0, 1, 2, 0.5, 8, 0, 3.5], np.float32)
    table = hr.alias(w)
    m = 400_000
    draws = table.draw_n(m, hr.rng(7))
    freq = np.bincount(draws, minlength=w.size) / m
    prob = w / w.sum()
    sigma = np.sqrt(prob * (1 - prob) / m)
    z = np.abs(freq - prob) / np.where(sigma > 0, sigma, 1)
    check((freq[w == 0] == 0).all(), "a zero weight was drawn")
    check(z.max() < 5, f"alias frequencies off: z = {z.max():.2f}")
    check((table.draw_n(1000, hr.rng(7)) == draws[:1000]).all(), "same seed, different draws")
    print(f"  alias: {m} draws over {w.size} categories, largest deviation {z.max():.2f} sigma")

    # identity index and P x K batches
    labels = np.repeat(np.arange(100, 140), 6).astype(np.int32)  # 40 identities x 6 images
    labels[::7] = -1                                              # junk
    ids = hr.identities(labels)
    check(ids.nids == 40 and ids.njunk == len(labels[::7]), "identity index counts")
    table = hr.alias(hr.weights(rs.uniform(0.1, 1, 40).astype(np.float32)))
    batch = ids.batch_pk(8, 4, table, hr.rng(3))
    who = labels[batch].reshape(8, 4)
    check((who >= 0).all(), "junk sample in a batch")
    check((who == who[:, :1]).all() and len(set(who[:, 0])) == 8, "P x K: not 8 distinct identities x 4")
    b = ids.batch_proportional(64, table, hr.rng(3))
    check((labels[b] >= 0).all() and b.max() < len(labels), "proportional batch indices")

    # the rest of README's "Bad input" for the wrapper: each its exception
    def raises(exc, fn, text=""):
        try:
            fn()
        except exc as e:
            check(text in str(e), f"{exc.__name__} without '{text}': {e}")
            return
        check(False, f"no {exc.__name__}")
    raises(ValueError, lambda: hr.difficulty(np.zeros(5, np.float32)), "2-D")
    raises(ValueError, lambda: hr.neighbors_topk(np.zeros((2, 3, 4), np.float32), 2), "2-D")
    raises(KeyError, lambda: hr.set_isa("sse"))
    raises(KeyError, lambda: hr.weights(c, policy="cubic"))
    Wi = W.copy()
    Wi[5, 0] = np.inf
    raises(hardreid.HardReIDError, lambda: hr.neighbors_topk(Wi, 3), "hr_neighbors_topk: input contains NaN")
    raises(hardreid.HardReIDError, lambda: hr.difficulty(W, unit_rows=True), "hr_difficulty: invalid argument")
    raises(hardreid.HardReIDError, lambda: hr.weights([0.5, np.nan]), "hr_weights: input contains NaN")
    raises(hardreid.HardReIDError, lambda: hr.alias([1.0, -1.0]), "hr_alias_build: invalid argument")
    raises(hardreid.HardReIDError, lambda: hr.alias([0.0, 0.0]), "hr_alias_build: invalid argument")
    raises(hardreid.HardReIDError, lambda: ids.batch_pk(41, 2, None, hr.rng(1)), "hr_batch_pk: invalid argument")
    raises(hardreid.HardReIDError, lambda: ids.batch_proportional(8, hr.alias([1.0, 2.0]), hr.rng(1)),
           "hr_batch_proportional: invalid argument")
    raises(OSError, lambda: hardreid.load("/nonexistent/libhardreid.so"))

    print(f"python tests: {checks} checks passed ({hr.isa()} path, numpy {np.__version__})")


def try_isa(hr, name):
    try:
        hr.set_isa(name)
        return True
    except hardreid.HardReIDError:
        return False
    finally:
        hr.set_isa("auto")


if __name__ == "__main__":
    main()
