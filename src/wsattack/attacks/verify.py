"""Independent check of every adversarial example: its exact distance to the clean image."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from wsattack.attacks.result import AttackResult

RTOL = 1e-3  # an example more than 0.1% outside its recorded radius is flagged
ATOL = 1e-9  # round-off of the exact solver for an unchanged image


@dataclass
class Verification:
    """Per example: exact distance (in the ball's units), whether it lies within the recorded
    radius, relative change of total mass (clamping to [0,1] removes mass), l_inf and l_2 size."""

    exact_cost: torch.Tensor
    verified: torch.Tensor
    mass_change: torch.Tensor
    linf: torch.Tensor
    l2: torch.Tensor


def verify(ball, images: torch.Tensor, result: AttackResult) -> Verification:
    x, adv = images.cpu(), result.adv.cpu()
    distance = ball.distance(x, adv)
    verified = distance.value <= result.radius.cpu() * (1 + RTOL) + ATOL
    delta = (adv - x).flatten(1).double()
    return Verification(distance.value, verified, distance.mass_change, delta.abs().amax(1), delta.norm(dim=1))
