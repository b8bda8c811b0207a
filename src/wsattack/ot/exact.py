"""Exact transport cost between two images (POT's network simplex), to verify projections."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import ot as pot
import torch

from wsattack.errors import ConfigError
from wsattack.ot.cost import check_cost

# Mass on pairs outside the k x k window, relative to the moved mass, above which the local
# problem is declared infeasible (cost = inf); below it the LP's leftovers are round-off dust.
_NONLOCAL_DUST = 1e-7
# For float32 images the dust is their own round-off, which passes 1e-7 of the mass (a pixel
# that only one source can reach may hold an ulp more than that source sends): allow this many
# ulps of the coarsest input dtype instead when that is larger.
_DUST_ULPS = 16
_MAX_SIMPLEX_ITER = 10_000_000


@dataclass
class ExactCost:
    """Per-example numpy float64 arrays: cost per unit mass of x (the units of eps; inf when
    no local plan exists), and the total masses of x and y in input units."""

    cost: np.ndarray
    mass_x: np.ndarray
    mass_y: np.ndarray


def _infer_ground(cost: np.ndarray) -> tuple[float, str]:
    """(p, metric) of a `wasserstein_cost` matrix, to extend it to the whole image."""
    k = cost.shape[0]
    r = k // 2
    if k < 5:
        raise ConfigError("local=False needs p and metric (a 3x3 cost does not determine them)")
    p = math.log2(cost[r, r + 2])
    offsets = np.arange(-r, r + 1)
    for metric in ("euclidean", "l1"):
        if np.allclose(_ground(offsets[:, None], offsets[None, :], p, metric), cost, rtol=1e-9):
            return p, metric
    raise ConfigError("local=False: the cost is not d**p of a known metric; pass p and metric")


def _ground(di, dj, p, metric):
    """d**p for pixel offsets, as in `wasserstein_cost` but over any range."""
    if metric == "euclidean":
        return (di * di + dj * dj) ** (p / 2)
    return (np.abs(di) + np.abs(dj)) ** p


def _pair_costs(src, dst, cost, ground):
    """Cost matrix between pixel coordinates, and the mask of pairs inside the window."""
    di = dst[None, :, 0] - src[:, None, 0]
    dj = dst[None, :, 1] - src[:, None, 1]
    if ground is not None:
        return _ground(di, dj, *ground), None
    r = cost.shape[0] // 2
    inside = (np.abs(di) <= r) & (np.abs(dj) <= r)
    local = cost[np.clip(di + r, 0, 2 * r), np.clip(dj + r, 0, 2 * r)]
    # Any cycle reroutes mass along < 2(n+m) edges, so this penalty makes a non-local edge
    # never worth it when a local plan exists.
    penalty = (2.0 * (len(src) + len(dst)) + 1.0) * max(cost.max(), 1.0)
    return np.where(inside, local, penalty), inside


def _channel_cost(a_img, b_img, cost, ground, partial, dust=_NONLOCAL_DUST):
    """Exact cost of moving channel image a onto b (all of b's mass if partial)."""
    src, dst = np.argwhere(a_img > 0), np.argwhere(b_img > 0)
    if len(src) == 0 or len(dst) == 0:
        return 0.0
    a, b = a_img[a_img > 0], b_img[b_img > 0]
    M, inside = _pair_costs(src, dst, cost, ground)
    if partial:
        m = min(a.sum(), b.sum())
        plan = pot.partial.partial_wasserstein(a, b, M, m=m, numItermax=_MAX_SIMPLEX_ITER)
    else:
        plan = pot.emd(a, b * (a.sum() / b.sum()), M, numItermax=_MAX_SIMPLEX_ITER)
    if inside is not None:
        if plan[~inside].sum() > dust * plan.sum():
            return math.inf
        M = np.where(inside, M, 0.0)
    return float((plan * M).sum())


def _resolution(t) -> float:
    """The relative round-off of a tensor's or array's floating dtype (0 for others)."""
    dtype = t.dtype if isinstance(t, torch.Tensor | np.ndarray) else None
    if isinstance(dtype, torch.dtype) and dtype.is_floating_point:
        return torch.finfo(dtype).eps
    if isinstance(dtype, np.dtype) and np.issubdtype(dtype, np.floating):
        return float(np.finfo(dtype).eps)
    return 0.0


def _as_numpy(t, name):
    arr = t.detach().cpu().double().numpy() if isinstance(t, torch.Tensor) else np.asarray(t, float)
    if arr.ndim != 4:
        raise ConfigError(f"{name} must have shape (B, C, H, W), got {arr.shape}")
    if not np.isfinite(arr).all() or (arr < 0).any():
        raise ConfigError(f"{name} must be finite and non-negative")
    return arr


def _check_masses(mx, my, rtol, b, partial):
    if not partial and np.any(np.abs(mx - my) > rtol * np.maximum(mx.sum(), my.sum())):
        raise ConfigError(
            f"example {b}: mass of x {mx.sum():.9g} and of y {my.sum():.9g} differ (per channel "
            f"{mx.tolist()} vs {my.tolist()}); pass partial=True to transport the smaller mass"
        )
    if mx.sum() <= 0:
        raise ConfigError(f"example {b}: x has zero mass")


def exact_cost(
    x, y, cost, local=True, partial=False, mass_rtol=1e-4, p=None, metric=None, workers=None
):
    """Exact optimal transport cost from x to y, per example, by network simplex (POT).

    Mass stays in its channel. local=True allows moves only inside the k x k window, with cost
    `cost` (the ball of `project`); local=False uses d**p over the whole image (p and metric
    inferred from `cost` for k >= 5, or given). Masses must agree per channel to `mass_rtol`
    (relative to the total), else ValueError; with partial=True the cheapest transport of the
    smaller mass is used instead (e.g. after clamping an attacked image to [0, 1]). The cost is
    divided by the mass of x, i.e. it is in the units of eps. workers: threads solving the
    channels of different examples at once (POT's solver releases the GIL; a CIFAR-10 image takes
    0.4 s on one thread); default `torch.get_num_threads()`, so that `cpu_threads` governs it.

    Examples
    --------
    Half of the mass moves one pixel right, at Euclidean cost 1 per unit:

    >>> import torch
    >>> from wsattack import wasserstein_cost
    >>> x = torch.zeros(1, 1, 3, 3); x[0, 0, 1, 1] = 1.0
    >>> y = torch.zeros(1, 1, 3, 3); y[0, 0, 1, 1] = 0.5; y[0, 0, 1, 2] = 0.5
    >>> exact_cost(x, y, wasserstein_cost(3)).cost
    array([0.5])
    """
    xs, ys = _as_numpy(x, "x"), _as_numpy(y, "y")
    dust = max([_NONLOCAL_DUST] + [_DUST_ULPS * _resolution(t) for t in (x, y)])
    if xs.shape != ys.shape:
        raise ConfigError(f"x has shape {xs.shape} but y has {ys.shape}")
    c = check_cost(torch.as_tensor(cost, dtype=torch.float64)).numpy()
    ground = None if local else ((p, metric) if p is not None else _infer_ground(c))
    mass_x, mass_y = xs.sum(axis=(1, 2, 3)), ys.sum(axis=(1, 2, 3))
    for b in range(len(xs)):
        _check_masses(xs[b].sum(axis=(1, 2)), ys[b].sum(axis=(1, 2)), mass_rtol, b, partial)

    def solve(job):
        return _channel_cost(xs[job], ys[job], c, ground, partial, dust)

    jobs = list(np.ndindex(xs.shape[:2]))
    threads = min(workers or torch.get_num_threads(), len(jobs))
    if threads > 1:
        with ThreadPoolExecutor(threads) as pool:
            per_channel = list(pool.map(solve, jobs))
    else:
        per_channel = [solve(job) for job in jobs]
    costs = np.asarray(per_channel, dtype=np.float64).reshape(xs.shape[:2]).sum(axis=1) / mass_x
    return ExactCost(costs, mass_x, mass_y)
