"""What an attack returns for a batch."""

from __future__ import annotations

from dataclasses import dataclass

import torch

NOT_FOOLED = float("inf")  # eps_found of an example the attack never broke


def fooled(pred: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor | None) -> torch.Tensor:
    """Success: a wrong class (untargeted) or the target class (targeted)."""
    return pred != labels if targets is None else pred == targets


@dataclass
class AttackResult:
    """Per-example outcome of an attack on (images, labels).

    adv: the adversarial images (the last iterate where the attack failed). success: the model is
    fooled on adv (misclassifies it, or predicts the target in targeted mode). eps_found: the
    smallest radius adv is known to lie within: its exact distance for the plan-space attacks
    (their search measures every point it finds), else the radius of the ball it was found in
    (0 when the clean image is already misclassified, NOT_FOOLED = inf when never fooled).
    iterations: gradient steps spent on the example. clean_pred / adv_pred: the model's
    predictions on the clean and adversarial images. radius: the radius of the last ball adv
    was projected onto (eps_found for a success, the final radius for a failure, 0 for an
    untouched image): what verification checks against. eps_failed: the largest radius at
    which the attack ran on the example and failed, at most eps_found (0 if none; None from
    attacks that do not track it). found_by: per example, the name of the attack that found
    eps_found (set by `auto`; None elsewhere).
    """

    adv: torch.Tensor
    success: torch.Tensor
    eps_found: torch.Tensor
    iterations: torch.Tensor
    clean_pred: torch.Tensor
    adv_pred: torch.Tensor
    radius: torch.Tensor
    eps_failed: torch.Tensor | None = None
    found_by: list[str] | None = None

    def accuracy_at(self, radius: float) -> float:
        """Fraction of examples not broken within `radius` (the robust accuracy at that radius)."""
        return (self.eps_found > radius).float().mean().item()
