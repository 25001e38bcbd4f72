"""hardreid from Python: ctypes bindings to build/libhardreid.so (`make lib`).

    import numpy as np, hardreid
    hr = hardreid.load()                      # HARDREID_LIB, ../../build, or ld's path
    c, nearest = hr.difficulty(W)             # W: N x d float32 (e.g. fc.weight)
    p = hr.weights(c, eps=0.05)               # difficulty -> sampling probabilities
    rng = hr.rng(42)
    table = hr.alias(p)                       # O(N) build, O(1) draws
    ids = table.draw_n(1024, rng)             # uint32 identities

Arrays are passed without copies when they already are float32 / int32 and
C-contiguous (a PyTorch weight's .detach().cpu().numpy() is); anything else
is converted once. Every call checks the library's status code and raises
HardReIDError with hr_status_string's text. Memory the C side keeps
pointers into (alias tables, identity indexes) is owned by the Python
objects, so it lives as long as they do.
"""
import ctypes
import ctypes.util
import os

import numpy as np

__all__ = ["load", "HardReIDError", "Library"]

_f32p = np.ctypeslib.ndpointer(dtype=np.float32, flags="C_CONTIGUOUS")
_i32p = np.ctypeslib.ndpointer(dtype=np.int32, flags="C_CONTIGUOUS")
_u32p = np.ctypeslib.ndpointer(dtype=np.uint32, flags="C_CONTIGUOUS")
_sz = ctypes.c_size_t

POLICY = {"linear": 0, "shifted": 1, "softmax": 2}
UNIT_ROWS = 1


class HardReIDError(RuntimeError):
    """A hardreid call returned an error status."""


class _Rng(ctypes.Structure):
    _fields_ = [("s", ctypes.c_uint64 * 4)]


class _Alias(ctypes.Structure):
    _fields_ = [("tab", ctypes.c_void_p), ("n", ctypes.c_uint32),
                ("reject", ctypes.c_uint32), ("npos", ctypes.c_uint32)]


class _Ids(ctypes.Structure):
    _fields_ = [("nids", ctypes.c_uint32), ("nsamples", ctypes.c_uint32),
                ("njunk", ctypes.c_uint32), ("label", ctypes.POINTER(ctypes.c_int32)),
                ("start", ctypes.POINTER(ctypes.c_uint32)),
                ("sample", ctypes.POINTER(ctypes.c_uint32))]


def _find_library():
    env = os.environ.get("HARDREID_LIB")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    local = os.path.join(here, "..", "..", "build", "libhardreid.so")
    if os.path.exists(local):
        return local
    found = ctypes.util.find_library("hardreid")
    if found:
        return found
    raise OSError("libhardreid.so not found: run `make lib`, `make install`, "
                  "or set HARDREID_LIB to its path")


def load(path=None):
    """The library at path (default: see _find_library) wrapped."""
    return Library(ctypes.CDLL(path or _find_library()))


class Library:
    def __init__(self, cdll):
        L = self._lib = cdll
        st = ctypes.c_int  # hr_status: a C enum, int-sized
        L.hr_status_string.restype = ctypes.c_char_p
        L.hr_status_string.argtypes = [ctypes.c_int]
        L.hr_isa_name.restype = ctypes.c_char_p
        L.hr_isa_name.argtypes = [ctypes.c_int]
        L.hr_get_isa.restype = ctypes.c_int
        L.hr_get_isa.argtypes = []
        L.hr_set_isa.restype = st
        L.hr_set_isa.argtypes = [ctypes.c_int]
        L.hr_isa_supported.restype = ctypes.c_int
        L.hr_isa_supported.argtypes = [ctypes.c_int]
        L.hr_isa_from_name.restype = st
        L.hr_isa_from_name.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)]
        L.hr_difficulty.restype = st
        L.hr_difficulty.argtypes = [_f32p, _i32p, ctypes.c_void_p, _sz, _sz, _sz, ctypes.c_uint]
        L.hr_difficulty_update.restype = st
        L.hr_difficulty_update.argtypes = [_f32p, _i32p, ctypes.c_void_p, _sz, _sz, _sz, _i32p, _sz,
                                           ctypes.c_uint, ctypes.POINTER(_sz)]
        L.hr_neighbors_topk.restype = st
        L.hr_neighbors_topk.argtypes = [_f32p, _i32p, _sz, ctypes.c_void_p, _sz, _sz, _sz, ctypes.c_uint]
        L.hr_weights.restype = st
        L.hr_weights.argtypes = [_f32p, _f32p, _sz, ctypes.c_int, ctypes.c_float, ctypes.c_float]
        L.hr_rng_seed.restype = None
        L.hr_rng_seed.argtypes = [ctypes.POINTER(_Rng), ctypes.c_uint64]
        L.hr_alias_size.restype = _sz
        L.hr_alias_size.argtypes = [_sz]
        L.hr_alias_build.restype = st
        L.hr_alias_build.argtypes = [ctypes.POINTER(_Alias), ctypes.c_void_p, _f32p, _sz]
        L.hr_alias_draw_n.restype = None
        L.hr_alias_draw_n.argtypes = [_u32p, _sz, ctypes.POINTER(_Alias), ctypes.POINTER(_Rng)]
        L.hr_ids_size.restype = _sz
        L.hr_ids_size.argtypes = [_sz]
        L.hr_ids_build.restype = st
        L.hr_ids_build.argtypes = [ctypes.POINTER(_Ids), ctypes.c_void_p, _i32p, _sz]
        L.hr_batch_proportional.restype = st
        L.hr_batch_proportional.argtypes = [_u32p, _sz, ctypes.POINTER(_Ids),
                                            ctypes.POINTER(_Alias), ctypes.POINTER(_Rng)]
        L.hr_batch_pk.restype = st
        L.hr_batch_pk.argtypes = [_u32p, _sz, _sz, ctypes.POINTER(_Ids),
                                  ctypes.POINTER(_Alias), ctypes.POINTER(_Rng)]

    def _check(self, status, what):
        if status != 0:
            raise HardReIDError(f"{what}: {self._lib.hr_status_string(status).decode()}")

    # ---- ISA ---------------------------------------------------------------
    def isa(self):
        """Name of the path the next call runs ('scalar', 'avx2', ...)."""
        return self._lib.hr_isa_name(self._lib.hr_get_isa()).decode()

    def isas(self):
        """{name: runs here} for every path of the library's ISA registry."""
        out, i = {}, 1
        while True:  # the registry ends where hr_isa_name says "unknown"
            name = self._lib.hr_isa_name(i).decode()
            if name == "unknown":
                return out
            out[name] = bool(self._lib.hr_isa_supported(i))
            i += 1

    def set_isa(self, name):
        """Force a path by name ('auto': the best one); KeyError for a name
        no path has, HardReIDError for one this build or CPU lacks."""
        isa = ctypes.c_int(0)
        if self._lib.hr_isa_from_name(str(name).encode(), ctypes.byref(isa)) != 0:
            raise KeyError(f"unknown ISA {name!r}: one of auto, {', '.join(self.isas())}")
        self._check(self._lib.hr_set_isa(isa.value), f"hr_set_isa({name})")

    # ---- difficulty ----------------------------------------------------------
    @staticmethod
    def _matrix(W):
        """(array, ldw): float32 with unit column stride; row stride kept, so a
        slice of rows or a padded buffer goes in without a copy."""
        W = np.asarray(W)
        if W.ndim != 2:
            raise ValueError(f"W must be 2-D (identities x features), got shape {W.shape}")
        if W.dtype != np.float32 or W.strides[1] != 4 or W.strides[0] % 4 or W.strides[0] < 4 * W.shape[1]:
            W = np.ascontiguousarray(W, dtype=np.float32)
        ldw = W.strides[0] // 4 if W.shape[0] > 1 else W.shape[1]
        return W, ldw

    def difficulty(self, W, unit_rows=False):
        """c[i] = max_{j != i} cos(w_i, w_j) (float32) and nearest[i] = j (int32)."""
        W, ldw = self._matrix(W)
        n, d = W.shape
        c = np.empty(n, np.float32)
        nearest = np.empty(n, np.int32)
        self._check(self._lib.hr_difficulty(c, nearest, W.ctypes.data, n, d, ldw,
                                            UNIT_ROWS if unit_rows else 0), "hr_difficulty")
        return c, nearest

    def difficulty_update(self, c, nearest, W, changed, unit_rows=False):
        """Refresh (c, nearest) in place after the rows `changed` of W moved
        (hr_difficulty_update): afterwards they equal difficulty(W) bit for
        bit. c, nearest: a previous difficulty()'s float32 / int32 arrays.
        Returns the number of rows recomputed against all."""
        W, ldw = self._matrix(W)
        n, d = W.shape
        if not (isinstance(c, np.ndarray) and c.dtype == np.float32 and c.shape == (n,) and c.flags.c_contiguous
                and isinstance(nearest, np.ndarray) and nearest.dtype == np.int32
                and nearest.shape == (n,) and nearest.flags.c_contiguous):
            raise ValueError(f"c and nearest must be contiguous float32 / int32 arrays of shape ({n},)")
        ch = np.ascontiguousarray(changed, dtype=np.int32).ravel()
        got = _sz(0)
        self._check(self._lib.hr_difficulty_update(c, nearest, W.ctypes.data, n, d, ldw, ch, ch.size,
                                                   UNIT_ROWS if unit_rows else 0, ctypes.byref(got)),
                    "hr_difficulty_update")
        return got.value

    def neighbors_topk(self, W, k, unit_rows=False):
        """sim[i, r], idx[i, r]: the k most similar other rows, descending."""
        W, ldw = self._matrix(W)
        n, d = W.shape
        sim = np.empty((n, k), np.float32)
        idx = np.empty((n, k), np.int32)
        self._check(self._lib.hr_neighbors_topk(sim, idx, k, W.ctypes.data, n, d, ldw,
                                                UNIT_ROWS if unit_rows else 0), "hr_neighbors_topk")
        return sim, idx

    # ---- sampling -------------------------------------------------------------
    def weights(self, c, policy="linear", temperature=1.0, eps=0.0):
        """Sampling probabilities from difficulties (hr_weights)."""
        c = np.ascontiguousarray(c, dtype=np.float32)
        p = np.empty_like(c)
        self._check(self._lib.hr_weights(p, c, c.size, POLICY[policy], temperature, eps), "hr_weights")
        return p

    def rng(self, seed):
        return Rng(self, seed)

    def alias(self, w):
        return AliasTable(self, w)

    def identities(self, labels):
        return Identities(self, labels)


class Rng:
    """xoshiro256** state owned by Python (hr_rng)."""

    def __init__(self, lib, seed):
        self._L = lib
        self.state = _Rng()
        lib._lib.hr_rng_seed(ctypes.byref(self.state), seed)
    # hr_rng_next and hr_alias_draw are static inline in hardreid.h (for C
    # draw loops), so the shared library does not export them: from Python
    # use the batched AliasTable.draw_n and the batch builders.


class AliasTable:
    """Walker/Vose alias table over weights w (hr_alias_build)."""

    def __init__(self, lib, w):
        self._L = lib
        w = np.ascontiguousarray(w, dtype=np.float32)
        size = lib._lib.hr_alias_size(w.size)
        if size == 0:
            raise HardReIDError("hr_alias_size: too many categories")
        self._mem = np.empty(size, np.uint8)  # the table lives here
        self.table = _Alias()
        lib._check(lib._lib.hr_alias_build(ctypes.byref(self.table), self._mem.ctypes.data, w, w.size),
                   "hr_alias_build")
        self.n = w.size

    def draw_n(self, m, rng):
        out = np.empty(m, np.uint32)
        self._L._lib.hr_alias_draw_n(out, m, ctypes.byref(self.table), ctypes.byref(rng.state))
        return out


class Identities:
    """Identity index over per-sample labels (hr_ids_build); identity k is the
    k-th smallest label >= 0, negative labels are junk."""

    def __init__(self, lib, labels):
        self._L = lib
        self._labels = np.ascontiguousarray(labels, dtype=np.int32)
        self._mem = np.empty(max(lib._lib.hr_ids_size(self._labels.size), 1), np.uint8)
        self.index = _Ids()
        lib._check(lib._lib.hr_ids_build(ctypes.byref(self.index), self._mem.ctypes.data,
                                         self._labels, self._labels.size), "hr_ids_build")
        self.nids = self.index.nids
        self.njunk = self.index.njunk

    def batch_proportional(self, count, table, rng):
        """count sample indices: identity from the table, image uniform within."""
        out = np.empty(count, np.uint32)
        self._L._check(self._L._lib.hr_batch_proportional(out, count, ctypes.byref(self.index),
                                                          ctypes.byref(table.table), ctypes.byref(rng.state)),
                       "hr_batch_proportional")
        return out

    def batch_pk(self, P, K, table, rng):
        """P distinct identities (weighted by table, or uniform if None) x K images."""
        out = np.empty(P * K, np.uint32)
        tab = ctypes.byref(table.table) if table is not None else None
        self._L._check(self._L._lib.hr_batch_pk(out, P, K, ctypes.byref(self.index), tab,
                                                ctypes.byref(rng.state)), "hr_batch_pk")
        return out
