"""Threat-model balls: projection onto the ball around the clean image, and the exact distance
used to verify every adversarial example afterwards."""

from __future__ import annotations

import torch

from wsattack.ot import Duals, exact_cost, project, wasserstein_cost

PIXEL_CEILING = 1.0  # images are in [0, 1]


class WassersteinBall:
    """The local Wasserstein ball of Wong et al. 2019: k x k transport plans, cost d**p.

    Radii are per unit mass of the clean image (both images are divided by the clean mass).
    The projection keeps per-example dual variables between calls (warm start): `project` takes
    and returns them for the rows it is given.

    capacity: the capacity constraint of Hu et al. 2020, no pixel above 1.0, the ceiling of
    [0, 1] images (a clean pixel above it keeps its own mass). Every projection then lies in
    [0, 1] with the mass of the clean image exactly, so clamping has nothing left to remove.
    """

    def __init__(
        self,
        kernel_size: int = 5,
        p: float = 2,
        metric: str = "euclidean",
        lam: float = 1000.0,
        sinkhorn_iters: int = 50,
        tol: float = 1e-4,
        capacity: bool = False,
    ):
        self.cost = wasserstein_cost(kernel_size, p, metric)
        self.kernel_size, self.p, self.metric = kernel_size, p, metric
        self.lam, self.sinkhorn_iters, self.tol = lam, sinkhorn_iters, tol
        self.capacity = bool(capacity)

    def __repr__(self) -> str:
        names = ("kernel_size", "p", "metric", "lam", "sinkhorn_iters", "tol", "capacity")
        args = ", ".join(f"{n}={getattr(self, n)!r}" for n in names)
        return f"WassersteinBall({args})"

    @property
    def ceiling(self) -> float | None:
        """The pixel ceiling the solvers take as `capacity` (None without the constraint)."""
        return PIXEL_CEILING if self.capacity else None

    def project(self, x: torch.Tensor, w: torch.Tensor, eps: torch.Tensor, duals: Duals | None):
        res = project(
            x,
            w,
            eps,
            self.cost,
            lam=self.lam,
            max_iter=self.sinkhorn_iters,
            tol_dual=self.tol,
            tol_marginal=self.tol,
            duals=duals,
            capacity=self.ceiling,
        )
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
