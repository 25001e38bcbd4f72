"""ctypes bindings to libhardreid.so: the library, its RNG, alias tables,
identity indexes and difficulty blocks. See the package docstring."""
import ctypes
import ctypes.util
import os
import threading

import numpy as np

from ._interop import as_matrix, as_vector, kind_of, wrap, writable_vector

__all__ = ["HardReIDError", "Library", "load", "library", "Rng", "AliasTable", "Identities", "Block",
           "POLICY", "find_library"]

POLICY = {"linear": 0, "shifted": 1, "softmax": 2}
UNIT_ROWS = 1
_sz = ctypes.c_size_t
_vp = ctypes.c_void_p
_st = ctypes.c_int  # hr_status: a C enum, int-sized


class HardReIDError(RuntimeError):
    """A hardreid call returned an error status (the text is hr_status_string's)."""


class _Rng(ctypes.Structure):
    _fields_ = [("s", ctypes.c_uint64 * 4)]


class _Alias(ctypes.Structure):
    _fields_ = [("tab", _vp), ("n", ctypes.c_uint32), ("reject", ctypes.c_uint32), ("npos", ctypes.c_uint32)]


class _Ids(ctypes.Structure):
    _fields_ = [("nids", ctypes.c_uint32), ("nsamples", ctypes.c_uint32), ("njunk", ctypes.c_uint32),
                ("label", ctypes.POINTER(ctypes.c_int32)), ("start", ctypes.POINTER(ctypes.c_uint32)),
                ("sample", ctypes.POINTER(ctypes.c_uint32))]


class _Block(ctypes.Structure):
    _fields_ = [("w", _vp), ("n", _sz), ("ld", _sz), ("first", _sz), ("c", _vp), ("nearest", _vp)]


_SIGS = {
    "hr_status_string": (ctypes.c_char_p, [_st]),
    "hr_isa_name": (ctypes.c_char_p, [ctypes.c_int]),
    "hr_get_isa": (ctypes.c_int, []),
    "hr_set_isa": (_st, [ctypes.c_int]),
    "hr_isa_supported": (ctypes.c_int, [ctypes.c_int]),
    "hr_isa_from_name": (_st, [ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)]),
    "hr_normalize_rows": (_st, [_vp, _sz, _vp, _sz, _sz, _sz]),
    "hr_difficulty": (_st, [_vp, _vp, _vp, _sz, _sz, _sz, ctypes.c_uint]),
    "hr_neighbors_topk": (_st, [_vp, _vp, _sz, _vp, _sz, _sz, _sz, ctypes.c_uint]),
    "hr_maxima_reset": (None, [_vp, _vp, _sz]),
    "hr_difficulty_pairs": (_st, [ctypes.POINTER(_Block), ctypes.POINTER(_Block), _sz, ctypes.c_uint]),
    "hr_maxima_merge": (_st, [_vp, _vp, _vp, _vp, _sz]),
    "hr_difficulty_update": (_st, [_vp, _vp, _vp, _sz, _sz, _sz, _vp, _sz, ctypes.c_uint, ctypes.POINTER(_sz)]),
    "hr_rng_seed": (None, [ctypes.POINTER(_Rng), ctypes.c_uint64]),
    "hr_rng_jump": (None, [ctypes.POINTER(_Rng)]),
    "hr_rng_below": (ctypes.c_uint32, [ctypes.POINTER(_Rng), ctypes.c_uint32]),
    "hr_alias_size": (_sz, [_sz]),
    "hr_alias_build": (_st, [ctypes.POINTER(_Alias), _vp, _vp, _sz]),
    "hr_alias_draw_n": (None, [_vp, _sz, ctypes.POINTER(_Alias), ctypes.POINTER(_Rng)]),
    "hr_ids_size": (_sz, [_sz]),
    "hr_ids_build": (_st, [ctypes.POINTER(_Ids), _vp, _vp, _sz]),
    "hr_ids_find": (ctypes.c_int32, [ctypes.POINTER(_Ids), ctypes.c_int32]),
    "hr_weights": (_st, [_vp, _vp, _sz, ctypes.c_int, ctypes.c_float, ctypes.c_float]),
    "hr_batch_hardest": (_st, [_vp, ctypes.POINTER(_Ids), _vp, _sz, _sz, _vp, _sz, ctypes.POINTER(_Rng)]),
    "hr_batch_proportional": (_st, [_vp, _sz, ctypes.POINTER(_Ids), ctypes.POINTER(_Alias), ctypes.POINTER(_Rng)]),
    "hr_batch_pk": (_st, [_vp, _sz, _sz, ctypes.POINTER(_Ids), ctypes.POINTER(_Alias), ctypes.POINTER(_Rng)]),
}


def find_library():
    """Where the shared library is: $HARDREID_LIB, else the package's own
    directory (what pip installs), else a source tree's build/ (`make lib`),
    else the linker's search path (`make install`)."""
    env = os.environ.get("HARDREID_LIB")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    for cand in (os.path.join(here, "libhardreid.so"),
                 os.path.join(here, "..", "..", "build", "libhardreid.so")):
        if os.path.exists(cand):
            return cand
    found = ctypes.util.find_library("hardreid")
    if found:
        return found
    raise OSError("libhardreid.so not found: `pip install .` builds it into the package; or run "
                  "`make lib` / `make install`, or set HARDREID_LIB to its path")


def load(path=None):
    """The library at path (default: find_library()) wrapped."""
    return Library(ctypes.CDLL(path or find_library()))


_default = None
_default_lock = threading.Lock()


def library():
    """The process-wide Library (loaded on first use)."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = load()
    return _default


def _ptr(a):
    return a.ctypes.data if a is not None else None


class Library:
    """One loaded libhardreid.so. Methods take numpy arrays, torch tensors or
    anything array-like, and return the caller's kind."""

    def __init__(self, cdll):
        self._lib = cdll
        for name, (res, args) in _SIGS.items():
            fn = getattr(cdll, name)
            fn.restype, fn.argtypes = res, args
        self.path = getattr(cdll, "_name", None)

    def _check(self, status, what):
        if status != 0:
            raise HardReIDError(f"{what}: {self._lib.hr_status_string(status).decode()}")

    # ---- ISA --------------------------------------------------------------
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

    # ---- difficulty -------------------------------------------------------
    @staticmethod
    def _flags(unit_rows):
        return UNIT_ROWS if unit_rows else 0

    def normalize_rows(self, W):
        """W's rows scaled to unit L2 norm (zero rows stay zero), a new array."""
        kind = kind_of(W)
        A, ld = as_matrix(W)
        n, d = A.shape
        out = np.empty((n, d), np.float32)
        self._check(self._lib.hr_normalize_rows(_ptr(out), d, _ptr(A), ld, n, d), "hr_normalize_rows")
        return wrap(kind, out)

    def difficulty(self, W, unit_rows=False):
        """c[i] = max_{j != i} cos(w_i, w_j) (float32) and nearest[i] = j (int32).
        W: N x d (e.g. an nn.Linear's weight), read in place when float32
        with unit column stride (any row stride)."""
        kind = kind_of(W)
        A, ld = as_matrix(W)
        n, d = A.shape
        c = np.empty(n, np.float32)
        nearest = np.empty(n, np.int32)
        self._check(self._lib.hr_difficulty(_ptr(c), _ptr(nearest), _ptr(A), n, d, ld, self._flags(unit_rows)),
                    "hr_difficulty")
        return wrap(kind, c, nearest)

    def neighbors_topk(self, W, k, unit_rows=False):
        """sim[i, r], idx[i, r]: the k most similar other rows, descending."""
        kind = kind_of(W)
        A, ld = as_matrix(W)
        n, d = A.shape
        k = int(k)
        sim = np.empty((n, k), np.float32)
        idx = np.empty((n, k), np.int32)
        self._check(self._lib.hr_neighbors_topk(_ptr(sim), _ptr(idx), k, _ptr(A), n, d, ld,
                                                self._flags(unit_rows)), "hr_neighbors_topk")
        return wrap(kind, sim, idx)

    topk = neighbors_topk

    def difficulty_update(self, c, nearest, W, changed, unit_rows=False):
        """Refresh (c, nearest) in place after the rows `changed` of W moved
        (hr_difficulty_update): afterwards they equal difficulty(W) bit for
        bit. c, nearest: a previous difficulty()'s results (numpy arrays or
        CPU tensors, updated in their own memory). Returns the number of
        rows recomputed against all."""
        A, ld = as_matrix(W)
        n, d = A.shape
        cv = writable_vector(c, np.float32, n, "c")
        nv = writable_vector(nearest, np.int32, n, "nearest")
        ch = as_vector(changed, np.int32, "changed")
        got = _sz(0)
        self._check(self._lib.hr_difficulty_update(_ptr(cv), _ptr(nv), _ptr(A), n, d, ld, _ptr(ch), ch.size,
                                                   self._flags(unit_rows), ctypes.byref(got)),
                    "hr_difficulty_update")
        return got.value

    def block(self, W, first=0, c=None, nearest=None):
        """Rows first .. first + len(W) - 1 of a larger W and their running
        maxima (reset to (-inf, -1) unless c / nearest are given)."""
        return Block(W, first, c, nearest, lib=self)

    def difficulty_pairs(self, a, b=None, unit_rows=False):
        """Fold the cosines of every pair within block a (b None) or between
        blocks a and b into their running maxima (hr_difficulty_pairs)."""
        if b is not None and a.d != b.d:
            raise ValueError(f"blocks of {a.d} and {b.d} columns")
        self._check(self._lib.hr_difficulty_pairs(ctypes.byref(a._blk), ctypes.byref(b._blk) if b is not None
                                                  else None, a.d, self._flags(unit_rows)), "hr_difficulty_pairs")

    def maxima_reset(self, c, nearest):
        """c = -inf, nearest = -1 in place."""
        n = len(c)
        cv = writable_vector(c, np.float32, n, "c")
        nv = writable_vector(nearest, np.int32, n, "nearest")
        self._lib.hr_maxima_reset(_ptr(cv), _ptr(nv), n)

    def maxima_merge(self, c, nearest, c2, nearest2):
        """(c, nearest) = the better of each pair with (c2, nearest2), in
        place (hr_maxima_merge): joins partial maxima over the same rows."""
        n = len(c)
        cv = writable_vector(c, np.float32, n, "c")
        nv = writable_vector(nearest, np.int32, n, "nearest")
        c2 = as_vector(c2, np.float32, "c2")
        n2 = as_vector(nearest2, np.int32, "nearest2")
        if c2.size != n or n2.size != n:
            raise ValueError(f"maxima of {c2.size} / {n2.size} rows merged into {n}")
        self._check(self._lib.hr_maxima_merge(_ptr(cv), _ptr(nv), _ptr(c2), _ptr(n2), n), "hr_maxima_merge")

    # ---- sampling ---------------------------------------------------------
    def weights(self, c, policy="linear", temperature=1.0, eps=0.0):
        """Sampling probabilities from difficulties (hr_weights): policy
        'linear' (c clamped at 0, the default), 'shifted' ((1 + c) / 2) or
        'softmax' (exp(c / temperature)); eps: the uniform floor's share."""
        kind = kind_of(c)
        pol = POLICY[policy]
        cv = as_vector(c, np.float32, "c")
        p = np.empty_like(cv)
        self._check(self._lib.hr_weights(_ptr(p), _ptr(cv), cv.size, pol, temperature, eps), "hr_weights")
        return wrap(kind, p)

    def rng(self, seed=0):
        return Rng(seed, lib=self)

    def alias(self, w):
        return AliasTable(w, lib=self)

    def identities(self, labels):
        return Identities(labels, lib=self)


class Rng:
    """xoshiro256** generator (hr_rng), state owned by Python; picklable.
    hr_rng_next and hr_alias_draw are static inline in the header, so the
    library does not export them: draw through AliasTable.draw_n, below()
    and the batch builders."""

    def __init__(self, seed=0, lib=None):
        self._L = lib or library()
        self.state = _Rng()
        self._L._lib.hr_rng_seed(ctypes.byref(self.state), int(seed) & 0xFFFFFFFFFFFFFFFF)

    def jump(self):
        """Advance by 2^128 outputs (hr_rng_jump): non-overlapping streams."""
        self._L._lib.hr_rng_jump(ctypes.byref(self.state))
        return self

    def below(self, n):
        """Exactly uniform on [0, n) (hr_rng_below)."""
        return int(self._L._lib.hr_rng_below(ctypes.byref(self.state), int(n)))

    def copy(self):
        r = Rng.__new__(Rng)
        r.__setstate__(self.__getstate__())
        return r

    def getstate(self):
        return tuple(int(v) for v in self.state.s)

    def setstate(self, s):
        for i in range(4):
            self.state.s[i] = int(s[i])

    def __getstate__(self):
        return {"s": self.getstate()}

    def __setstate__(self, st):
        self._L = library()
        self.state = _Rng()
        self.setstate(st["s"])

    def __eq__(self, other):
        return isinstance(other, Rng) and self.getstate() == other.getstate()


class AliasTable:
    """Walker/Vose alias table over weights w (hr_alias_build); picklable."""

    def __init__(self, w, lib=None):
        self._L = lib or library()
        self.kind = kind_of(w)
        self.weights = as_vector(w, np.float32, "w")
        size = self._L._lib.hr_alias_size(self.weights.size)
        if size == 0:
            raise HardReIDError("hr_alias_size: too many categories")
        self._mem = np.empty(size, np.uint8)  # the table lives here, as long as self
        self.table = _Alias()
        self._L._check(self._L._lib.hr_alias_build(ctypes.byref(self.table), self._mem.ctypes.data,
                                                   _ptr(self.weights), self.weights.size), "hr_alias_build")
        self.n = self.weights.size
        self.npos = int(self.table.npos)

    def draw_n(self, m, rng):
        """m draws (uint32; int64 tensor for torch weights), batched."""
        out = np.empty(int(m), np.uint32)
        self._L._lib.hr_alias_draw_n(_ptr(out), out.size, ctypes.byref(self.table), ctypes.byref(rng.state))
        return wrap(self.kind, out)

    def __getstate__(self):
        return {"w": self.weights, "kind": self.kind}

    def __setstate__(self, st):
        self.__init__(st["w"])
        self.kind = st["kind"]


class Identities:
    """Identity index over per-sample labels (hr_ids_build): identity k is
    the k-th smallest label >= 0 (the classifier row of relabelled pids);
    negative labels are junk. Batches are sample indices (uint32 numpy, or
    int64 tensors when the labels were a tensor); picklable."""

    def __init__(self, labels, lib=None):
        self._L = lib or library()
        self.kind = kind_of(labels)
        self.labels = as_vector(labels, np.int32, "labels")
        n = self.labels.size
        self._mem = np.empty(max(self._L._lib.hr_ids_size(n), 1), np.uint8)
        self.index = _Ids()
        self._L._check(self._L._lib.hr_ids_build(ctypes.byref(self.index), self._mem.ctypes.data,
                                                 _ptr(self.labels), n), "hr_ids_build")
        self.nids = int(self.index.nids)
        self.njunk = int(self.index.njunk)
        self.nsamples = int(self.index.nsamples)

    def __getstate__(self):
        return {"labels": self.labels, "kind": self.kind}

    def __setstate__(self, st):
        self.__init__(st["labels"])
        self.kind = st["kind"]

    def __len__(self):
        return self.nids

    @property
    def identity_labels(self):
        """label of identity k, ascending (a copy)."""
        return np.ctypeslib.as_array(self.index.label, (self.nids,)).copy() if self.nids else np.empty(0, np.int32)

    def counts(self):
        """Images per identity."""
        if not self.nids:
            return np.empty(0, np.int64)
        return np.diff(np.ctypeslib.as_array(self.index.start, (self.nids + 1,)).astype(np.int64))

    def samples(self, k):
        """Sample indices of identity k, ascending."""
        start = np.ctypeslib.as_array(self.index.start, (self.nids + 1,))
        return np.ctypeslib.as_array(self.index.sample, (max(self.nsamples, 1),))[start[k]:start[k + 1]].copy()

    def find(self, label):
        """Identity index of a label, or -1 (hr_ids_find)."""
        return int(self._L._lib.hr_ids_find(ctypes.byref(self.index), int(label)))

    def _out(self, out):
        return wrap(self.kind, out)

    def batch_pk(self, P, K, table, rng):
        """P distinct identities (weighted by table without replacement, or
        uniform if table is None) x K images each: out[p*K + k]."""
        out = np.empty(int(P) * int(K), np.uint32)
        tab = ctypes.byref(table.table) if table is not None else None
        self._L._check(self._L._lib.hr_batch_pk(_ptr(out), int(P), int(K), ctypes.byref(self.index), tab,
                                                ctypes.byref(rng.state)), "hr_batch_pk")
        return self._out(out)

    def batch_proportional(self, count, table, rng):
        """Mode B: count sample indices, each identity drawn from table,
        the image uniform among its images."""
        out = np.empty(int(count), np.uint32)
        self._L._check(self._L._lib.hr_batch_proportional(_ptr(out), int(count), ctypes.byref(self.index),
                                                          ctypes.byref(table.table), ctypes.byref(rng.state)),
                       "hr_batch_proportional")
        return self._out(out)

    def batch_hardest(self, c, first_count, second_count, rng, nearest=None, nearest_count=0):
        """Mode A: first_count images of the hardest identity t = argmax c,
        nearest_count images of nearest[t], then second_count images drawn
        per image among every identity but t (hr_batch_hardest)."""
        cv = as_vector(c, np.float32, "c")
        nv = as_vector(nearest, np.int32, "nearest") if nearest is not None else None
        if cv.size != self.nids or (nv is not None and nv.size != self.nids):
            raise ValueError(f"c / nearest must have one entry per identity ({self.nids})")
        total = int(first_count) + int(nearest_count) + int(second_count)
        out = np.empty(total, np.uint32)
        self._L._check(self._L._lib.hr_batch_hardest(_ptr(out), ctypes.byref(self.index), _ptr(cv),
                                                     int(first_count), int(second_count), _ptr(nv),
                                                     int(nearest_count), ctypes.byref(rng.state)),
                       "hr_batch_hardest")
        return self._out(out)


class Block:
    """Rows first .. first + n - 1 of a larger W (hr_block) and their running
    maxima c, nearest (global indices). For W split across processes or
    machines: fold pairs with Library.difficulty_pairs, join partial maxima
    with Library.maxima_merge."""

    def __init__(self, W, first=0, c=None, nearest=None, lib=None):
        self._L = lib or library()
        self.kind = kind_of(W)
        self.w, ld = as_matrix(W)  # kept: the C struct points into it
        n, self.d = self.w.shape
        if c is None:
            self._c = np.full(n, -np.inf, np.float32)
            self._nearest = np.full(n, -1, np.int32)
        else:
            self._c = writable_vector(c, np.float32, n, "c")
            self._nearest = writable_vector(nearest, np.int32, n, "nearest")
        self.first = int(first)
        self._blk = _Block(self.w.ctypes.data, n, ld, self.first, self._c.ctypes.data, self._nearest.ctypes.data)

    @property
    def c(self):
        return wrap(self.kind, self._c)

    @property
    def nearest(self):
        return wrap(self.kind, self._nearest)
