"""Shared fixtures. The tests run against the installed package (`pip install
.`); from a bare source tree they fall back to python/ with the library from
$HARDREID_LIB or build/ (`make lib`)."""
import os
import sys

import numpy as np
import pytest

try:
    import hardreid  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import hardreid  # noqa: F401

try:
    import torch  # noqa: F401
    HAVE_TORCH = True
except ImportError:
    HAVE_TORCH = False

needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch is not installed (Debian 12: python3-torch; "
                                                        "pip: hardreid[torch]): torch tests skipped")


@pytest.fixture(scope="session")
def hr():
    return hardreid.library()


def reference(W):
    """numpy's cosine matrix in float64, the diagonal masked."""
    Wn = np.asarray(W, np.float64)
    norm = np.linalg.norm(Wn, axis=1, keepdims=True)
    Wn = np.divide(Wn, norm, out=np.zeros_like(Wn), where=norm > 0)
    S = Wn @ Wn.T
    np.fill_diagonal(S, -np.inf)
    return S


def random_w(n=300, d=40, seed=5):
    rs = np.random.default_rng(seed)
    W = rs.standard_normal((n, d)).astype(np.float32)
    W[1] = W[0] + 0.01 * rs.standard_normal(d).astype(np.float32)
    return W
