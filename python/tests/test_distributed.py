"""Two torch.distributed ranks (gloo, tcp://127.0.0.1:<free port>, spawned
with torch.multiprocessing): each rank's sampler takes rank / world_size
from the process group and refreshes from its own (DDP-synchronised)
classifier; the ranks' batches are disjoint at every step, and identical to
what a single process computes for each rank with the same seed."""
import json
import socket

import numpy as np

from conftest import HAVE_TORCH, needs_torch

pytestmark = needs_torch
if HAVE_TORCH:
    import torch
    import torch.distributed as dist
    import torch.multiprocessing as mp

N_IDS, PER_ID, DIM, WORLD = 50, 5, 12, 2


def _setup():
    torch.manual_seed(0)  # the same initial classifier on every rank
    labels = torch.arange(N_IDS).repeat_interleave(PER_ID)
    fc = torch.nn.Linear(DIM, N_IDS, bias=False)
    return labels, fc


def _kw(labels, fc):
    return dict(labels=labels, batch_size=12, num_instances=3, weight=fc.weight, refresh_every=3, seed=21)


def _worker(rank, port, out_dir):
    from hardreid.torch import HardIdentityBatchSampler
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
    try:
        labels, fc = _setup()
        s = HardIdentityBatchSampler(**_kw(labels, fc))
        assert (s.rank, s.world_size) == (rank, WORLD)
        batches = []
        for epoch in range(2):
            s.set_epoch(epoch)
            for b in s:
                batches.append(b)
                with torch.no_grad():  # a "training step" every rank agrees on (DDP's all-reduce)
                    g = torch.randn(N_IDS, DIM, generator=torch.Generator().manual_seed(len(batches)))
                    dist.all_reduce(g)
                    fc.weight.add_(0.05 * g / WORLD)
        gathered = [None] * WORLD
        dist.all_gather_object(gathered, batches)
        with open(f"{out_dir}/rank{rank}.json", "w") as f:
            json.dump({"batches": batches, "gathered": gathered}, f)
    finally:
        dist.destroy_process_group()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_ranks_disjoint_reproducible(tmp_path):
    mp.spawn(_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    res = [json.load(open(tmp_path / f"rank{r}.json")) for r in range(WORLD)]
    b0, b1 = res[0]["batches"], res[1]["batches"]
    assert len(b0) == len(b1) > 4
    assert res[0]["gathered"] == res[1]["gathered"] == [b0, b1]
    labels = np.repeat(np.arange(N_IDS), PER_ID)
    for x, y in zip(b0, b1):
        assert not set(x) & set(y)                                    # disjoint images
        assert not set(labels[x].tolist()) & set(labels[y].tolist())  # and identities
    # reproducible: one process replaying each rank (same seed, same weight updates)
    from hardreid.torch import HardIdentityBatchSampler
    for r, want in enumerate((b0, b1)):
        labels_t, fc = _setup()
        s = HardIdentityBatchSampler(rank=r, world_size=WORLD, **_kw(labels_t, fc))
        got = []
        for epoch in range(2):
            s.set_epoch(epoch)
            for b in s:
                got.append(b)
                with torch.no_grad():
                    g = torch.randn(N_IDS, DIM, generator=torch.Generator().manual_seed(len(got)))
                    fc.weight.add_(0.05 * g)  # what all_reduce(g) / WORLD gave the ranks
        assert got == want, f"rank {r}"
