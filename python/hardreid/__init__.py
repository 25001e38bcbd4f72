"""hardreid: hardness-aware identity sampling for re-ID training.

Bindings (ctypes) to libhardreid.so, the single-header C library built with
runtime ISA dispatch and shipped inside this package.

    import hardreid as hr
    c, nearest = hr.difficulty(fc.weight)     # c_i = max_{n != i} cos(w_i, w_n)
    p = hr.weights(c, eps=0.05)               # difficulty -> probabilities
    table = hr.AliasTable(p)                  # O(N) build, O(1) draws
    ids = table.draw_n(1024, hr.Rng(42))

    from hardreid.torch import HardIdentityBatchSampler   # P x K batches by hardness

Arrays: numpy arrays, torch tensors (any stride, requires_grad, CPU or
not) and objects with __dlpack__ / __array_interface__ / the buffer
protocol. float32 with unit column stride is read in place (a slice of
rows too); other dtypes (float16, bfloat16, float64) and layouts are
converted with one copy. Results come back as the caller's kind: torch in,
torch out (int32 indices; uint32 sample indices become int64 tensors).
Errors raise HardReIDError with hr_status_string's text.

The module-level functions use one process-wide library (library(), found
by find_library(): $HARDREID_LIB, the package directory, a source tree's
build/); load(path) wraps another build.
"""
from ._core import (AliasTable, Block, HardReIDError, Identities, Library, POLICY, Rng, find_library, library,
                    load)
from .sampler import HardIdentityBatches, labels_of


def _version():
    try:
        from importlib.metadata import version
        return version("hardreid")
    except Exception:  # a source tree (examples/python's shim): the header says
        import os
        import re
        h = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "hardreid.h")
        try:
            with open(h, encoding="utf-8") as f:
                return re.search(r'HARDREID_VERSION_STRING "([^"]+)"', f.read()).group(1)
        except (OSError, AttributeError):
            return "unknown"


__version__ = _version()

__all__ = ["AliasTable", "Block", "HardReIDError", "Identities", "Library", "POLICY", "Rng", "find_library",
           "library", "load", "HardIdentityBatches", "labels_of", "isa", "isas", "set_isa", "normalize_rows",
           "difficulty", "neighbors_topk", "topk", "difficulty_update", "block", "difficulty_pairs",
           "maxima_reset", "maxima_merge", "weights", "rng", "alias", "identities", "__version__"]


def _forward(name):
    def fn(*args, **kw):
        return getattr(library(), name)(*args, **kw)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = getattr(Library, name).__doc__
    return fn


for _name in ("isa", "isas", "set_isa", "normalize_rows", "difficulty", "neighbors_topk", "topk",
              "difficulty_update", "block", "difficulty_pairs", "maxima_reset", "maxima_merge", "weights",
              "rng", "alias", "identities"):
    globals()[_name] = _forward(_name)
del _name
