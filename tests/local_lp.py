"""Exact solves of small local-transport problems, the independent answers tests compare with.

Variables: one per (pixel, offset) of a local plan that stays inside the image, in the order of
`wsattack.ot.plans` (channel, offset, row, column).
"""

from __future__ import annotations

import numpy as np
import scipy.optimize
import scipy.sparse as sp

from wsattack.ot.plans import valid_offsets


def local_variables(shape, cost):
    """(rows, cols, c, dst) for images of shape (C, H, W): sparse incidence of each variable's
    source pixel (rows) and destination pixel (cols), its cost c, and its flat destination."""
    C, H, W = shape
    cost = np.asarray(cost, dtype=float)
    k = cost.shape[0]
    r = k // 2
    valid = valid_offsets(H, W, k).numpy()
    cflat = cost.flatten()
    src, dst, c = [], [], []
    for ch in range(C):
        for d in range(k * k):
            di, dj = d // k - r, d % k - r
            for i, j in zip(*np.nonzero(valid[d]), strict=True):
                src.append((ch * H + i) * W + j)
                dst.append((ch * H + i + di) * W + j + dj)
                c.append(cflat[d])
    n, N = len(src), C * H * W
    rows = sp.csr_matrix((np.ones(n), (src, np.arange(n))), shape=(N, n))
    cols = sp.csr_matrix((np.ones(n), (dst, np.arange(n))), shape=(N, n))
    return rows, cols, np.array(c), np.array(dst)


def image_projection(x, w, eps, cost, ceiling=None):
    """min ||w - Pi^T 1||^2 / 2 s.t. Pi 1 = x, <Pi, C> <= eps, Pi >= 0 (and Pi^T 1 <= ceiling),
    by SLSQP; x, w: (H, W) numpy arrays, x of mass 1. Returns the image Pi^T 1, (H, W)."""
    H, W = x.shape
    rows, cols, c, _ = local_variables((1, H, W), cost)
    src, dst = rows.toarray(), cols.toarray()
    used = (src.T @ x.ravel()) > 0  # variables of pixels with mass (the others are 0)
    src, dst, c = src[:, used], dst[:, used], c[used]
    keep, wf = src.any(axis=1), w.ravel()

    def objective(p):
        d = dst @ p - wf
        return 0.5 * d @ d, dst.T @ d

    cons = [
        {
            "type": "eq",
            "fun": lambda p: src[keep] @ p - x.ravel()[keep],
            "jac": lambda _: src[keep],
        },
        {"type": "ineq", "fun": lambda p: eps - c @ p, "jac": lambda _: -c[None]},
    ]
    if ceiling is not None:
        cons.append({"type": "ineq", "fun": lambda p: ceiling - dst @ p, "jac": lambda _: -dst})
    start = np.where(c == 0, src.T @ x.ravel(), 0.0)  # every pixel keeps its mass
    sol = scipy.optimize.minimize(
        objective,
        start,
        jac=True,
        bounds=[(0, None)] * len(c),
        constraints=cons,
        method="SLSQP",
        options={"maxiter": 1000, "ftol": 1e-14},
    )
    assert sol.success, sol.message
    return (dst @ sol.x).reshape(H, W)
