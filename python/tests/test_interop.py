"""Array interop: what is read in place (same data pointer), what is
converted once, and that results come back in the caller's kind."""
import array

import numpy as np
import pytest

import hardreid
from hardreid._interop import as_matrix
from conftest import needs_torch, random_w


def test_numpy_zero_copy_and_strides():
    W = random_w(64, 16)
    A, ld = as_matrix(W)
    assert A.ctypes.data == W.ctypes.data and ld == 16
    V = W[::3]                                   # every third row: ld = 48, no copy
    A, ld = as_matrix(V)
    assert A.ctypes.data == V.ctypes.data and ld == 48
    P = np.zeros((64, 20), np.float32)[:, :16]   # a padded buffer: ld = 20
    A, ld = as_matrix(P)
    assert A.ctypes.data == P.ctypes.data and ld == 20
    T = np.asfortranarray(W)                     # column-major: one copy
    A, _ = as_matrix(T)
    assert A.ctypes.data != T.ctypes.data and A.flags.c_contiguous
    c, _ = hardreid.difficulty(V)
    assert (c == hardreid.difficulty(np.ascontiguousarray(V))[0]).all()
    assert (hardreid.difficulty(T)[0] == hardreid.difficulty(W)[0]).all()


def test_numpy_dtypes():
    W = random_w(50, 8)
    c = hardreid.difficulty(W)[0]
    assert (hardreid.difficulty(W.astype(np.float64))[0] == c).all()
    h = W.astype(np.float16)
    assert (hardreid.difficulty(h)[0] == hardreid.difficulty(h.astype(np.float32))[0]).all()
    assert isinstance(hardreid.difficulty(W.tolist())[0], np.ndarray)


class ArrayInterface:
    def __init__(self, a):
        self.a = a
        self.__array_interface__ = a.__array_interface__


class DLPackOnly:
    def __init__(self, a):
        self.a = a

    def __dlpack__(self, stream=None):
        return self.a.__dlpack__()

    def __dlpack_device__(self):
        return self.a.__dlpack_device__()


def test_array_interface_buffer_dlpack():
    W = random_w(40, 8)
    c = hardreid.difficulty(W)[0]
    ai = ArrayInterface(W)
    assert as_matrix(ai)[0].ctypes.data == W.ctypes.data
    assert (hardreid.difficulty(ai)[0] == c).all()
    mv = memoryview(W)
    assert as_matrix(mv)[0].ctypes.data == W.ctypes.data
    assert (hardreid.difficulty(mv)[0] == c).all()
    buf = array.array("f", W.ravel().tolist())   # a 1-D buffer: the labels / weights path
    p = hardreid.weights(buf)
    assert p.size == W.size
    if hasattr(np, "from_dlpack") and hasattr(W, "__dlpack__"):
        dl = DLPackOnly(W)
        assert as_matrix(dl)[0].ctypes.data == W.ctypes.data
        assert (hardreid.difficulty(dl)[0] == c).all()


@needs_torch
def test_torch_zero_copy_and_kind():
    import torch
    fc = torch.nn.Linear(16, 80, bias=False)     # requires_grad
    w = fc.weight
    A, ld = as_matrix(w)
    assert A.ctypes.data == w.data_ptr() and ld == 16
    c, nn = hardreid.difficulty(w)
    assert isinstance(c, torch.Tensor) and c.dtype == torch.float32 and nn.dtype == torch.int32
    want = hardreid.difficulty(w.detach().numpy())[0]
    assert (c.numpy() == want).all()
    v = w[1::2]                                  # strided view: no copy
    A, ld = as_matrix(v)
    assert A.ctypes.data == v.data_ptr() and ld == 32
    assert (hardreid.difficulty(v)[0].numpy() == hardreid.difficulty(v.detach().contiguous().numpy())[0]).all()
    t = w.t()                                    # column stride != 1: one copy
    A, _ = as_matrix(t)
    assert A.ctypes.data != t.data_ptr()
    assert (hardreid.difficulty(t)[0].numpy() == hardreid.difficulty(t.detach().contiguous().numpy())[0]).all()
    sim, idx = hardreid.neighbors_topk(w, 3)
    assert isinstance(sim, torch.Tensor) and tuple(sim.shape) == (80, 3)
    assert isinstance(hardreid.weights(c), torch.Tensor)
    assert isinstance(hardreid.normalize_rows(w), torch.Tensor)


@needs_torch
@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float64"])
def test_torch_dtypes(dtype):
    import torch
    w = torch.randn(60, 24, dtype=getattr(torch, dtype), requires_grad=True)
    A, _ = as_matrix(w)
    assert A.dtype == np.float32 and A.ctypes.data != w.data_ptr()
    want = hardreid.difficulty(w.detach().float().numpy())[0]
    assert (hardreid.difficulty(w)[0].numpy() == want).all()
    A, _ = as_matrix(w.t())  # transposed and converted: still one copy, C-contiguous
    assert A.flags.c_contiguous and (hardreid.difficulty(w.t())[0].numpy()
                                     == hardreid.difficulty(w.detach().t().float().contiguous().numpy())[0]).all()


@needs_torch
def test_torch_in_place_and_batches():
    import torch
    w = torch.randn(90, 12)
    c, nn = hardreid.difficulty(w)
    w2 = w.clone()
    w2[[4, 9]] = torch.randn(2, 12)
    ptr = c.data_ptr()
    hardreid.difficulty_update(c, nn, w2, torch.tensor([4, 9]))
    cf, nf = hardreid.difficulty(w2)
    assert c.data_ptr() == ptr and torch.equal(c, cf) and torch.equal(nn, nf)
    labels = torch.arange(30).repeat_interleave(3)
    ids = hardreid.Identities(labels)
    b = ids.batch_pk(5, 2, None, hardreid.Rng(1))
    assert isinstance(b, torch.Tensor) and b.dtype == torch.int64 and b.numel() == 10
    blk = hardreid.block(w[:40])
    hardreid.difficulty_pairs(blk)
    assert isinstance(blk.c, torch.Tensor)
