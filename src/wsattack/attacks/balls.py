"""Threat-model balls: projection onto the ball around the clean image, and the exact distance
used to verify every adversarial example afterwards."""

from __future__ import annotations

import torch

from wsattack.ot import Duals, exact_cost, project, wasserstein_cost
from wsattack.ot.settings import WassersteinSettings

PIXEL_CEILING = 1.0  # images are in [0, 1]


class WassersteinBall:
    """The local Wasserstein ball of Wong et al. 2019: k x k transport plans, cost d**p.

    Radii are per unit mass of the clean image (both images are divided by the clean mass).
    The projection keeps per-example dual variables between calls (warm start): `project` takes
    and returns them for the rows it is given.

    Parameters
    ----------
    settings : WassersteinSettings, optional
        The threat model (cost, projected-Sinkhorn solver, capacity); the defaults if None.
    **changes
        Settings to change from `settings` by name (kernel_size, p, metric, lam,
        sinkhorn_iters, tol, capacity).

    With `capacity`, the constraint of Hu et al. 2020: no pixel above 1.0, the ceiling of
    [0, 1] images (a clean pixel above it keeps its own mass). Every projection then lies in
    [0, 1] with the mass of the clean image exactly, so clamping has nothing left to remove.

    Examples
    --------
    >>> ball = WassersteinBall(kernel_size=3)
    >>> ball
    WassersteinBall(kernel_size=3, p=1, metric='euclidean', lam=1000.0, sinkhorn_iters=50, tol=0.0001, capacity=False)
    >>> ball.cost
    tensor([[1.4142, 1.0000, 1.4142],
            [1.0000, 0.0000, 1.0000],
            [1.4142, 1.0000, 1.4142]], dtype=torch.float64)
    """  # noqa: E501  (doctest output lines cannot be wrapped)

    def __init__(self, settings: WassersteinSettings | None = None, **changes):
        self.settings = WassersteinSettings.of(settings, **changes)
        s = self.settings
        self.cost = wasserstein_cost(s.kernel_size, s.p, s.metric)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.settings.as_dict().items())
        return f"WassersteinBall({args})"

    @property
    def capacity(self) -> bool:
        return self.settings.capacity

    @property
    def ceiling(self) -> float | None:
        """The pixel ceiling the solvers take as `capacity` (None without the constraint)."""
        return PIXEL_CEILING if self.capacity else None

    def solver(self) -> dict:
        """The projected-Sinkhorn arguments of `ot.project` and `ot.project_linear`."""
        s = self.settings
        return {
            "lam": s.lam,
            "max_iter": s.sinkhorn_iters,
            "tol_dual": s.tol,
            "tol_marginal": s.tol,
            "capacity": self.ceiling,
        }

    def project(self, x: torch.Tensor, w: torch.Tensor, eps: torch.Tensor, duals: Duals | None):
        res = project(x, w, eps, self.cost, duals=duals, **self.solver())
        return res.z, res.duals

    def distance(self, x: torch.Tensor, adv: torch.Tensor) -> torch.Tensor:
        """Exact local transport cost (POT network simplex) per unit clean mass, float64 on CPU.

        Clamping to [0,1] can only remove mass from a projected image, so when the masses differ
        the cost is that of the cheapest plan carrying all of adv's mass from x (partial
        transport).
        """
        x, adv = x.double().cpu(), adv.double().cpu()
        change = (adv.flatten(1).sum(1) - x.flatten(1).sum(1)).abs() / x.flatten(1).sum(1)
        partial = bool((change > 1e-5).any())
        return torch.as_tensor(exact_cost(x, adv, self.cost, local=True, partial=partial).cost)


class LpBall:
    """The l_inf or l_2 ball, for the paper's baseline comparisons."""

    def __init__(self, norm: float):
        self.norm = norm

    def __repr__(self) -> str:
        return f"LpBall(norm={self.norm:g})"

    def project(self, x: torch.Tensor, w: torch.Tensor, eps: torch.Tensor, duals=None):
        delta = w - x
        eps = eps.to(x.dtype).view(-1, *[1] * (x.dim() - 1))
        if self.norm == float("inf"):
            return x + delta.clamp(-eps, eps), None
        norms = delta.flatten(1).norm(dim=1).view_as(eps).clamp_min(1e-12)
        return x + delta * (eps / norms).clamp(max=1.0), None

    def distance(self, x: torch.Tensor, adv: torch.Tensor) -> torch.Tensor:
        return (adv - x).flatten(1).double().cpu().norm(p=self.norm, dim=1)
