"""hardreid.torch: the samplers in a DataLoader (workers, spawn), refresh
from a live nn.Linear, pickling, checkpoints."""
import pickle

import numpy as np
import pytest

from conftest import HAVE_TORCH, needs_torch

pytestmark = needs_torch
if HAVE_TORCH:
    import torch
    from torch.utils.data import DataLoader, Sampler, TensorDataset
    from hardreid.torch import HardIdentityBatchSampler, HardIdentitySampler

N_IDS, PER_ID, DIM = 40, 6, 16


def data():
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(N_IDS).repeat_interleave(PER_ID)
    x = torch.randn(labels.numel(), DIM, generator=g)
    return TensorDataset(x, labels), labels


def test_batch_sampler_in_dataloader_refreshes_live_weight():
    ds, labels = data()
    fc = torch.nn.Linear(DIM, N_IDS, bias=False)
    s = HardIdentityBatchSampler(labels=labels, batch_size=16, num_instances=4, weight=fc.weight, refresh_every=2)
    assert isinstance(s, Sampler) and (s.rank, s.world_size) == (0, 1)
    opt = torch.optim.SGD(fc.parameters(), lr=0.5)
    seen = []
    for x, y in DataLoader(ds, batch_sampler=s):
        assert tuple(y.shape) == (16,) and len(set(y.view(4, 4)[:, 0].tolist())) == 4
        assert (y.view(4, 4) == y.view(4, 4)[:, :1]).all()
        loss = torch.nn.functional.cross_entropy(fc(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        seen.append(s.difficulty.copy())
    assert s.refreshes == (len(s) + 1) // 2
    assert not np.array_equal(seen[0], seen[-1])  # the weight trained: the difficulties moved
    # the last refresh read the live weight: it equals difficulty() of it now, minus the steps since
    last = (len(s) - 1) // 2 * 2
    assert np.array_equal(seen[last], seen[-1])


def test_flat_sampler_callable_and_module_weights():
    ds, labels = data()
    fc = torch.nn.Linear(DIM, N_IDS, bias=False)
    flat = HardIdentitySampler(labels=labels, batch_size=16, num_instances=4, weight=lambda: fc.weight, seed=2)
    batches = HardIdentityBatchSampler(labels=labels, batch_size=16, num_instances=4, weight=fc, seed=2)
    assert len(flat) == len(batches) * 16
    ys = [y for _, y in DataLoader(ds, sampler=flat, batch_size=16, drop_last=True)]
    assert [y.tolist() for y in ys] == [labels[b].tolist() for b in batches]


def test_pickle_and_spawn_workers():
    ds, labels = data()
    fc = torch.nn.Linear(DIM, N_IDS, bias=False)
    s = HardIdentityBatchSampler(labels=labels, batch_size=16, num_instances=4, weight=fc.weight,
                                 refresh_every=3, seed=4)
    want = [list(b) for b in pickle.loads(pickle.dumps(s))]
    loader = DataLoader(ds, batch_sampler=s, num_workers=2, multiprocessing_context="spawn")
    got = [y.tolist() for _, y in loader]
    assert got == [labels[b].tolist() for b in want]
    fl = HardIdentitySampler(labels=labels, batch_size=16, num_instances=4, weight=fc.weight, seed=4)
    loader = DataLoader(ds, sampler=fl, batch_size=16, drop_last=True, num_workers=2,
                        multiprocessing_context="spawn")
    assert [y.tolist() for _, y in loader] == got  # the same stream, flattened


def test_checkpoint_resume(tmp_path):
    ds, labels = data()
    fc = torch.nn.Linear(DIM, N_IDS, bias=False)
    kw = dict(labels=labels, batch_size=16, num_instances=4, weight=fc.weight, refresh_every=4, seed=8,
              mode="pk")
    u = HardIdentityBatchSampler(**kw)
    full = [list(b) for _ in range(2) for b in u]
    s = HardIdentityBatchSampler(**kw)
    it = iter(s)
    head = [next(it) for _ in range(5)]
    torch.save({"sampler": s.state_dict()}, tmp_path / "ck.pt")
    r = HardIdentityBatchSampler(**kw)
    r.load_state_dict(torch.load(tmp_path / "ck.pt")["sampler"])
    rest = []
    for epoch in range(r.epoch, 2):
        r.set_epoch(epoch)
        rest += [list(b) for b in r]
    assert head + rest == full
