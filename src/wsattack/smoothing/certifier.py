"""A randomized-smoothing classifier with Monte Carlo prediction and certification.

Modelled on `Smooth` of Cohen et al. (2019) (PREDICT and CERTIFY), with the noise models and
radii of Levine & Feizi (2020). Pure tensors and numbers in and out: no configuration, no I/O.

Radii are 1-Wasserstein distances with the Euclidean ground metric between mass-normalized
images (each divided by its total mass), the paper's threat model (see `radius`).

How outcomes are recorded:
- An abstention returns the prediction `ABSTAIN` (-1), radius 0.0 and, for `certify`, the
  computed p_lower (<= 0.5). An abstention never counts as correct, at any radius.
- A wrong guess is not detectable here (the certifier never sees labels): `certify` returns
  the guessed class with its positive radius, and the caller must count it as not certified
  (certified accuracy at radius r counts prediction == label and radius >= r).
"""

from __future__ import annotations

from collections.abc import Callable
from numbers import Integral, Real
from typing import Final, NamedTuple

import torch
from torch import Tensor

from wsattack.errors import ConfigError
from wsattack.smoothing.noise import NoiseModel, build_noise
from wsattack.smoothing.statistics import clopper_pearson_lower, vote_is_significant

ABSTAIN: Final = -1

# The paper's sample counts and confidence (section 6); batch size from scripts/bench_certify.py.
DEFAULT_N0: Final = 1_000
DEFAULT_N: Final = 10_000
DEFAULT_ALPHA: Final = 0.05
DEFAULT_BATCH_SIZE: Final = 1_000


class Certificate(NamedTuple):
    """Result of `certify`: class (or ABSTAIN), W1 radius (0.0 on abstention), bound p_lower,
    and the noise samples drawn for it (selection plus estimation)."""

    prediction: int
    radius: float
    p_lower: float
    samples: int


class SmoothedClassifier:
    """g(x) = argmax_c P(f(x + mass(x) * noise) = c) for a base classifier f.

    `base_classifier` maps a batch (B, C, H, W) to scores (B, num_classes); it is called under
    `torch.inference_mode` and not put in eval mode here (the caller does that). Images are one
    (C, H, W) tensor with pixels in [0, 1]; noise is drawn in its dtype and on its device, from
    `generator` when given (same generator state, same result).

    Examples
    --------
    >>> import torch
    >>> from wsattack import load_dataset, load_model
    >>> model = load_model("zoo:demo_fashion_mnist_cnn").eval()
    >>> data = load_dataset("demo", limit=1)
    >>> smoothed = SmoothedClassifier(model, 10, "wasserstein", sigma=0.001)
    >>> gen = torch.Generator().manual_seed(0)
    >>> cert = smoothed.certify(data.images[0], n0=100, n=1_000, generator=gen)
    >>> cert.prediction == int(data.labels[0]), cert.radius > 0, cert.samples
    (True, True, 1100)

    References
    ----------
    J. Cohen, E. Rosenfeld, Z. Kolter, "Certified adversarial robustness via randomized
    smoothing", ICML 2019. A. Levine, S. Feizi, "Wasserstein smoothing: certified robustness
    against Wasserstein adversarial attacks", AISTATS 2020.
    """

    def __init__(
        self,
        base_classifier: Callable[[Tensor], Tensor],
        num_classes: int,
        noise: str,
        sigma: float,
    ) -> None:
        if num_classes < 2:
            raise ConfigError(f"num_classes must be >= 2, got {num_classes}")
        self.base_classifier = base_classifier
        self.num_classes = num_classes
        self.noise: NoiseModel = build_noise(noise, sigma)

    @property
    def sigma(self) -> float:
        return self.noise.sigma

    def predict(
        self,
        x: Tensor,
        n: int = DEFAULT_N,
        alpha: float = DEFAULT_ALPHA,
        batch_size: int = DEFAULT_BATCH_SIZE,
        generator: torch.Generator | None = None,
    ) -> int:
        """Hard-vote prediction from n noisy samples, or ABSTAIN when the vote is not
        significant (two-sided binomial test of the top two counts has p-value > alpha).
        Returns the wrong class with probability at most alpha (Cohen et al., Theorem 2)."""
        return self.vote_counts(x, n, alpha, batch_size, generator)[0]

    def vote_counts(
        self,
        x: Tensor,
        n: int = DEFAULT_N,
        alpha: float = DEFAULT_ALPHA,
        batch_size: int = DEFAULT_BATCH_SIZE,
        generator: torch.Generator | None = None,
    ) -> tuple[int, Tensor]:
        """`predict`'s class (or ABSTAIN) together with the class counts it was decided on."""
        _check_counts(n=n)
        _check_alpha(alpha)
        counts = self.class_counts(x, n, batch_size, generator)
        return vote(counts, alpha), counts

    def certify(
        self,
        x: Tensor,
        n0: int = DEFAULT_N0,
        n: int = DEFAULT_N,
        alpha: float = DEFAULT_ALPHA,
        batch_size: int = DEFAULT_BATCH_SIZE,
        generator: torch.Generator | None = None,
    ) -> Certificate:
        """Guess the top class from n0 samples, bound its probability from below with n fresh
        samples (one-sided Clopper-Pearson at level 1 - alpha), and certify the noise model's
        radius for that bound; ABSTAIN with radius 0.0 when the bound is <= 1/2. With
        probability at least 1 - alpha, a non-abstaining result is robust within the radius."""
        check_certify_arguments(n0, n, alpha)
        guess = int(self.class_counts(x, n0, batch_size, generator).argmax())
        hits = int(self.class_counts(x, n, batch_size, generator)[guess])
        return self.certificate(guess, clopper_pearson_lower(hits, n, alpha), n0 + n)

    def certificate(self, guess: int, p_lower: float, samples: int) -> Certificate:
        """The guess with the noise model's radius for p_lower, or ABSTAIN when p_lower <= 1/2."""
        if p_lower <= 0.5:
            return Certificate(ABSTAIN, 0.0, p_lower, samples)
        return Certificate(guess, self.noise.radius(p_lower), p_lower, samples)

    def class_counts(
        self,
        x: Tensor,
        num: int,
        batch_size: int = DEFAULT_BATCH_SIZE,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """How often the base classifier picks each class on `num` noisy copies of x: an int64
        CPU tensor (num_classes,). Copies are drawn and classified `batch_size` at a time."""
        _check_counts(num=num, batch_size=batch_size)
        counts = torch.zeros(self.num_classes, dtype=torch.long, device=x.device)
        with torch.inference_mode():
            for start in range(0, num, batch_size):
                batch = self.noise.copies(x, min(batch_size, num - start), generator)
                counts += self._votes(batch)
        return counts.cpu()

    def _votes(self, batch: Tensor) -> Tensor:
        scores = self.base_classifier(batch)
        if scores.shape != (batch.shape[0], self.num_classes):
            raise ConfigError(
                f"base classifier returned scores {tuple(scores.shape)}, "
                f"expected ({batch.shape[0]}, {self.num_classes})"
            )
        return torch.bincount(scores.argmax(dim=1), minlength=self.num_classes)


def vote(counts: Tensor, alpha: float) -> int:
    """The top class of `counts`, or ABSTAIN when a two-sided binomial test of the top two
    counts is not significant at level alpha (the decision rule of `predict`)."""
    top, runner_up = torch.topk(counts, 2).indices.tolist()
    if not vote_is_significant(int(counts[top]), int(counts[runner_up]), alpha):
        return ABSTAIN
    return top


def check_certify_arguments(n0: int, n: int, alpha: float) -> None:
    """The contract of `certify`'s sample counts and confidence."""
    _check_counts(n0=n0, n=n)
    if n0 > n:
        raise ConfigError(
            f"n0 (selection samples) must be <= n (estimation samples), got {n0} > {n}"
        )
    _check_alpha(alpha)


def _check_counts(**counts: object) -> None:
    for name, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")


def _check_alpha(alpha: object) -> None:
    if isinstance(alpha, bool) or not isinstance(alpha, Real) or not 0.0 < alpha < 1.0:
        raise ConfigError(f"alpha must be in (0, 1), got {alpha!r}")
