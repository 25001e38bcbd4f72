"""Arrays in and out: numpy, torch, and anything with __dlpack__,
__array_interface__ or the buffer protocol.

Every input becomes a numpy array the C call reads in place when its layout
allows (float32 / int32, unit column stride, a row stride the C API can
express); otherwise it is converted with exactly one copy. torch tensors go
through .detach() (requires_grad is fine) and, when they are not float32 on
the CPU, one .to(device="cpu", dtype=float32); float32 CPU tensors are read
through .numpy() without a copy. Outputs come back in the caller's kind:
torch tensors (sharing memory with the numpy result) for torch inputs,
numpy arrays otherwise.
"""
import numpy as np

__all__ = ["is_torch", "as_matrix", "as_vector", "wrap", "kind_of"]


def is_torch(x):
    t = type(x)
    return t.__module__.startswith("torch") and hasattr(x, "detach") and hasattr(x, "data_ptr")


def kind_of(*xs):
    """'torch' if any argument is a torch tensor, else 'numpy'."""
    return "torch" if any(is_torch(x) for x in xs) else "numpy"


def _torch_numpy(t, dtype):
    """A detached CPU tensor of dtype as numpy: .numpy() shares its memory."""
    import torch
    want = {np.float32: torch.float32, np.int32: torch.int32, np.int64: torch.int64,
            np.uint8: torch.uint8}[dtype]
    t = t.detach()
    if t.device.type != "cpu" or t.dtype != want:
        # the one copy (bfloat16, float16, float64, CUDA), straight into a
        # C-contiguous float32 tensor whatever t's strides
        t = torch.empty(tuple(t.shape), dtype=want).copy_(t)
    return t.numpy()


def _numpy(x, dtype):
    """x as a numpy array, without a copy where x's memory can be viewed."""
    if isinstance(x, np.ndarray):
        return x
    if is_torch(x):
        return _torch_numpy(x, dtype)
    if hasattr(x, "__array_interface__") or hasattr(x, "__array_struct__"):
        return np.asarray(x)
    if hasattr(x, "__dlpack__") and hasattr(np, "from_dlpack"):
        try:
            return np.from_dlpack(x)
        except (TypeError, RuntimeError, BufferError):
            pass  # e.g. a device array: fall through to the generic conversion
    try:
        return np.asarray(memoryview(x))  # the buffer protocol, zero-copy
    except TypeError:
        return np.asarray(x)


def as_matrix(W, name="W"):
    """(array, ld): W as a float32 2-D numpy array with unit column stride and
    a row stride ld (in floats) >= its width, read in place when possible."""
    A = _numpy(W, np.float32)
    if A.ndim != 2:
        raise ValueError(f"{name} must be 2-D (identities x features), got shape {A.shape}")
    n, d = A.shape
    ok = (A.dtype == np.float32 and A.dtype.isnative and (A.strides[1] == 4 or d <= 1)
          and A.strides[0] % 4 == 0 and A.strides[0] >= 4 * d and A.flags.aligned)
    if not ok and n <= 1 and A.dtype == np.float32 and A.dtype.isnative and (A.strides[1] == 4 or d <= 1):
        ok = True  # one row: its stride is never read
    if not ok:
        A = np.ascontiguousarray(A, dtype=np.float32)
    ld = A.strides[0] // 4 if n > 1 else d
    return A, max(ld, d)


def as_vector(x, dtype, name="array"):
    """x as a C-contiguous 1-D numpy array of dtype (one copy if not already)."""
    A = _numpy(x, dtype)
    if A.ndim == 0:
        A = A.reshape(1)
    return np.ascontiguousarray(A.reshape(-1), dtype=dtype)


def writable_vector(x, dtype, n, name):
    """x as a contiguous numpy view of its memory, for in-place results; a
    ValueError when that needs a copy (the result would be lost)."""
    A = None
    if is_torch(x):
        if x.device.type == "cpu" and str(x.dtype) == {np.float32: "torch.float32", np.int32: "torch.int32"}[dtype]:
            A = x.detach().numpy()  # the tensor's memory: results land in it
    elif isinstance(x, np.ndarray):
        A = x
    if A is None or A.dtype != dtype or A.shape != (n,) or not A.flags.c_contiguous or not A.flags.writeable:
        raise ValueError(f"{name} must be a contiguous, writable {np.dtype(dtype).name} array of shape ({n},)"
                         " (a previous difficulty() result)")
    return A


def wrap(kind, *arrays):
    """The numpy results as the caller's kind (torch.from_numpy shares memory)."""
    if kind == "torch":
        import torch
        out = tuple(torch.from_numpy(a) if a.dtype != np.uint32 else torch.from_numpy(a.astype(np.int64))
                    for a in arrays)
    else:
        out = arrays
    return out[0] if len(out) == 1 else out
