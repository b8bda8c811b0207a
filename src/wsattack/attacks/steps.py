"""Ascent steps of PGD: the direction taken from the loss gradient before projecting."""

from __future__ import annotations

import torch

from wsattack.attacks.balls import WassersteinBall
from wsattack.errors import ConfigError
from wsattack.ot import project_linear


def _per_example_norm(g: torch.Tensor, p: float) -> torch.Tensor:
    return g.flatten(1).norm(p=p, dim=1).clamp_min(1e-12).view(-1, *[1] * (g.dim() - 1))


def linf_step(adv: torch.Tensor, grad: torch.Tensor, alpha: float) -> torch.Tensor:
    """alpha * sign(grad): the paper's step."""
    return adv + alpha * grad.sign()


def l2_step(adv: torch.Tensor, grad: torch.Tensor, alpha: float) -> torch.Tensor:
    return adv + alpha * grad / _per_example_norm(grad, 2)


class WassersteinStep:
    """Steepest ascent in the Wasserstein geometry (the paper's eq. 14 / appendix D): the point of
    the alpha-Wasserstein ball around the current iterate that maximizes the linearized loss.

    It uses the cost, solver settings and capacity of the attack's `WassersteinBall`. The
    gradient is scaled to unit l_inf norm so that `lam` means the same for every example.
    """

    def __init__(self, ball: WassersteinBall):
        self.ball = ball

    def __call__(self, adv: torch.Tensor, grad: torch.Tensor, alpha: float) -> torch.Tensor:
        g = grad / _per_example_norm(grad, float("inf"))
        ball = self.ball
        return project_linear(
            adv.clamp_min(0),
            g,
            alpha,
            ball.cost,
            lam=ball.lam,
            max_iter=ball.sinkhorn_iters,
            capacity=ball.ceiling,
        ).z


STEPS = ("linf", "l2", "wasserstein")


def build_step(name: str, ball: WassersteinBall | None = None):
    """The step `name`; `wasserstein` steps through the given Wasserstein ball's geometry."""
    if name == "linf":
        return linf_step
    if name == "l2":
        return l2_step
    if name == "wasserstein" and ball is not None:
        return WassersteinStep(ball)
    raise ConfigError(f"unknown attack.step {name!r}; choose from: {', '.join(STEPS)}")
