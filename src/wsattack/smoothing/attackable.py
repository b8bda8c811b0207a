"""The smoothed classifier as an attack sees it (Levine & Feizi 2020, section 6.2): a
differentiable surrogate for gradients, and the hard vote for deciding success."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from wsattack.smoothing.certifier import (
    DEFAULT_ALPHA,
    DEFAULT_BATCH_SIZE,
    DEFAULT_N,
    SmoothedClassifier,
)
from wsattack.smoothing.noise import NoiseModel


class SmoothedSoftmax(nn.Module):
    """log of the base classifier's softmax averaged over `samples` noisy copies of each image.

    The attack follows its gradient, estimated with 128 samples as in Salman et al. (2019) and
    the paper. The noise is the smoothing noise scaled by each image's mass, as in certification,
    and depends on x differentiably (through the mass).
    """

    def __init__(self, base: nn.Module, noise: NoiseModel, samples: int = 128):
        super().__init__()
        if samples < 1:
            raise ValueError(f"model.smoothing_samples must be positive, got {samples}")
        self.base, self.noise, self.samples = base, noise, samples

    def forward(self, x: Tensor) -> Tensor:
        batch = x.shape[0]
        unit = self.noise.unit_noise(
            (batch, self.samples, *x.shape[1:]), dtype=x.dtype, device=x.device
        )
        mass = x.sum(dim=(1, 2, 3)).view(batch, 1, 1, 1, 1)
        noisy = (x[:, None] + unit * mass).flatten(0, 1)
        probs = F.softmax(self.base(noisy), dim=1).view(batch, self.samples, -1).mean(1)
        return probs.clamp_min(1e-12).log()


class HardVoteJudge:
    """Predictions of the smoothed classifier's hard vote (`predict` with n samples), ABSTAIN
    included: an attack counts an abstention as a misclassification, as the paper does."""

    def __init__(
        self,
        smoothed: SmoothedClassifier,
        n: int = DEFAULT_N,
        alpha: float = DEFAULT_ALPHA,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ):
        self.smoothed, self.n, self.alpha, self.batch_size = smoothed, n, alpha, batch_size

    def __call__(self, images: Tensor) -> Tensor:
        preds = [self.smoothed.predict(x, self.n, self.alpha, self.batch_size) for x in images]
        return torch.tensor(preds, dtype=torch.long, device=images.device)
