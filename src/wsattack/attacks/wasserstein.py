"""The attacks of the registry: Wasserstein PGD (Wong et al. 2019) and the l_inf / l_2 baselines."""

from __future__ import annotations

from wsattack.attacks.balls import LpBall, WassersteinBall
from wsattack.attacks.pgd import PGD
from wsattack.attacks.registry import register_attack
from wsattack.attacks.schedules import build_schedule
from wsattack.attacks.steps import build_step


@register_attack("wasserstein")
class WassersteinPGD(PGD):
    """PGD over the local Wasserstein ball, projected with projected Sinkhorn (paper section 4.3).

    Defaults are the paper's MNIST protocol (section 5): l_inf step 0.1, radius from 0.3 grown
    x1.1 every 10 iterations for up to 200, 5x5 plans, lam 1000, Euclidean cost (p=1), clamp.
    `step="wasserstein"` takes steepest-ascent steps in the Wasserstein geometry instead.
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
        step: str = "linf",
        alpha: float = 0.1,
        kernel_size: int = 5,
        p: float = 1,
        metric: str = "euclidean",
        lam: float = 1000.0,
        sinkhorn_iters: int = 50,
        tol: float = 1e-4,
        clamp: bool = True,
        judge=None,
    ):
        ball = WassersteinBall(kernel_size, p, metric, lam, sinkhorn_iters, tol)
        stepper = build_step(
            step,
            kernel_size=kernel_size,
            p=p,
            metric=metric,
            lam=lam,
            sinkhorn_iters=sinkhorn_iters,
        )
        super().__init__(
            model,
            ball,
            stepper,
            _schedule(schedule, eps0, growth, every, max_iter, radii),
            alpha,
            clamp,
            judge,
        )


@register_attack("linf_pgd")
class LinfPGD(PGD):
    """l_inf PGD (sign steps) with the same radius schedules, for the paper's Figure 2."""

    def __init__(
        self,
        model,
        eps0: float = 0.01,
        growth: float = 1.1,
        every: int = 10,
        max_iter: int = 200,
        schedule: str = "geometric",
        radii=(0.1, 0.2, 0.3),
        alpha: float = 0.01,
        clamp: bool = True,
        judge=None,
    ):
        super().__init__(
            model,
            LpBall(float("inf")),
            build_step("linf"),
            _schedule(schedule, eps0, growth, every, max_iter, radii),
            alpha,
            clamp,
            judge,
        )


@register_attack("l2_pgd")
class L2PGD(PGD):
    """l_2 PGD (normalized gradient steps), with the same radius schedules."""

    def __init__(
        self,
        model,
        eps0: float = 0.1,
        growth: float = 1.1,
        every: int = 10,
        max_iter: int = 200,
        schedule: str = "geometric",
        radii=(0.5, 1.0, 2.0),
        alpha: float = 0.1,
        clamp: bool = True,
        judge=None,
    ):
        super().__init__(
            model,
            LpBall(2.0),
            build_step("l2"),
            _schedule(schedule, eps0, growth, every, max_iter, radii),
            alpha,
            clamp,
            judge,
        )


def _schedule(name, eps0, growth, every, max_iter, radii):
    if name == "fixed":
        return build_schedule("fixed", radii=radii, max_iter=max_iter)
    return build_schedule(name, eps0=eps0, growth=growth, every=every, max_iter=max_iter)
