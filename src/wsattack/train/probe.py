"""A cheap robustness check during training: clean and Wasserstein-adversarial accuracy of a fixed
held-out subset, the adversary being Wasserstein PGD at one fixed radius for a few iterations.

It is an optimistic estimate (a weak attack), meant to show the trend across epochs; the real
figure comes from `wsattack attack`. The attack is deterministic and draws no random numbers,
so probing does not disturb the training run's RNG stream.
"""

from __future__ import annotations

from wsattack.attacks import WassersteinPGD
from wsattack.data import ImageData
from wsattack.models.modes import frozen
from wsattack.ot.settings import DEFAULTS, WassersteinSettings
from wsattack.train.adversaries import require_positive


class RobustProbe:
    """Clean and adversarial accuracy of `data` every `every` epochs: Wasserstein PGD at the fixed
    `radius` for `max_iter` steps, in the ball `threat` (the adversary's when training against
    one, so the probe measures the threat model being trained for), with its `step` and `alpha`."""

    def __init__(
        self,
        data: ImageData | None = None,
        every: int = 5,
        radius: float = 0.1,
        max_iter: int = 20,
        batch_size: int = 100,
        threat: WassersteinSettings = DEFAULTS,
        step: str = "linf",
        alpha: float = 0.1,
    ):
        if data is None:
            raise ValueError("RobustProbe needs held-out data")
        require_positive("train.robust_eval", radius=radius, max_iter=max_iter)
        self.data, self.every, self.radius, self.max_iter, self.batch_size = (
            data,
            int(every),
            radius,
            max_iter,
            batch_size,
        )
        self.threat, self.step, self.alpha = threat, step, alpha

    def due(self, epochs_done: int) -> bool:
        return self.every > 0 and epochs_done % self.every == 0

    def __call__(self, model) -> tuple[float, float]:
        """(clean accuracy, adversarial accuracy at `radius`) on the subset."""
        attack = WassersteinPGD(
            model,
            schedule="fixed",
            radii=(self.radius,),
            max_iter=self.max_iter,
            step=self.step,
            alpha=self.alpha,
            **self.threat.as_dict(),
        )
        clean = robust = 0
        with frozen(model):
            for start in range(0, len(self.data), self.batch_size):
                x = self.data.images[start : start + self.batch_size]
                y = self.data.labels[start : start + self.batch_size].to(
                    next(model.parameters()).device
                )
                result = attack(x, y)
                clean += (result.clean_pred == y).sum().item()
                robust += (~result.success).sum().item()
        n = max(len(self.data), 1)
        return clean / n, robust / n
