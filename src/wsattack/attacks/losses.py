"""Losses an attack ascends, untargeted or targeted; success is when the margin is positive."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from wsattack.registry import Registry

# name -> (logits, goal) -> per-example loss, ascended untargeted (goal = label) and descended
# targeted (goal = target).
LOSSES: Registry = Registry("attack loss")


@LOSSES.register("margin")
def _margin(logits: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
    own = logits.gather(1, goal[:, None]).squeeze(1)
    others = logits.scatter(1, goal[:, None], float("-inf")).amax(dim=1)
    return others - own


@LOSSES.register("ce")
def _cross_entropy(logits: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, goal, reduction="none")


def attack_loss(
    logits: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor | None, name: str
) -> torch.Tensor:
    """Per-example loss to maximize.

    margin: max_{j != y} f_j - f_y (untargeted) or f_t - max_{j != t} f_j (targeted), the
    Carlini-Wagner margin: it measures distance to the decision boundary, and its gradient does
    not vanish on confidently classified images as cross-entropy's does. ce: cross-entropy of the
    label (untargeted), or minus that of the target.
    """
    goal = labels if targets is None else targets
    sign = 1.0 if targets is None else -1.0
    return sign * LOSSES.get(name)(logits, goal)
