"""The bindings against numpy: difficulty, top-k, blocks, update, weights,
RNG, alias sampler, identity index and the three batch builders."""
import pickle

import numpy as np
import pytest

import hardreid
from conftest import random_w, reference

TOL = 2e-5  # HR_TOL_ISA


def test_worked_example():
    c, nn = hardreid.difficulty(np.array([[2, 0], [0, 2], [0.4, 1.96]], np.float32))
    assert np.allclose(c, [0.19996, 0.97980, 0.97980], atol=1e-5)
    assert nn.tolist() == [2, 2, 1]
    p = hardreid.weights([0.98, 0.96, 0.9, 0.5, 0.46])
    assert np.allclose(p, [0.258, 0.253, 0.237, 0.132, 0.121], atol=5e-4)


def test_difficulty_every_isa(hr):
    W = random_w()
    S = reference(W)
    want = S.max(axis=1)
    for isa in [p for p, here in hr.isas().items() if here]:
        hr.set_isa(isa)
        try:
            c, nn = hr.difficulty(W)
        finally:
            hr.set_isa("auto")
        assert c.dtype == np.float32 and nn.dtype == np.int32
        assert np.abs(c - want).max() <= TOL, isa
        assert nn[0] == 1 and nn[1] == 0


def test_topk_normalize(hr):
    W = random_w()
    c, nn = hr.difficulty(W)
    sim, idx = hr.neighbors_topk(W, 4)
    assert (sim[:, 0] == c).all() and (idx[:, 0] == nn).all()
    assert (np.diff(sim, axis=1) <= 0).all()
    U = hr.normalize_rows(W)
    assert np.allclose(np.linalg.norm(U, axis=1), 1, atol=1e-6)
    cu, _ = hr.difficulty(U, unit_rows=True)
    assert np.abs(cu - c).max() <= TOL


def test_blocks_pairs_merge_equal_full(hr):
    """W split into two row blocks (two 'machines'): the three pair sets
    folded in any split give hr_difficulty's maxima bit for bit."""
    W = random_w(257, 33)
    c, nn = hr.difficulty(W)
    a, b = hr.block(W[:100], first=0), hr.block(W[100:], first=100)
    hr.difficulty_pairs(a)
    hr.difficulty_pairs(b)
    hr.difficulty_pairs(a, b)
    assert (np.concatenate([a.c, b.c]) == c).all() and (np.concatenate([a.nearest, b.nearest]) == nn).all()
    # machine 1 folds a with itself, machine 2 a against b: merge the partials
    m1, m2 = hr.block(W[:100]), hr.block(W[:100])
    other = hr.block(W[100:], first=100)
    hr.difficulty_pairs(m1)
    hr.difficulty_pairs(m2, other)
    cc, nc = m1.c.copy(), m1.nearest.copy()
    hr.maxima_merge(cc, nc, m2.c, m2.nearest)
    assert (cc == c[:100]).all() and (nc == nn[:100]).all()
    hr.maxima_reset(cc, nc)
    assert np.isneginf(cc).all() and (nc == -1).all()
    with pytest.raises(hardreid.HardReIDError, match="hr_difficulty_pairs"):
        hr.difficulty_pairs(hr.block(W[:10], first=0), hr.block(W[5:20], first=5))  # overlap


def test_update(hr):
    W = random_w()
    c, nn = hr.difficulty(W)
    W2 = W.copy()
    W2[[3, 50]] = np.random.default_rng(1).standard_normal((2, W.shape[1]))
    got = hr.difficulty_update(c, nn, W2, [3, 50, 50])
    cf, nf = hr.difficulty(W2)
    assert (c == cf).all() and (nn == nf).all() and 2 <= got <= W.shape[0]
    with pytest.raises(ValueError, match="contiguous"):
        hr.difficulty_update(c.astype(np.float64), nn, W2, [1])


def test_errors(hr):
    W = random_w(20, 4)
    W[3, 1] = np.nan
    with pytest.raises(hardreid.HardReIDError, match="hr_difficulty: input contains NaN"):
        hr.difficulty(W)
    with pytest.raises(ValueError, match="2-D"):
        hr.difficulty(np.zeros(5, np.float32))
    with pytest.raises(KeyError):
        hr.weights([0.1, 0.2], policy="cubic")
    with pytest.raises(KeyError):
        hr.set_isa("sse")
    with pytest.raises(hardreid.HardReIDError, match="invalid argument"):
        hardreid.AliasTable([0.0, 0.0])
    with pytest.raises(OSError):
        hardreid.load("/nonexistent/libhardreid.so")


def test_weights_policies(hr):
    c = np.array([0.9, 0.5, -0.2, 0.1], np.float32)
    lin = hr.weights(c)
    assert lin[2] == 0 and abs(lin.sum() - 1) < 1e-6
    sh = hr.weights(c, "shifted")
    assert np.allclose(sh, (1 + c) / 2 / ((1 + c) / 2).sum(), atol=1e-6)
    sm = hr.weights(c, "softmax", temperature=0.1)
    e = np.exp((c - c.max()) / 0.1)
    assert np.allclose(sm, e / e.sum(), atol=1e-6)
    floor = hr.weights(c, eps=0.2)
    assert floor.min() >= 0.2 / 4 * (1 - 1e-6)


def test_rng():
    r = hardreid.Rng(7)
    a = [r.below(10) for _ in range(100)]
    assert min(a) >= 0 and max(a) < 10 and len(set(a)) == 10
    r2 = hardreid.Rng(7)
    assert [r2.below(10) for _ in range(100)] == a
    s = hardreid.Rng(3)
    j = s.copy().jump()
    assert j != s and j.getstate() != s.getstate()
    assert pickle.loads(pickle.dumps(j)) == j
    t = hardreid.AliasTable([1, 2, 3])
    assert (t.draw_n(50, pickle.loads(pickle.dumps(j))) == t.draw_n(50, j.copy())).all()


def test_alias_frequencies():
    w = np.array([5, 0, 1, 2, 0.5, 8, 0, 3.5], np.float32)
    t = hardreid.AliasTable(w)
    m = 200_000
    d = t.draw_n(m, hardreid.Rng(1))
    freq = np.bincount(d, minlength=w.size) / m
    prob = w / w.sum()
    sigma = np.sqrt(prob * (1 - prob) / m)
    assert (freq[w == 0] == 0).all()
    assert (np.abs(freq - prob) / np.where(sigma > 0, sigma, 1)).max() < 5
    t2 = pickle.loads(pickle.dumps(t))
    assert (t2.draw_n(100, hardreid.Rng(1)) == d[:100]).all()


def test_identities_and_batches(hr):
    labels = np.repeat(np.arange(100, 140), 6).astype(np.int32)
    labels[::7] = -1
    ids = hardreid.Identities(labels)
    assert ids.nids == 40 and ids.njunk == labels[::7].size and ids.find(105) == 5 and ids.find(7) == -1
    assert ids.identity_labels.tolist() == list(range(100, 140))
    assert ids.counts().sum() == ids.nsamples and (labels[ids.samples(3)] == 103).all()
    t = hardreid.AliasTable(hr.weights(np.random.default_rng(0).uniform(0.1, 1, 40).astype(np.float32)))
    b = ids.batch_pk(8, 4, t, hardreid.Rng(3)).reshape(8, 4)
    who = labels[b]
    assert (who == who[:, :1]).all() and len(set(who[:, 0])) == 8
    assert (labels[ids.batch_proportional(64, t, hardreid.Rng(3))] >= 0).all()
    c = np.full(40, 0.1, np.float32)
    c[17] = 0.9
    nearest = np.arange(40, dtype=np.int32)[::-1].copy()
    nearest[17] = 21
    a = ids.batch_hardest(c, 4, 20, hardreid.Rng(5), nearest=nearest, nearest_count=4)
    assert a.size == 28
    assert (labels[a[:4]] == 117).all() and (labels[a[4:8]] == 121).all() and (labels[a[8:]] != 117).all()
    ids2 = pickle.loads(pickle.dumps(ids))
    assert (ids2.batch_pk(8, 4, t, hardreid.Rng(3)).reshape(8, 4) == b).all()
    with pytest.raises(hardreid.HardReIDError, match="hr_batch_pk: invalid argument"):
        ids.batch_pk(41, 2, None, hardreid.Rng(1))


def test_library_from_package_dir():
    """pip install puts libhardreid.so next to the package and loads it from
    there, with no LD_LIBRARY_PATH (unless HARDREID_LIB says otherwise)."""
    import os
    pkg = os.path.dirname(os.path.abspath(hardreid.__file__))
    if os.environ.get("HARDREID_LIB") or not os.path.exists(os.path.join(pkg, "libhardreid.so")):
        pytest.skip("HARDREID_LIB set, or a source tree without an installed library")
    assert os.path.samefile(hardreid.library().path, os.path.join(pkg, "libhardreid.so"))
    assert hardreid.__version__.count(".") == 2
