"""A smoothed classifier that certifies and predicts from as few noise samples as it can.

Same contract, sentinel and radii as `SmoothedClassifier`, whose `n0`, `n` and `alpha` become
the most samples drawn and the total confidence spent. What changes is when sampling stops:
after each checkpoint of a `Schedule` fixed before any sample is drawn (see `sequential`).

- Selection: the top class is guessed from staged votes over the checkpoints below n0, stopping
  at the first significant vote (at most n0 samples). These samples are then discarded:
  the bound never reuses the samples that chose the class it bounds.
- Estimation: fresh samples in stages up to n, with the Clopper-Pearson bounds of each stage;
  `StoppingRule` ends it once the requested radii are decided.
- Prediction: the staged hard vote of `sequential.staged_vote`, up to n samples.

Examples
--------
>>> import torch
>>> net = lambda batch: torch.stack([batch[:, 0, 0, 0], 1 - batch[:, 0, 0, 0]], dim=1)
>>> smooth = SequentialSmoothedClassifier(net, 2, "laplace", 0.01, radii=(0.001,))
>>> cert = smooth.certify(torch.tensor([[[0.9, 0.1]]]), generator=torch.Generator().manual_seed(0))
>>> cert.prediction, cert.radius >= 0.001, cert.samples
(0, True, 60)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

import torch
from torch import Tensor

from wsattack.smoothing.certifier import (
    DEFAULT_ALPHA,
    DEFAULT_BATCH_SIZE,
    DEFAULT_N,
    DEFAULT_N0,
    Certificate,
    SmoothedClassifier,
    check_certify_arguments,
)
from wsattack.smoothing.sequential import Schedule, StoppingRule, staged_estimate, staged_vote

# Chosen by simulating the top-class frequencies of the sigma = 0.01 Wasserstein base model on
# the first 500 MNIST test images (radii 0.005 / 0.01 / 0.015), then checked with
# scripts/bench_sequential_certify.py: about a factor 3 between checkpoints, one at 30 (cheap
# selection and abstention), and 1,850 just above the 1,811 unanimous votes that certify radius
# 0.015 with that checkpoint's share. A larger futility stops sooner and certifies less.
DEFAULT_CHECKPOINTS: Final = (30, 100, 300, 1_000, 1_850, 4_000, 10_000)
DEFAULT_RADIUS_TOL: Final = 1e-3
DEFAULT_FUTILITY: Final = 0.7


class SequentialSmoothedClassifier(SmoothedClassifier):
    """`SmoothedClassifier` with staged sampling.

    Parameters
    ----------
    base_classifier, num_classes, noise, sigma
        As for `SmoothedClassifier`.
    checkpoints
        Cumulative sample counts after which bounds are computed and sampling may stop; the
        ones below n (or n0), then n itself, are used.
    radii
        The radii to decide. Empty: estimate the largest certified radius to `radius_tol`.
    radius_tol
        Width of the certified-radius interval at which maximum-radius mode stops.
    futility
        Budget for refuting a radius early, spent over the checkpoints as alpha is: a radius is
        refuted when an optimistic rate (upper bound of the checkpoint's futility level) carried
        to the last checkpoint could not certify it there. Larger stops sooner and certifies
        a little less; soundness never depends on it.
    """

    def __init__(
        self,
        base_classifier: Callable[[Tensor], Tensor],
        num_classes: int,
        noise: str,
        sigma: float,
        checkpoints: Sequence[int] = DEFAULT_CHECKPOINTS,
        radii: Sequence[float] = (),
        radius_tol: float = DEFAULT_RADIUS_TOL,
        futility: float = DEFAULT_FUTILITY,
    ) -> None:
        super().__init__(base_classifier, num_classes, noise, sigma)
        self.checkpoints = tuple(checkpoints)
        self.radii = tuple(float(r) for r in radii)
        self.radius_tol = float(radius_tol)
        self.futility = float(futility)
        # Validates every setting now rather than at the first image.
        self.stopping_rule(Schedule.split(self.checkpoints, DEFAULT_N, DEFAULT_ALPHA))

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(noise={self.noise.name!r}, sigma={self.sigma}, "
            f"checkpoints={list(self.checkpoints)}, radii={list(self.radii)}, "
            f"radius_tol={self.radius_tol}, futility={self.futility})"
        )

    def stopping_rule(self, schedule: Schedule) -> StoppingRule:
        return StoppingRule(self.noise.radius, schedule, self.radii, self.radius_tol, self.futility)

    def vote_counts(
        self,
        x: Tensor,
        n: int = DEFAULT_N,
        alpha: float = DEFAULT_ALPHA,
        batch_size: int = DEFAULT_BATCH_SIZE,
        generator: torch.Generator | None = None,
    ) -> tuple[int, Tensor]:
        """The staged hard vote over at most n samples: wrong with probability <= alpha."""
        check_certify_arguments(1, n, alpha)
        draw = lambda m: self.class_counts(x, m, batch_size, generator)  # noqa: E731
        return staged_vote(draw, Schedule.split(self.checkpoints, n, alpha))

    def certify(
        self,
        x: Tensor,
        n0: int = DEFAULT_N0,
        n: int = DEFAULT_N,
        alpha: float = DEFAULT_ALPHA,
        batch_size: int = DEFAULT_BATCH_SIZE,
        generator: torch.Generator | None = None,
    ) -> Certificate:
        """Guess the class from at most n0 samples, then bound its probability in stages from
        at most n fresh ones. A non-abstaining result is robust within its radius with
        probability at least 1 - alpha, whenever sampling stopped."""
        check_certify_arguments(n0, n, alpha)
        _, votes = self.vote_counts(x, n0, alpha, batch_size, generator)
        guess = int(votes.argmax())
        schedule = Schedule.split(self.checkpoints, n, alpha)
        est = staged_estimate(
            lambda m: int(self.class_counts(x, m, batch_size, generator)[guess]),
            schedule,
            self.stopping_rule(schedule),
        )
        return self.certificate(guess, est.p_lower, int(votes.sum()) + est.trials)
