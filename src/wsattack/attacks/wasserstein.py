"""Wasserstein PGD with projected Sinkhorn (Wong et al. 2019), the `wasserstein` attack."""

from __future__ import annotations

from wsattack.attacks.balls import WassersteinBall
from wsattack.attacks.pgd import PGD
from wsattack.attacks.registry import register_attack
from wsattack.attacks.schedules import schedule_from
from wsattack.attacks.steps import build_step


@register_attack("wasserstein")
class WassersteinPGD(PGD):
    """PGD over the local Wasserstein ball, projected with projected Sinkhorn (paper section 4.3).

    Defaults are the paper's MNIST protocol (section 5): l_inf step 0.1, radius from 0.3 grown
    x1.1 every 10 iterations for up to 200, 5x5 plans, lam 1000, Euclidean cost (p=1), clamp.
    `step="wasserstein"` takes steepest-ascent steps in the Wasserstein geometry instead.
    `schedule="ramp"` grows the radius additively, eps0 + ramp_step * t (Hu et al. 2020).
    capacity=True projects with the capacity constraint of Hu et al. 2020 (no pixel above 1):
    the iterates then stay in [0, 1] with the clean mass, and are never clamped (clamp is
    ignored), so no mass is lost.
    """

    def __init__(
        self,
        model,
        eps0: float = 0.3,
        growth: float = 1.1,
        every: int = 10,
        max_iter: int = 200,
        schedule: str = "geometric",
        radii=(0.1, 0.3, 0.5, 1.0),
        ramp_step: float = 0.01,
        step: str = "linf",
        alpha: float = 0.1,
        kernel_size: int = 5,
        p: float = 1,
        metric: str = "euclidean",
        lam: float = 1000.0,
        sinkhorn_iters: int = 50,
        tol: float = 1e-4,
        capacity: bool = False,
        clamp: bool = True,
        judge=None,
    ):
        ball = WassersteinBall(kernel_size, p, metric, lam, sinkhorn_iters, tol, capacity)
        super().__init__(
            model,
            ball,
            build_step(step, ball),
            schedule_from(schedule, eps0, growth, every, max_iter, radii, ramp_step),
            alpha,
            clamp and not capacity,
            judge,
        )
