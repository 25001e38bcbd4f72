"""hardreid.sampler's logic with numpy alone (no torch): batch shapes,
modes, rank sharding, determinism, resume, pickling, hardness bias."""
import pickle

import numpy as np
import pytest

import hardreid
from hardreid.sampler import HardIdentityBatches, labels_of


def planted(n_ids=60, d=16, pairs=4, seed=0):
    """A classifier weight with `pairs` near-identical pairs (0,1), (2,3), ..."""
    g = np.random.default_rng(seed)
    W = g.standard_normal((n_ids, d)).astype(np.float32)
    for a in range(pairs):
        W[2 * a + 1] = W[2 * a] + 0.05 * g.standard_normal(d).astype(np.float32)
    return W


LABELS = np.repeat(np.arange(60), 7).astype(np.int32)   # 60 identities x 7 images


def run(s, epochs=1):
    out = []
    for _ in range(epochs):
        out += [list(b) for b in s]
    return out


def test_pk_shape_and_defaults():
    s = HardIdentityBatches(labels=LABELS, batch_size=32, num_instances=4)
    assert (s.P, s.K, len(s)) == (8, 4, LABELS.size // 32)
    for b in s:
        who = LABELS[b].reshape(8, 4)
        assert (who == who[:, :1]).all() and len(set(who[:, 0])) == 8
    assert s.epoch == 1  # an epoch done moves on


def test_labels_of_formats():
    torchreid = [(f"{i}.jpg", int(l), 0) for i, l in enumerate(LABELS)]
    dicts = [{"img_path": "x", "pid": int(l), "camid": 1} for l in LABELS]
    fastreid = [(f"{i}.jpg", f"market_{l:04d}", 0) for i, l in enumerate(LABELS)]

    class Folder:
        targets = LABELS.tolist()

    class TorchreidSet:
        train = torchreid

    for src in (torchreid, dicts, fastreid, Folder(), TorchreidSet(), LABELS):
        assert (labels_of(src) == LABELS).all()
    with pytest.raises(TypeError, match="labels="):
        labels_of(object())
    a = run(HardIdentityBatches(torchreid, 32, 4, seed=3))
    assert a == run(HardIdentityBatches(labels=LABELS, batch_size=32, num_instances=4, seed=3))


def test_modes():
    W = planted()
    for mode in ("uniform", "pk", "proportional", "hardest"):
        s = HardIdentityBatches(labels=LABELS, num_identities=6, num_instances=4, mode=mode, weight=W,
                                batches_per_epoch=5)
        bs = run(s)
        assert len(bs) == 5 and all(len(b) == 24 for b in bs)
        if mode == "hardest":
            t = int(np.argmax(s.difficulty))
            assert all((LABELS[b[:4]] == t).all() and (LABELS[b[4:8]] == s.nearest[t]).all() for b in bs)
    with pytest.raises(ValueError, match="mode"):
        HardIdentityBatches(labels=LABELS, mode="nope")
    with pytest.raises(ValueError, match="multiple"):
        HardIdentityBatches(labels=LABELS, batch_size=30, num_instances=4)


def test_hardness_bias():
    W = planted(pairs=4)
    s = HardIdentityBatches(labels=LABELS, num_identities=8, num_instances=2, weight=W, policy="softmax",
                            temperature=0.05, eps=0.0, batches_per_epoch=300)
    drawn = np.bincount(LABELS[np.concatenate(run(s))], minlength=60)
    share = drawn[:8].sum() / drawn.sum()
    assert share > 3 * 8 / 60, share   # the planted pairs, far above their uniform share
    u = HardIdentityBatches(labels=LABELS, num_identities=8, num_instances=2, mode="uniform",
                            batches_per_epoch=300)
    du = np.bincount(LABELS[np.concatenate(run(u))], minlength=60)
    assert abs(du[:8].sum() / du.sum() - 8 / 60) < 0.03


def test_ranks_disjoint_and_reproducible():
    W = planted()
    ws = 3
    kw = dict(labels=LABELS, num_identities=5, num_instances=4, weight=W, refresh_every=4, seed=11)
    per_rank = [run(HardIdentityBatches(rank=r, world_size=ws, **kw), epochs=2) for r in range(ws)]
    again = [run(HardIdentityBatches(rank=r, world_size=ws, **kw), epochs=2) for r in range(ws)]
    assert per_rank == again
    assert len({len(p) for p in per_rank}) == 1
    for step in range(len(per_rank[0])):
        sets = [set(LABELS[per_rank[r][step]].tolist()) for r in range(ws)]
        assert sum(map(len, sets)) == len(set().union(*sets)) == 5 * ws  # disjoint identities
    other = run(HardIdentityBatches(rank=0, world_size=ws, **{**kw, "seed": 12}), epochs=2)
    assert other != per_rank[0]
    # the epochs differ, and set_epoch replays one
    s = HardIdentityBatches(rank=1, world_size=ws, **kw)
    e0, e1 = run(s), run(s)
    assert e0 != e1 and e0 == per_rank[1][:len(e0)]
    s.set_epoch(0)
    assert run(s) == e0


@pytest.mark.parametrize("mode", ["pk", "proportional", "hardest"])
def test_resume_equals_uninterrupted(mode):
    W = planted()
    kw = dict(labels=LABELS, num_identities=6, num_instances=4, mode=mode, refresh_every=3, seed=5,
              batches_per_epoch=10)
    full = run(HardIdentityBatches(weight=W, **kw), epochs=3)
    for stop in (1, 3, 7, 10, 14):
        s = HardIdentityBatches(weight=W, **kw)
        got = []
        it = iter(s)
        while len(got) < stop:
            try:
                got.append(next(it))
            except StopIteration:
                it = iter(s)
        state = pickle.loads(pickle.dumps(s.state_dict()))
        r = HardIdentityBatches(weight=W, **kw)
        r.load_state_dict(state)
        while len(got) < len(full):
            r.set_epoch(r.epoch)  # what a training loop does: a no-op mid-epoch
            got += run(r)
        assert got == full, (mode, stop)


def test_pickle_continues():
    W = planted()
    s = HardIdentityBatches(labels=LABELS, num_identities=6, num_instances=4, weight=W, refresh_every=2,
                            seed=9, batches_per_epoch=8)
    it = iter(s)
    head = [next(it) for _ in range(3)]
    t = pickle.loads(pickle.dumps(s))
    assert (t.difficulty == s.difficulty).all() and t.epoch == s.epoch
    assert [next(it) for _ in range(5)] == run(t)
    assert head == run(HardIdentityBatches(labels=LABELS, num_identities=6, num_instances=4, weight=W,
                                           refresh_every=2, seed=9, batches_per_epoch=8))[:3]


def test_weight_rows_by_label():
    """Labels 0..59 with every third identity absent from training: a
    60-row classifier is read by label (row = label)."""
    keep = LABELS % 3 != 0
    W = planted()
    s = HardIdentityBatches(labels=LABELS[keep], num_identities=4, num_instances=2, weight=W)
    s.refresh()
    lab = s.ids.identity_labels
    want = hardreid.difficulty(W[lab])[0]
    assert (s.difficulty == want).all()
    with pytest.raises(ValueError, match="rows"):
        s.refresh(W[:10])
    manual = HardIdentityBatches(labels=LABELS, num_identities=4, num_instances=2, refresh_every=0)
    assert manual.difficulty is None and len(run(manual)) == len(manual)  # uniform without a weight
    with pytest.raises(ValueError, match="no weight"):
        manual.refresh()
    manual.refresh(W)
    assert manual.refreshes == 1
