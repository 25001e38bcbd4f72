#!/usr/bin/env python3
"""The peer of hardreid-difficulty in `make bench-cli`: the same job in numpy.

usage: peer_numpy.py W.npy PREFIX             write PREFIX.difficulty.npy, .nearest.npy
       peer_numpy.py --verify W.npy HR_PREFIX check hardreid's outputs against numpy's

What a numpy user writes: normalize the rows, S = Wn @ Wn.T (a full N x N
sgemm through numpy's BLAS, OpenBLAS on Debian), mask the diagonal, max and
argmax per row. It needs N^2 * 4 bytes for S (256 MiB at N = 8192) and does
twice hardreid's flops (both triangles).
"""
import sys

import numpy as np


def difficulty(W):
    W = W.astype(np.float32, copy=False)
    norm = np.linalg.norm(W, axis=1, keepdims=True)
    Wn = np.divide(W, norm, out=np.zeros_like(W), where=norm > 0)
    S = Wn @ Wn.T
    np.fill_diagonal(S, -np.inf)
    nearest = S.argmax(axis=1).astype(np.int32)
    return S[np.arange(len(S)), nearest], nearest


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--verify":
        W = np.load(sys.argv[2])
        c, nn = difficulty(W)
        hc = np.load(sys.argv[3] + ".difficulty.npy")
        hn = np.load(sys.argv[3] + ".nearest.npy")
        err = float(np.abs(hc - c).max())
        # nearest may differ only between candidates within the tolerance
        Wn = W / np.linalg.norm(W, axis=1, keepdims=True)
        alt = np.einsum("ij,ij->i", Wn, Wn[hn])
        gap = float(np.abs(alt - c).max())
        ok = err <= 2e-5 and gap <= 2e-5 and (hn != np.arange(len(hn))).all()
        print(f"verify: N = {len(c)}, max |c_hardreid - c_numpy| = {err:.2e}, nearest agrees on "
              f"{(hn == nn).mean() * 100:.2f}% (others within {gap:.1e}): {'ok' if ok else 'FAILED'}")
        sys.exit(0 if ok else 1)
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    c, nn = difficulty(np.load(sys.argv[1]))
    np.save(sys.argv[2] + ".difficulty.npy", c)
    np.save(sys.argv[2] + ".nearest.npy", nn)


if __name__ == "__main__":
    main()
