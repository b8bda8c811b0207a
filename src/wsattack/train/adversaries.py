"""Inner adversaries of adversarial training: `adversary(model, images, labels) -> (adv, stats)`.

Every adversary runs the model frozen: eval mode (batch-norm statistics neither used from the
batch nor updated) and parameter gradients off, and restores both afterwards, so attacking a
batch never changes the model. `stats` holds sums over the batch that the trainer adds to the
epoch totals: `adv_broken` (clean-correct examples the attack fooled), `adv_radius` (the sum of
the radii at which they were fooled) and `attack_time_s`.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F

from wsattack.attacks import WassersteinPGD
from wsattack.errors import ConfigError
from wsattack.models.modes import frozen
from wsattack.ot.settings import WassersteinSettings


def require_positive(prefix: str, **values) -> None:
    for key, value in values.items():
        if not value > 0:
            raise ConfigError(f"{prefix}.{key} must be positive, got {value}")


def _stats(broken: torch.Tensor, radius: torch.Tensor, seconds: float) -> dict[str, float]:
    return {
        "adv_broken": float(broken.sum().item()),
        "adv_radius": float(radius[broken].sum().item()),
        "attack_time_s": seconds,
    }


class WassersteinAdversary:
    """Algorithm 1's inner loop: Wasserstein PGD with the radius growing from eps0 by `growth`
    every `every` iterations, at most `max_iter` iterations, ascent `step` of size `alpha`; the
    first adversarial example found per image (frozen once fooled) or the last iterate.

    `**threat` are the `WassersteinSettings` (kernel_size, p, metric, lam, sinkhorn_iters, tol,
    capacity), kept as `self.threat` for the robustness probe to attack in the same ball."""

    forwards_to = WassersteinSettings  # where **threat goes (`attacks.build.accepted_parameters`)

    def __init__(
        self,
        eps0: float = 0.1,
        growth: float = 1.4,
        every: int = 5,
        max_iter: int = 50,
        alpha: float = 0.1,
        step: str = "linf",
        **threat,
    ):
        require_positive("adv", eps0=eps0, every=every, max_iter=max_iter, alpha=alpha)
        if growth < 1:
            raise ConfigError(f"adv.growth must be >= 1, got {growth}")
        self.threat = WassersteinSettings.of(**threat)
        self.schedule = dict(eps0=eps0, growth=growth, every=every, max_iter=max_iter)
        self.alpha, self.step = alpha, step

    def attack(self, model) -> WassersteinPGD:
        return WassersteinPGD(
            model,
            schedule="geometric",
            step=self.step,
            alpha=self.alpha,
            clamp=True,
            **self.schedule,
            **self.threat.as_dict(),
        )

    def __call__(self, model, images: torch.Tensor, labels: torch.Tensor):
        start = time.perf_counter()
        with frozen(model):
            result = self.attack(model)(images, labels)
        broken = result.success & (result.clean_pred == labels)
        return result.adv.detach(), _stats(broken, result.eps_found, time.perf_counter() - start)


class LinfAdversary:
    """Madry et al.'s PGD: uniform random start in the l_inf box, `steps` steps of
    alpha * sign(grad), projection onto the box and [0, 1]; the last iterate (the loss
    maximizer) is trained on."""

    def __init__(
        self, eps: float = 0.1, alpha: float = 0.01, steps: int = 40, random_start: bool = True
    ):
        require_positive("adv", eps=eps, alpha=alpha, steps=steps)
        self.eps, self.alpha, self.steps, self.random_start = eps, alpha, int(steps), random_start

    def __call__(self, model, images: torch.Tensor, labels: torch.Tensor):
        start = time.perf_counter()
        with frozen(model):
            adv = self._attack(model, images, labels)
            with torch.no_grad():
                clean_ok = model(images).argmax(1) == labels
                broken = clean_ok & (model(adv).argmax(1) != labels)
        radius = torch.full(labels.shape, self.eps, device=images.device)
        return adv, _stats(broken, radius, time.perf_counter() - start)

    def _attack(self, model, images, labels) -> torch.Tensor:
        adv = images.clone()
        if self.random_start:
            adv = (adv + torch.empty_like(adv).uniform_(-self.eps, self.eps)).clamp(0, 1)
        for _ in range(self.steps):
            adv.requires_grad_(True)
            with torch.enable_grad():
                (grad,) = torch.autograd.grad(F.cross_entropy(model(adv), labels), adv)
            adv = adv.detach() + self.alpha * grad.sign()
            adv = torch.min(torch.max(adv, images - self.eps), images + self.eps).clamp(0, 1)
        return adv.detach()
