"""Ascent steps of PGD: the direction taken from the loss gradient before projecting."""

from __future__ import annotations

import torch

from wsattack.attacks.balls import WassersteinBall
from wsattack.errors import ConfigError
from wsattack.ot import project_linear
from wsattack.registry import Registry


def _per_example_norm(g: torch.Tensor, p: float) -> torch.Tensor:
    return g.flatten(1).norm(p=p, dim=1).clamp_min(1e-12).view(-1, *[1] * (g.dim() - 1))


def linf_step(adv: torch.Tensor, grad: torch.Tensor, alpha: float) -> torch.Tensor:
    """alpha * sign(grad): the paper's step."""
    return adv + alpha * grad.sign()


def l2_step(adv: torch.Tensor, grad: torch.Tensor, alpha: float) -> torch.Tensor:
    return adv + alpha * grad / _per_example_norm(grad, 2)


def mass_step(adv: torch.Tensor, grad: torch.Tensor, alpha: float) -> torch.Tensor:
    """alpha * mass * grad / max|grad|: Hu et al. 2020's step (their `grad` norm, alpha 0.06).

    Scaled by the image's total mass, it is alpha of the mass-normalized image that the
    projection then works in, whatever the image's brightness. With alpha 0.06 on MNIST (mass
    about 100) it is several times the pixel range: the projection, not the step, then decides
    where mass goes, much as a linear maximization over the ball would.
    """
    mass = adv.flatten(1).sum(1).view(-1, *[1] * (adv.dim() - 1))
    return adv + alpha * mass * grad / _per_example_norm(grad, float("inf"))


class WassersteinStep:
    """Steepest ascent in the Wasserstein geometry (the paper's eq. 14 / appendix D): the point of
    the alpha-Wasserstein ball around the current iterate that maximizes the linearized loss.

    It uses the cost, solver settings (tol included) and capacity of the attack's ball. The
    gradient is scaled to unit l_inf norm so that `lam` means the same for every example.
    """

    def __init__(self, ball: WassersteinBall):
        self.ball = ball

    def __repr__(self) -> str:
        return "WassersteinStep()"  # the ball it steps in is shown beside it

    def __call__(self, adv: torch.Tensor, grad: torch.Tensor, alpha: float) -> torch.Tensor:
        g = grad / _per_example_norm(grad, float("inf"))
        return project_linear(adv.clamp_min(0), g, alpha, self.ball.cost, **self.ball.solver()).z


STEPS: Registry = Registry("step")
STEPS.register("linf")(linf_step)
STEPS.register("l2")(l2_step)
STEPS.register("mass")(mass_step)
STEPS.register("wasserstein")(WassersteinStep)


def build_step(name: str, ball: WassersteinBall | None = None):
    """The step `name`; `wasserstein` steps through the given Wasserstein ball's geometry."""
    step = STEPS.get(name)
    if not isinstance(step, type):
        return step
    if not isinstance(ball, WassersteinBall):
        raise ConfigError(f"step {name!r} needs a Wasserstein ball, got {ball!r}")
    return step(ball)
