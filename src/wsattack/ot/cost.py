"""Local ground costs for k x k transport plans (section 4.3 of Wong et al. 2019)."""

from __future__ import annotations

import torch

from wsattack.errors import ConfigError
from wsattack.ot.settings import DEFAULTS
from wsattack.registry import Registry

# name -> (di, dj, p) -> the cost d**p of moving unit mass by the offsets (di, dj)
METRICS: Registry = Registry("metric")


@METRICS.register("euclidean")
def _euclidean(di: torch.Tensor, dj: torch.Tensor, p: float) -> torch.Tensor:
    return (di * di + dj * dj) ** (p / 2)  # not hypot(...)**p: p=2 stays exact in integers


@METRICS.register("l1")
def _cityblock(di: torch.Tensor, dj: torch.Tensor, p: float) -> torch.Tensor:
    return (di.abs() + dj.abs()) ** p


def wasserstein_cost(
    kernel_size: int = DEFAULTS.kernel_size, p: float = DEFAULTS.p, metric: str = DEFAULTS.metric
) -> torch.Tensor:
    """The k x k cost d**p of moving unit mass from the centre pixel to each neighbour.

    Parameters
    ----------
    kernel_size : int
        Odd k: the window of the local transport plans.
    p : float
        Cost exponent (the default, `WassersteinSettings`'s, is 1: the Euclidean cost of the
        paper's text; 2 is the squared Euclidean cost of the authors' code).
    metric : {"euclidean", "l1"}
        d is the Euclidean distance sqrt(di**2 + dj**2) or the cityblock distance |di| + |dj|.

    Returns
    -------
    torch.Tensor
        (k, k) float64, zero at the centre.

    Examples
    --------
    >>> wasserstein_cost(3, p=2)
    tensor([[2., 1., 2.],
            [1., 0., 1.],
            [2., 1., 2.]], dtype=torch.float64)
    >>> wasserstein_cost(3, metric="l1")[0]
    tensor([2., 1., 2.], dtype=torch.float64)
    """
    if isinstance(kernel_size, bool) or not isinstance(kernel_size, int):
        raise ConfigError(f"kernel_size must be an int, got {kernel_size!r}")
    if kernel_size < 1 or kernel_size % 2 != 1:
        raise ConfigError(f"kernel_size must be a positive odd integer, got {kernel_size}")
    if not p > 0:
        raise ConfigError(f"p must be positive, got {p}")
    distance = METRICS.get(metric)
    r = kernel_size // 2
    offsets = torch.arange(-r, r + 1, dtype=torch.float64)
    di, dj = torch.meshgrid(offsets, offsets, indexing="ij")
    return distance(di, dj, p)


def check_cost(cost: torch.Tensor) -> torch.Tensor:
    """Validate a k x k local cost: odd square, finite, non-negative, zero at the centre."""
    if not isinstance(cost, torch.Tensor):
        cost = torch.as_tensor(cost, dtype=torch.float64)
    if cost.dim() != 2 or cost.shape[0] != cost.shape[1]:
        raise ConfigError(f"cost must be a square k x k matrix, got shape {tuple(cost.shape)}")
    k = cost.shape[0]
    if k % 2 != 1:
        raise ConfigError(f"cost must have an odd kernel size, got {k}")
    if not torch.isfinite(cost).all() or (cost < 0).any():
        raise ConfigError("cost must be finite and non-negative")
    if cost[k // 2, k // 2] != 0:
        raise ConfigError("cost must be 0 at the centre (keeping mass in place is free)")
    return cost
