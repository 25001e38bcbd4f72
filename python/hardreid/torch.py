"""PyTorch samplers: hardness-aware P x K batches for a DataLoader.

    from hardreid.torch import HardIdentityBatchSampler
    sampler = HardIdentityBatchSampler(train_set, batch_size=64, num_instances=4,
                                       weight=model.classifier.weight, refresh_every=100)
    loader = DataLoader(train_set, batch_sampler=sampler, num_workers=4)

HardIdentityBatchSampler yields batches (lists of indices: DataLoader's
batch_sampler=); HardIdentitySampler yields the same indices one by one, as
torchreid's RandomIdentitySampler and fast-reid's NaiveIdentitySampler do
(sampler=, with batch_size = P * K and drop_last=True). The logic, its
arguments and its determinism are hardreid.sampler.HardIdentityBatches';
here rank and world_size default to torch.distributed's when a process
group is initialized, so under DDP each rank gets its disjoint share of
every global batch without further arguments.
"""
import torch
import torch.distributed as dist
from torch.utils.data import Sampler

from .sampler import HardIdentityBatches, labels_of

__all__ = ["HardIdentityBatchSampler", "HardIdentitySampler", "labels_of"]


def _dist_default(rank, world_size):
    if dist.is_available() and dist.is_initialized():
        if world_size is None:
            world_size = dist.get_world_size()
        if rank is None:
            rank = dist.get_rank()
    return (0 if rank is None else rank), (1 if world_size is None else world_size)


class HardIdentityBatchSampler(HardIdentityBatches, Sampler):
    """Batches (lists of sample indices) of P identities x K images drawn by
    hardness; see hardreid.sampler.HardIdentityBatches for every argument.
    rank / world_size: None = torch.distributed's (0 / 1 without a group)."""

    def __init__(self, data_source=None, batch_size=None, num_instances=4, *, rank=None, world_size=None, **kw):
        rank, world_size = _dist_default(rank, world_size)
        HardIdentityBatches.__init__(self, data_source, batch_size, num_instances, rank=rank,
                                     world_size=world_size, **kw)


class HardIdentitySampler(HardIdentityBatchSampler):
    """The same batches, flattened into one index stream (torchreid's and
    fast-reid's shape): use with DataLoader(batch_size=P * K, drop_last=True)."""

    def __iter__(self):
        for b in HardIdentityBatchSampler.__iter__(self):
            yield from b

    def __len__(self):
        return self.batches_per_epoch * self.batch_size
