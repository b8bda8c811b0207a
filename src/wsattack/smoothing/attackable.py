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


def smoothed_target(
    smoothed: SmoothedClassifier,
    samples: int = 128,
    n: int = DEFAULT_N,
    alpha: float = DEFAULT_ALPHA,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> tuple[SmoothedSoftmax, HardVoteJudge]:
    """What an attack on `smoothed` takes: the model whose gradient it follows (the softmax
    averaged over `samples` noisy copies) and the judge of success (the hard vote with `n`
    samples at level `alpha`)."""
    base = smoothed.base_classifier
    return SmoothedSoftmax(base, smoothed.noise, samples), HardVoteJudge(
        smoothed, n, alpha, batch_size
    )


def attack_smoothed(
    attack,
    smoothed: SmoothedClassifier,
    samples: int = 128,
    n: int = DEFAULT_N,
    alpha: float = DEFAULT_ALPHA,
    batch_size: int = DEFAULT_BATCH_SIZE,
    **settings,
):
    """The attack class `attack` (e.g. `WassersteinPGD`) aimed at a smoothed classifier, as in
    Levine & Feizi (2020, section 6.2): gradients of the averaged softmax, success decided by
    the smoothed classifier's hard vote (an abstention counts as broken).

    Parameters
    ----------
    attack : type
        An attack class taking ``(model, ..., judge=)``.
    smoothed : SmoothedClassifier
        The smoothed classifier (its base network in eval mode).
    samples : int
        Noisy copies behind each gradient (128, as Salman et al. 2019).
    n, alpha, batch_size
        The hard vote's samples, significance level and batch size.
    **settings
        The attack's own settings.

    Returns
    -------
    The attack, called as ``attack(images, labels)``.

    References
    ----------
    .. [1] A. Levine and S. Feizi, "Wasserstein Smoothing: Certified Robustness against
       Wasserstein Adversarial Attacks", AISTATS 2020.
    .. [2] H. Salman, G. Yang, J. Li, P. Zhang, H. Zhang, I. Razenshteyn and S. Bubeck,
       "Provably Robust Deep Learning via Adversarially Trained Smoothed Classifiers",
       NeurIPS 2019.

    Examples
    --------
    >>> import torch
    >>> from wsattack import SmoothedClassifier, WassersteinPGD, load_dataset, load_model
    >>> data = load_dataset("demo", limit=2)
    >>> smoothed = SmoothedClassifier(load_model("zoo:demo_fashion_mnist_cnn"), 10, "wasserstein", 0.01)
    >>> attack = attack_smoothed(WassersteinPGD, smoothed, samples=8, n=50, max_iter=4)
    >>> _ = torch.manual_seed(0)
    >>> attack(data.images, data.labels).adv.shape
    torch.Size([2, 1, 28, 28])
    """  # noqa: E501  (a doctest line)
    model, judge = smoothed_target(smoothed, samples, n, alpha, batch_size)
    return attack(model, judge=judge, **settings)
