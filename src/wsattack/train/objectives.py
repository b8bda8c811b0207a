"""Training objectives: what one optimizer step minimizes for a batch.

`objective(net, model, images, labels, step) -> StepOutput`. `net` is the module the trainer
optimizes through (`objective.network(model)`, wrapped in DistributedDataParallel when several
processes train), `model` the plain classifier (for attacks, which must not synchronize
gradients), `step` the global batch index (for schedules, so they are exact on resume).
`StepOutput.stats` holds sums over the batch that the trainer adds to the epoch totals; every
objective other than the standard one reports `adv_loss`, the summed loss on the adversarial
(or, for IBP, worst-case) logits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from wsattack.errors import ConfigError
from wsattack.train.ibp import BoundedForward, verified, worst_case_logits


@dataclass
class StepOutput:
    loss: torch.Tensor
    logits: torch.Tensor
    stats: dict[str, float] = field(default_factory=dict)


class Standard:
    """Cross-entropy on the batch, after an optional `transform(model, images, labels)` (noise)."""

    def __init__(self, transform=None):
        self.transform = transform

    def network(self, model: nn.Module) -> nn.Module:
        return model

    def __call__(self, net, model, images, labels, step: int) -> StepOutput:
        if self.transform is not None:
            images = self.transform(model, images, labels)
        logits = net(images)
        return StepOutput(F.cross_entropy(logits, labels), logits)


class Adversarial(Standard):
    """Algorithm 1 of Wong et al. 2019 (Madry et al. for an l_inf ball): cross-entropy on the
    adversary's examples, with the adversary's statistics."""

    def __init__(self, adversary=None):
        super().__init__()
        if adversary is None:
            raise ConfigError("adversarial training needs an adversary")
        self.adversary = adversary

    def __call__(self, net, model, images, labels, step: int) -> StepOutput:
        adv, stats = self.adversary(model, images, labels)
        logits = net(adv)
        loss = F.cross_entropy(logits, labels)
        return StepOutput(loss, logits, {**stats, "adv_loss": loss.item() * len(labels)})


class IntervalBound(Standard):
    """IBP certified training: kappa(t) CE(clean) + (1 - kappa(t)) CE(worst-case logits at eps(t)).

    For the first `warmup_steps` batches eps = 0 and kappa = 1; over the next `ramp_steps` eps
    rises linearly to `eps` and kappa falls linearly to `kappa`. Statistics: `adv_broken` counts
    the examples not verified at the current eps, `adv_radius` sums the current eps over them.
    """

    def __init__(
        self, eps: float = 0.1, kappa: float = 0.5, warmup_steps: int = 0, ramp_steps: int = 1
    ):
        if eps <= 0 or not 0 <= kappa <= 1 or warmup_steps < 0 or ramp_steps < 0:
            raise ConfigError(
                f"adv=ibp needs eps > 0, kappa in [0, 1], warmup_epochs >= 0 and ramp_epochs >= 0; "
                f"got eps={eps}, kappa={kappa}, "
                f"warmup_steps={warmup_steps}, ramp_steps={ramp_steps}"
            )
        super().__init__()
        self.eps, self.kappa, self.warmup_steps, self.ramp_steps = (
            eps,
            kappa,
            warmup_steps,
            ramp_steps,
        )

    def network(self, model: nn.Module) -> nn.Module:
        return BoundedForward(model)

    def schedule(self, step: int) -> tuple[float, float]:
        """(eps, kappa) at global batch index `step`."""
        done = step - self.warmup_steps
        if done < 0:
            return 0.0, 1.0
        frac = 1.0 if self.ramp_steps == 0 else min(1.0, (done + 1) / self.ramp_steps)
        return self.eps * frac, 1.0 - (1.0 - self.kappa) * frac

    def __call__(self, net, model, images, labels, step: int) -> StepOutput:
        eps, kappa = self.schedule(step)
        logits, margins = net(images, labels, eps)
        robust = F.cross_entropy(worst_case_logits(margins), labels)
        loss = kappa * F.cross_entropy(logits, labels) + (1 - kappa) * robust
        broken = ~verified(margins.detach(), labels)
        stats = {
            "adv_loss": robust.item() * len(labels),
            "adv_broken": float(broken.sum().item()),
            "adv_radius": eps * float(broken.sum().item()),
            "attack_time_s": 0.0,
        }
        return StepOutput(loss, logits, stats)
