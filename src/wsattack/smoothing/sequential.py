"""Sequential estimation for randomized smoothing: bounds valid at any data-dependent stop.

Samples are drawn in stages that end at checkpoints n_1 < n_2 < ... < n_K, fixed with their
confidence shares alpha_1, ..., alpha_K before any sample is drawn (`Schedule`). At checkpoint
k the one-sided Clopper-Pearson bounds of level 1 - alpha_k are computed from all samples so
far. By the union bound,

    P(p < L_k for some k) <= sum_k alpha_k <= alpha,

so the largest lower bound seen up to any stopping time, however the stop was chosen from the
data, is a (1 - alpha) lower confidence bound on p (Voracek 2024, section 4: a union bound of
Clopper-Pearson intervals at data-independent checkpoints). The same argument makes a staged
hard vote (`staged_vote`) return a wrong class with probability at most alpha. Stopping early
never harms soundness; it only decides how many samples are spent.

The split gives a checkpoint of n samples a share in proportion to min(n, 1,000): the first
checkpoints decide only easy cases (a unanimous vote, a coin flip), so most of alpha goes to
the checkpoints from 1,000 samples on, in equal parts. This bound serves the top-class
selection, the hard vote and maximum-radius estimation; requested radii are decided by the
exact tests of `radius_tests`, which need no union bound.

References
----------
V. Voracek, "Treatment of statistical estimation problems in randomized smoothing for
adversarial robustness", NeurIPS 2024.
M. Z. Horvath, M. N. Mueller, M. Fischer, M. Vechev, "Boosting randomized smoothing with
variance reduced classifiers", ICLR 2022 (adaptive sampling with early abstention).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from numbers import Integral
from typing import Final, NamedTuple

import torch
from torch import Tensor

from wsattack.errors import ConfigError
from wsattack.smoothing.certifier import ABSTAIN
from wsattack.smoothing.statistics import (
    clopper_pearson_lower,
    clopper_pearson_upper,
    vote_is_significant,
)

# Checkpoints of at least this many samples get equal shares of alpha; smaller ones less.
FULL_SHARE_FROM: Final = 1_000


@dataclass(frozen=True)
class Schedule:
    """Checkpoints (cumulative sample counts) and the share of alpha spent at each.

    Examples
    --------
    >>> schedule = Schedule.split((100, 1_000, 10_000), n=5_000, alpha=0.042)
    >>> schedule.stops, [round(a, 3) for a in schedule.alphas]
    ((100, 1000, 5000), [0.002, 0.02, 0.02])
    """

    stops: tuple[int, ...]
    alphas: tuple[float, ...]

    @classmethod
    def split(cls, checkpoints: Sequence[int], n: int, alpha: float) -> Schedule:
        """The checkpoints below `n`, then `n` itself, with shares of alpha in proportion to
        min(stop, FULL_SHARE_FROM)."""
        check_checkpoints(checkpoints)
        stops = tuple(int(c) for c in checkpoints if c < n) + (int(n),)
        weights = [min(stop, FULL_SHARE_FROM) for stop in stops]
        return cls(stops, tuple(alpha * w / sum(weights) for w in weights))

    @property
    def last(self) -> int:
        return self.stops[-1]

    def __iter__(self) -> Iterator[tuple[int, float]]:
        return iter(zip(self.stops, self.alphas, strict=True))


class Estimate(NamedTuple):
    """The state of a staged estimate after a checkpoint: successes out of trials, the best
    lower bound so far, the upper bound at this checkpoint, and the checkpoint's index."""

    successes: int
    trials: int
    p_lower: float
    p_upper: float
    stage: int


def staged_estimate(
    draw: Callable[[int], int], schedule: Schedule, settled: Callable[[Estimate], bool]
) -> Estimate:
    """Bound a success probability in stages until `settled` says so or the schedule ends.

    `draw(m)` draws m fresh trials and returns how many succeeded; `settled` sees the estimate
    after each checkpoint. The returned p_lower is a (1 - sum of the shares) lower confidence
    bound valid whatever `settled` decides.
    """
    successes = trials = 0
    best = 0.0
    for stage, (stop, share) in enumerate(schedule):
        successes += draw(stop - trials)
        trials = stop
        best = max(best, clopper_pearson_lower(successes, trials, share))
        est = Estimate(
            successes, trials, best, clopper_pearson_upper(successes, trials, share), stage
        )
        if settled(est):
            break
    return est


def staged_vote(counts: Callable[[int], Tensor], schedule: Schedule) -> tuple[int, Tensor]:
    """Cohen et al.'s PREDICT in stages: after each checkpoint, a two-sided binomial test of the
    top two counts at that checkpoint's share; the first significant one returns the top class.
    Returns (class or ABSTAIN, the counts drawn); `counts(m)` draws m fresh votes."""
    total: Tensor | None = None
    drawn = 0
    for stop, share in schedule:
        batch = counts(stop - drawn)
        total = batch if total is None else total + batch
        drawn = stop
        top, runner_up = torch.topk(total, 2).indices.tolist()
        if vote_is_significant(int(total[top]), int(total[runner_up]), share):
            return top, total
    return ABSTAIN, total


@dataclass(frozen=True)
class StoppingRule:
    """When maximum-radius estimation may stop (never affects soundness, only the samples
    spent): at once when the upper bound is at most 1/2 (an abstention), else once the
    certified-radius interval radius(p_upper) - radius(p_lower) is narrower than `radius_tol`.
    With requested radii, `radius_tests` decides instead.

    `radius` maps a probability bound in [1/2, 1] to the certified radius.
    """

    radius: Callable[[float], float]
    radius_tol: float

    def __post_init__(self) -> None:
        if not self.radius_tol > 0:
            raise ConfigError(f"smoothing.radius_tol must be positive, got {self.radius_tol}")

    def __call__(self, est: Estimate) -> bool:
        if est.p_upper <= 0.5:
            return True
        return est.p_lower > 0.5 and self._reach(est.p_upper) - self._reach(est.p_lower) < (
            self.radius_tol
        )

    def _reach(self, p: float) -> float:
        return self.radius(p) if p > 0.5 else 0.0


def check_checkpoints(checkpoints: Sequence[int]) -> None:
    """Checkpoints must be positive integers in strictly increasing order."""
    values = list(checkpoints)
    valid = all(isinstance(c, Integral) and not isinstance(c, bool) and c > 0 for c in values)
    if not values or not valid or any(b <= a for a, b in zip(values, values[1:], strict=False)):
        raise ConfigError(
            f"smoothing.checkpoints must be positive integers in increasing order, got {values}"
        )
