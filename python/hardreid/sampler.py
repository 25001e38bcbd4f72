"""Hardness-aware identity batches, framework-free (numpy only).

HardIdentityBatches is the whole logic of hardreid.torch's samplers: an
iterable of batches (lists of sample indices) in the shape torchreid's
RandomIdentitySampler and fast-reid's NaiveIdentitySampler produce, P
identities x K images, with the identities drawn by how confusable their
classifier rows are. hardreid.torch only adds torch.utils.data.Sampler as a
base class and torch.distributed's rank / world size as defaults.

Determinism. Batch `step` of epoch `epoch` is a pure function of (seed,
epoch, step) and the current alias table: its generator is seeded from
those numbers, never carried from batch to batch. So
  - ranks: every rank builds the same *global* batch of world_size * P
    identities (world_size x P x K images) and keeps its own slice: at each
    step the ranks' identities, hence images, are disjoint, and a seed
    gives the same batches on every run and machine;
  - resuming: state_dict() holds (epoch, position, the last refresh's
    difficulties); load_state_dict() continues exactly where the
    uninterrupted run would have been, given the same weights.
Refresh. Every `refresh_every` batches of an epoch (at positions 0, R, 2R,
...) the sampler reads the classifier weight (a tensor / array, a module
with .weight, or a callable returning one), computes the difficulties of
the training identities' rows and rebuilds its alias table. Without a
weight (or before the first refresh) identities are drawn uniformly.
With a DataLoader, the sampler runs in the main process but the loader
fetches num_workers * prefetch_factor batches ahead: a refresh reaches
training that many batches later, and state_dict(position=step) takes the
number of batches training really consumed.
"""
import numpy as np

from ._core import AliasTable, Identities, Rng, library
from ._interop import as_matrix

__all__ = ["HardIdentityBatches", "labels_of", "MODES"]

MODES = ("pk", "uniform", "proportional", "hardest")
_M64 = (1 << 64) - 1


def _mix(*xs):
    """A 64-bit seed from integers (splitmix64's finalizer over each)."""
    h = 0x243F6A8885A308D3
    for x in xs:
        h = (h + (int(x) & _M64) + 0x9E3779B97F4A7C15) & _M64
        h = ((h ^ (h >> 30)) * 0xBF58476D1CE4E5B9) & _M64
        h = ((h ^ (h >> 27)) * 0x94D049BB133111EB) & _M64
        h ^= h >> 31
    return h


def labels_of(data_source):
    """Per-sample identity labels of a data source, without loading images:
    a torchreid dataset (.train) or its list of (path, pid, camid) tuples
    or {'pid': ...} dicts, fast-reid's list of (path, pid, camid), an object
    with .targets / .labels / .pids (torchvision's ImageFolder), or an array.
    Labels that are not integers (fast-reid's 'market1501_12') are numbered
    in sorted order, as fast-reid's pid_dict does."""
    src = data_source
    if hasattr(src, "train") and not callable(src.train):
        src = src.train
    for attr in ("targets", "labels", "pids"):
        if hasattr(src, attr) and not callable(getattr(src, attr)):
            src = getattr(src, attr)
            break
    if hasattr(src, "detach"):  # a tensor
        src = src.detach().cpu().numpy()
    if isinstance(src, np.ndarray):
        labels = src
    else:
        if not isinstance(src, (list, tuple, range)):  # never iterate a Dataset: that loads images
            raise TypeError(f"no labels in {type(data_source).__name__} (no .train, .targets, .labels, "
                            ".pids): pass labels=")
        items = list(src)
        if items and isinstance(items[0], dict):
            labels = [it["pid"] for it in items]
        elif items and isinstance(items[0], (tuple, list)):
            labels = [it[1] for it in items]
        else:
            labels = items
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iub":
        uniq = sorted(set(labels.tolist()))
        pos = {p: i for i, p in enumerate(uniq)}
        labels = np.array([pos[p] for p in labels.tolist()], np.int64)
    labels = labels.astype(np.int64).reshape(-1)
    if labels.size and (labels.max() > np.iinfo(np.int32).max or labels.min() < np.iinfo(np.int32).min):
        raise ValueError("labels must fit in int32")
    return labels.astype(np.int32)


def _weight_array(src):
    """The weight matrix a weight source stands for right now."""
    w = src
    if hasattr(w, "weight") and not hasattr(w, "shape"):  # nn.Linear, a margin head
        w = w.weight
    elif callable(w) and not hasattr(w, "shape"):
        w = w()
        if hasattr(w, "weight") and not hasattr(w, "shape"):
            w = w.weight
    return w


class HardIdentityBatches:
    """Batches of P identities x K images drawn by hardness.

    data_source / labels: the training samples' identities (see labels_of).
    batch_size (P * K, per rank) or num_identities (P); num_instances (K).
    mode: 'pk' (default: P distinct identities drawn proportionally to
      their weights without replacement, K images each), 'uniform' (the
      control: P x K with uniform identities, torchreid's
      RandomIdentitySampler), 'proportional' (Mode B: every image's
      identity drawn from the weights, with replacement: not P x K),
      'hardest' (Mode A: K images of the hardest identity, K of its
      nearest, the rest drawn per image from all others; each rank its own
      draw, the hardest identity in every rank's batch by design).
    weight: the classifier weight (tensor / array, module with .weight, or
      a callable returning it), rows = identities in label order (row k of
      N rows is the k-th smallest label; with more rows than identities,
      row = label); refresh_every: R batches between refreshes (0: only
      explicit refresh() calls); policy, temperature, eps: hr_weights'.
    batches_per_epoch: default len(samples) // (batch_size * world_size).
    seed; rank, world_size: this process's share of every global batch.
    """

    def __init__(self, data_source=None, batch_size=None, num_instances=4, *, labels=None, num_identities=None,
                 mode="pk", weight=None, refresh_every=1, policy="linear", temperature=1.0, eps=0.05,
                 batches_per_epoch=None, seed=0, rank=0, world_size=1):
        if labels is None:
            if data_source is None:
                raise TypeError("pass data_source or labels")
            labels = labels_of(data_source)
        else:
            labels = labels_of(labels)
        if mode not in MODES:
            raise ValueError(f"mode {mode!r}: one of {', '.join(MODES)}")
        K = int(num_instances)
        if num_identities is None:
            batch_size = 64 if batch_size is None else int(batch_size)
            if K <= 0 or batch_size % K:
                raise ValueError(f"batch_size {batch_size} is not a multiple of num_instances {K}")
            num_identities = batch_size // K
        P = int(num_identities)
        if P <= 0 or K <= 0:
            raise ValueError("num_identities and num_instances must be positive")
        world_size, rank = int(world_size), int(rank)
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} of world_size {world_size}")
        self.labels, self.P, self.K, self.mode = labels, P, K, mode
        self.batch_size = P * K
        self.weight, self.refresh_every = weight, int(refresh_every or 0)
        self.policy, self.temperature, self.eps = policy, float(temperature), float(eps)
        self.seed, self.rank, self.world_size = int(seed), rank, world_size
        self._build()
        if mode in ("pk", "uniform") and P * world_size > self.ids.nids:
            raise ValueError(f"{P} identities x {world_size} ranks per batch, but only {self.ids.nids} identities")
        if batches_per_epoch is None:
            batches_per_epoch = max(1, self.ids.nsamples // (self.batch_size * world_size))
        self.batches_per_epoch = int(batches_per_epoch)
        self.epoch, self._pos = 0, 0
        self.difficulty = self.nearest = self.probabilities = None
        self.refreshes = 0

    def _build(self):
        self.ids = Identities(self.labels)
        if self.ids.nids == 0:
            raise ValueError("no identities (every label is negative)")
        self._table = None

    # ---- refresh ----------------------------------------------------------
    def _rows(self, W):
        A, _ = as_matrix(W, "weight")
        n = self.ids.nids
        if A.shape[0] == n:
            return A
        lab = self.ids.identity_labels
        if A.shape[0] > lab.max() and lab.min() >= 0:
            return np.ascontiguousarray(A[lab])  # rows of the training identities (one copy)
        raise ValueError(f"weight has {A.shape[0]} rows: want one per identity ({n}) or one per label "
                         f"(> {lab.max()})")

    def refresh(self, weight=None):
        """Recompute the difficulties from weight (default: the sampler's
        weight source) and rebuild the alias table."""
        src = self.weight if weight is None else weight
        if src is None:
            raise ValueError("no weight to refresh from: pass weight= here or to the sampler")
        c, nearest = library().difficulty(self._rows(_weight_array(src)))
        self._set_difficulty(c, nearest)
        self.refreshes += 1

    def _set_difficulty(self, c, nearest):
        lib = library()
        self.difficulty, self.nearest = np.asarray(c, np.float32), np.asarray(nearest, np.int32)
        self.probabilities = lib.weights(self.difficulty, self.policy, self.temperature, self.eps)
        self._table = AliasTable(self.probabilities)

    # ---- batches ----------------------------------------------------------
    def batch(self, epoch, step):
        """This rank's batch `step` of `epoch` under the current table."""
        B, ws, r = self.batch_size, self.world_size, self.rank
        if self.mode == "hardest" and self.difficulty is not None and self.ids.nids > 1:
            rng = Rng(_mix(self.seed, epoch, step, r))
            nc = self.K if self.P > 1 else 0  # the confusable pair in one batch
            first = min(self.K, B)
            out = self.ids.batch_hardest(self.difficulty, first, B - first - nc, rng, self.nearest, nc)
            return np.asarray(out, np.int64).tolist()
        rng = Rng(_mix(self.seed, epoch, step))
        if self.mode == "proportional":
            table = self._table or AliasTable(np.ones(self.ids.nids, np.float32))
            g = self.ids.batch_proportional(B * ws, table, rng)
        else:
            table = self._table if self.mode == "pk" else None
            g = self.ids.batch_pk(self.P * ws, self.K, table, rng)
        return np.asarray(g[r * B:(r + 1) * B], np.int64).tolist()

    def __iter__(self):
        epoch, start = self.epoch, self._pos
        for step in range(start, self.batches_per_epoch):
            if self.weight is not None and self.refresh_every and step % self.refresh_every == 0:
                self.refresh()
            b = self.batch(epoch, step)
            self._pos = step + 1
            yield b
        if self.epoch == epoch and self._pos >= self.batches_per_epoch:
            self.epoch, self._pos = epoch + 1, 0

    def __len__(self):
        return self.batches_per_epoch

    def set_epoch(self, epoch):
        """Start epoch `epoch` at its first batch (a no-op for the current
        epoch, so a resumed position survives the usual set_epoch call)."""
        if int(epoch) != self.epoch:
            self.epoch, self._pos = int(epoch), 0

    # ---- checkpoints ------------------------------------------------------
    def state_dict(self, position=None):
        """What resuming needs: epoch, position (batches done in it; default
        the batches this sampler yielded, pass the number training consumed
        when a loader prefetches), the last refresh's difficulties, seed."""
        return {"epoch": self.epoch, "position": self._pos if position is None else int(position),
                "seed": self.seed, "mode": self.mode, "P": self.P, "K": self.K,
                "nids": self.ids.nids, "refreshes": self.refreshes,
                "difficulty": None if self.difficulty is None else self.difficulty.copy(),
                "nearest": None if self.nearest is None else self.nearest.copy()}

    def load_state_dict(self, state):
        if state["nids"] != self.ids.nids:
            raise ValueError(f"state of a sampler over {state['nids']} identities, this one has {self.ids.nids}")
        self.epoch, self._pos, self.seed = int(state["epoch"]), int(state["position"]), int(state["seed"])
        self.refreshes = int(state.get("refreshes", 0))
        if state.get("difficulty") is not None:
            self._set_difficulty(state["difficulty"], state["nearest"])
        else:
            self.difficulty = self.nearest = self.probabilities = self._table = None

    # ---- pickling (DataLoader workers, spawn) -------------------------------
    def __getstate__(self):
        st = {k: v for k, v in self.__dict__.items() if k not in ("ids", "_table")}
        return st

    def __setstate__(self, st):
        self.__dict__.update(st)
        self._build()
        if self.difficulty is not None:
            self._set_difficulty(self.difficulty, self.nearest)
