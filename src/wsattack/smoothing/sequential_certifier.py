"""A smoothed classifier that certifies and predicts from as few noise samples as it can.

Same contract, sentinel and radii as `SmoothedClassifier`, whose `n0`, `n` and `alpha` become
the most samples drawn and the total confidence spent. What changes is when sampling stops:
after each checkpoint fixed before any sample is drawn (see `sequential`, `radius_tests`).

- Selection: the top class is guessed from staged votes over the checkpoints below n0, stopping
  at the first significant vote (at most n0 samples). These samples are then discarded:
  no test reuses the samples that chose the class it tests.
- Estimation, with requested radii: fresh samples in stages up to n, each radius decided by its
  own exact sequential test (`radius_tests.RadiusTests`); the certificate is the largest radius
  certified with every smaller one, its threshold probability as p_lower (radius 0.0 and p_lower
  1/2 when only the prediction is certified; ABSTAIN with p_lower 0.0 when not even that).
- Estimation, without radii: staged Clopper-Pearson bounds up to n (`sequential.StoppingRule`),
  the radius of the best lower bound as in the fixed certifier.
- Prediction: the staged hard vote of `sequential.staged_vote`, up to n samples.

Examples
--------
>>> import torch
>>> net = lambda batch: torch.stack([batch[:, 0, 0, 0], 1 - batch[:, 0, 0, 0]], dim=1)
>>> smooth = SequentialSmoothedClassifier(net, 2, "laplace", 0.01, radii=(0.001,))
>>> cert = smooth.certify(torch.tensor([[[0.9, 0.1]]]), generator=torch.Generator().manual_seed(0))
>>> cert.prediction, cert.radius, cert.samples
(0, 0.001, 39)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Final

import torch
from torch import Tensor

from wsattack.errors import ConfigError
from wsattack.smoothing.certifier import (
    ABSTAIN,
    DEFAULT_ALPHA,
    DEFAULT_BATCH_SIZE,
    DEFAULT_N,
    DEFAULT_N0,
    Certificate,
    SmoothedClassifier,
    check_certify_arguments,
)
from wsattack.smoothing.radius_tests import RadiusTests, check_first_share
from wsattack.smoothing.sequential import Schedule, StoppingRule, staged_estimate, staged_vote

# Chosen by simulating the recorded top-class frequencies of the sigma = 0.01 Wasserstein base
# model on MNIST test images 500 to 2,499 (radii 0.005 / 0.01 / 0.015), disjoint from the
# benchmark's first 500, then checked with scripts/bench_sequential_certify.py: checkpoints
# about 1,000 apart from 1,000 on (each radius adds its own first one), half of each test's
# alpha at its first stop, and a radius given up below a 10 % chance of being certified.
DEFAULT_CHECKPOINTS: Final = (30, 100, 300, 1_000, 2_000, 3_000, 4_000, 5_000, 6_500, 10_000)
DEFAULT_RADIUS_TOL: Final = 1e-3
DEFAULT_FUTILITY: Final = 0.1
DEFAULT_FIRST_SHARE: Final = 0.5


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
        A radius is given up once the chance of certifying it by the last checkpoint falls
        below this. Larger stops sooner and certifies a little less; soundness never depends
        on it.
    first_share
        Share of alpha each radius's test spends at its first stop, where unanimous votes
        certify it.
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
        first_share: float = DEFAULT_FIRST_SHARE,
    ) -> None:
        super().__init__(base_classifier, num_classes, noise, sigma)
        self.checkpoints = tuple(checkpoints)
        self.radii = tuple(float(r) for r in radii)
        self.radius_tol = float(radius_tol)
        self.futility = float(futility)
        self.first_share = float(first_share)
        self._plans: dict[tuple[int, float], RadiusTests] = {}
        if any(not math.isfinite(r) or r <= 0 for r in self.radii):
            raise ConfigError(f"smoothing.radii must be positive numbers, got {list(self.radii)}")
        if not 0 < self.futility < 1:
            raise ConfigError(f"smoothing.futility must be in (0, 1), got {self.futility}")
        check_first_share(self.first_share)
        # Validates the checkpoints now rather than at the first image.
        Schedule.split(self.checkpoints, DEFAULT_N, DEFAULT_ALPHA)
        self.stopping_rule = StoppingRule(self.noise.radius, self.radius_tol)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(noise={self.noise.name!r}, sigma={self.sigma}, "
            f"checkpoints={list(self.checkpoints)}, radii={list(self.radii)}, "
            f"radius_tol={self.radius_tol}, futility={self.futility}, "
            f"first_share={self.first_share})"
        )

    def radius_tests(self, n: int, alpha: float) -> RadiusTests:
        """The tests of the requested radii with at most n samples (planned once per n, alpha)."""
        key = (n, alpha)
        if key not in self._plans:
            self._plans[key] = RadiusTests.plan(
                self.noise.radius, self.radii, self.checkpoints, n, alpha, self.first_share
            )
        return self._plans[key]

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
        """Guess the class from at most n0 samples, then test or bound its probability in
        stages from at most n fresh ones. A non-abstaining result is robust within its radius
        with probability at least 1 - alpha, whenever sampling stopped."""
        check_certify_arguments(n0, n, alpha)
        _, votes = self.vote_counts(x, n0, alpha, batch_size, generator)
        guess, selected = int(votes.argmax()), int(votes.sum())

        def draw(m: int) -> int:
            return int(self.class_counts(x, m, batch_size, generator)[guess])

        if self.radii:
            tests = self.radius_tests(n, alpha)
            passed, trials = tests.run(draw, self.futility)
            if passed == 0:
                return Certificate(ABSTAIN, 0.0, 0.0, selected + trials)
            return Certificate(
                guess, tests.radii[passed - 1], tests.thresholds[passed - 1], selected + trials
            )
        schedule = Schedule.split(self.checkpoints, n, alpha)
        est = staged_estimate(draw, schedule, self.stopping_rule)
        return self.certificate(guess, est.p_lower, selected + est.trials)
