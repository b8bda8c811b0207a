"""Exact sequential tests of the requested radii: each radius decided by its own test.

Certifying radius r means claiming p > t_r for the guessed class's probability p, where t_r
is the smallest probability whose radius reaches r (`threshold`); the prediction itself is the
claim p > 1/2 (radius 0, t = 1/2). Each claim is a one-sided test of H0: p <= t, run in
stages: at stop n_k it rejects once the successes S_k reach a critical count c_k.

The critical counts are exact, not union bounds. Given how much of alpha the test spends at
each stop (`spending`), `critical_counts` propagates the distribution of S_k under p = t over
the stops, removing the paths that rejected earlier, and takes at each stop the smallest c_k
whose first-rejection probability stays within that stop's spend plus what earlier stops, held
back by the discreteness of the counts, left unspent (a group sequential binomial design,
Jennison & Turnbull 2000, ch. 7 and 12). The rejection probabilities up to any stop thus sum to
at most the spends up to it, and the test's total level is alpha, nearly all of it used.
Rejecting is an increasing event in the draws, so its probability is largest at the null's edge
p = t: each test has level alpha whatever p <= t, and stopping early (for any reason) only
removes chances to reject.

Radii are certified in increasing order (closed testing): r counts only if every smaller one,
and the prediction, is certified too. A false certificate at radius R means p <= t_R; the
smallest tested radius r with p <= t_r is then at most R, so it was certified, and its test
rejected a true null: probability at most alpha. No share of alpha is spent across radii, and
each test spends its alpha only where it can reject: its first stop is the fewest unanimous
votes that reject with `first_share` of alpha (ceil(ln(first_share alpha) / ln t), added to
the checkpoints), half of the rest is spread evenly over the stops in between, and the other
half goes to the last stop. Stops, spends and critical counts depend only on the settings.

Sampling stops once every test has passed or the smallest requested radius not yet certified
is given up: the chance that the remaining samples reach its last critical count, under a Beta
approximation of the posterior predictive (Jeffreys prior), is below `futility`. Giving up
never makes a certificate unsound; it only saves samples.

References
----------
C. Jennison, B. W. Turnbull, "Group sequential methods with applications to clinical trials",
Chapman & Hall/CRC, 2000. V. Voracek, "Treatment of statistical estimation problems in
randomized smoothing for adversarial robustness", NeurIPS 2024.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from scipy.signal import fftconvolve
from scipy.stats import beta, binom

from wsattack.errors import ConfigError

# Kept below every spend: covers the round-off of the FFT convolutions (about 1e-15).
ROUND_OFF_MARGIN: Final = 1e-10


def threshold(radius: Callable[[float], float], r: float) -> float:
    """The smallest float p in (1/2, 1] whose radius reaches r (1/2 for r = 0), by bisection
    on the monotone `radius` map, so that the test's claim p > t implies radius(p) >= r.

    >>> from wsattack.smoothing.radius import wasserstein_radius
    >>> round(threshold(lambda p: wasserstein_radius(p, 0.01), 0.01), 6)
    0.982014
    """
    if r == 0:
        return 0.5
    low, high = 0.5, 1.0
    while math.nextafter(low, 1.0) < high:
        middle = (low + high) / 2
        low, high = (low, middle) if radius(middle) >= r else (middle, high)
    return high


def first_stop(t: float, alpha: float) -> int:
    """The fewest unanimous votes whose probability under p = t is at most alpha."""
    return math.ceil(math.log(alpha) / math.log(t))


def spending(t: float, stops: Sequence[int], alpha: float, first_share: float) -> np.ndarray:
    """The part of alpha the test of p > t spends at each stop (zero before the first stop
    where unanimous votes reject with first_share * alpha; all of it at the last stop when no
    earlier one can)."""
    spends = np.zeros(len(stops))
    usable = [k for k, n in enumerate(stops[:-1]) if t**n <= first_share * alpha]
    if not usable:
        spends[-1] = alpha
        return spends
    first = usable[0]
    spends[first] = first_share * alpha
    rest = (1 - first_share) * alpha
    between = len(stops) - first - 2
    if between:
        spends[first + 1 : -1] = rest / 2 / between
    spends[-1] = rest - spends[first + 1 : -1].sum()
    return spends


def critical_counts(stops: Sequence[int], spends: Sequence[float], t: float) -> np.ndarray:
    """Smallest success count at each stop whose first-rejection probability under p = t is
    within that stop's spend plus what earlier stops left unspent (stop + 1 where nothing may
    be spent). Counts are discrete, so a stop rarely uses all it may; carrying the rest on
    keeps the test's total level at alpha instead of losing it.

    >>> critical_counts([10, 20], [0.01, 0.04], 0.5).tolist()
    [10, 15]
    """
    alive = np.ones(1)  # P(S = s and no rejection yet), s = 0 .. stop
    counts, previous, unspent = [], 0, 0.0
    for stop, spend in zip(stops, spends, strict=True):
        step = binom.pmf(np.arange(stop - previous + 1), stop - previous, t)
        alive = np.clip(fftconvolve(alive, step), 0.0, None)
        tail = np.cumsum(alive[::-1])[::-1]  # P(S >= c, no rejection before)
        budget = spend + unspent
        within = np.flatnonzero(tail <= budget - ROUND_OFF_MARGIN)
        count = int(within[0]) if within.size else stop + 1
        unspent = budget - (float(tail[count]) if count <= stop else 0.0)
        alive[count:] = 0.0
        counts.append(count)
        previous = stop
    return np.array(counts)


def check_first_share(first_share: float) -> None:
    if not 0 < first_share < 1:
        raise ConfigError(f"smoothing.first_share must be in (0, 1), got {first_share}")


def reach_chance(successes: int, trials: int, last: int, needed: int) -> float:
    """Chance that `last - trials` more draws bring the successes to `needed`: the Jeffreys
    posterior predictive, approximated by a Beta of the same mean and variance for the rate
    of the remaining draws."""
    remaining = last - trials
    if remaining == 0:
        return float(successes >= needed)
    # The predictive rate's variance is the posterior's plus the binomial noise of the draws.
    scale = remaining / last
    a, b = (successes + 0.5) * scale, (trials - successes + 0.5) * scale
    return float(beta.sf((needed - successes - 0.5) / remaining, a, b))


@dataclass(frozen=True)
class RadiusTests:
    """The plan of every test, fixed from the settings: stops, the tested radii (0 = the
    prediction, then the requested ones in increasing order), their thresholds, and the
    critical count of each test at each stop.

    Examples
    --------
    >>> from wsattack.smoothing.radius import wasserstein_radius
    >>> tests = RadiusTests.plan(
    ...     lambda p: wasserstein_radius(p, 0.01), (0.01,), (100, 1000), 10_000, 0.05, 0.5)
    >>> tests.stops, tests.counts[1].tolist()  # 204 unanimous votes certify 0.01
    ((100, 204, 1000, 10000), [101, 204, 991, 9850])
    >>> tests.run(lambda m: m, futility=0.1)  # every vote a success
    (2, 204)
    """

    stops: tuple[int, ...]
    radii: tuple[float, ...]
    thresholds: tuple[float, ...]
    counts: np.ndarray

    @classmethod
    def plan(
        cls,
        radius: Callable[[float], float],
        radii: Sequence[float],
        checkpoints: Sequence[int],
        n: int,
        alpha: float,
        first_share: float,
    ) -> RadiusTests:
        """Tests of the prediction and of each radius, with at most n samples in all."""
        if len(radii) == 0:
            raise ConfigError("sequential radius tests need at least one radius")
        check_first_share(first_share)
        tested = (0.0, *sorted(radii))
        thresholds = tuple(threshold(radius, r) for r in tested)
        firsts = {first_stop(t, first_share * alpha) for t in thresholds[1:] if t < 1}
        stops = tuple(sorted({c for c in (*checkpoints, *firsts) if c < n} | {n}))
        counts = np.array(
            [critical_counts(stops, spending(t, stops, alpha, first_share), t) for t in thresholds]
        )
        return cls(stops, tested, thresholds, counts)

    def run(self, draw: Callable[[int], int], futility: float) -> tuple[int, int]:
        """Draw in stages until the tests are decided; `draw(m)` draws m fresh trials and
        returns their successes. Returns (how many tests passed in order, trials drawn): 0 is
        an abstention, 1 the prediction alone, k > 1 certifies radii[k - 1]."""
        passed = np.zeros(len(self.radii), dtype=bool)
        successes = trials = 0
        for k, stop in enumerate(self.stops):
            successes += draw(stop - trials)
            trials = stop
            passed |= successes >= self.counts[:, k]
            leading = int(np.cumprod(passed).sum())
            if leading == len(self.radii):
                break
            # Only a requested radius is worth more samples, not the prediction alone.
            needed = int(self.counts[max(leading, 1), -1])
            if reach_chance(successes, trials, self.stops[-1], needed) < futility:
                break
        return leading, trials
