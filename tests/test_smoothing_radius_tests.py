"""Exact sequential radius tests: critical counts against an independent computation, false
certificates at most alpha of the time on Bernoulli draws, closure over the radii, and a plan
that depends only on the settings."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binom
from test_smoothing_certifier import LeftHeavy, seeded, two_pixels

from wsattack.errors import ConfigError
from wsattack.smoothing import SequentialSmoothedClassifier
from wsattack.smoothing import radius_tests as rt
from wsattack.smoothing.radius import laplace_radius, wasserstein_radius
from wsattack.smoothing.radius_tests import RadiusTests, critical_counts, spending, threshold
from wsattack.smoothing.sequential_certifier import DEFAULT_CHECKPOINTS, DEFAULT_FIRST_SHARE
from wsattack.smoothing.statistics import clopper_pearson_lower

ALPHA = 0.05
RADII = (0.005, 0.01, 0.015)
REPEATS = 1_500
# Three standard errors of a proportion near alpha over REPEATS runs.
TOLERANCE = 3 * math.sqrt(ALPHA * (1 - ALPHA) / REPEATS)


def radius(p: float) -> float:
    return wasserstein_radius(p, 0.01)


PLAN = RadiusTests.plan(radius, RADII, DEFAULT_CHECKPOINTS, 10_000, ALPHA, DEFAULT_FIRST_SHARE)


def first_rejections(stops, counts, p) -> list[float]:
    """P(the first rejection is at stop k) by summing over every count path, one stop at a
    time with explicit binomial terms (no FFT)."""
    alive = {0: 1.0}
    out, previous = [], 0
    for stop, count in zip(stops, counts, strict=True):
        nxt: dict[int, float] = {}
        for s, mass in alive.items():
            for j in range(stop - previous + 1):
                nxt[s + j] = nxt.get(s + j, 0.0) + mass * binom.pmf(j, stop - previous, p)
        out.append(sum(m for s, m in nxt.items() if s >= count))
        alive = {s: m for s, m in nxt.items() if s < count}
        previous = stop
    return out


@pytest.mark.parametrize("t", [0.5, 0.7, 0.93])
def test_critical_counts_are_the_smallest_within_the_spends_so_far(t):
    """What a stop leaves unspent carries on: by every stop, the test has rejected with at
    most the spends so far, and one fewer success at any stop would exceed them."""
    stops, spends = (8, 20, 45), (0.01, 0.015, 0.025)
    counts = critical_counts(stops, spends, t)
    budget = np.cumsum(spends)
    assert np.all(np.cumsum(first_rejections(stops, counts, t)) <= budget)
    for k in range(len(stops)):
        lower = counts.copy()
        lower[k] -= 1
        if lower[k] >= 0:
            assert np.cumsum(first_rejections(stops, lower, t))[k] > budget[k]


def test_a_test_spends_nearly_all_of_alpha_at_its_threshold():
    """Exact level: close to alpha (not a loose union bound, nor alpha lost to the
    discreteness of each stop), never above it."""
    for t, counts in zip(PLAN.thresholds, PLAN.counts, strict=True):
        total = sum(first_rejections_fast(PLAN.stops, counts, t))
        assert 0.85 * ALPHA < total <= ALPHA


def first_rejections_fast(stops, counts, p) -> list[float]:
    """`first_rejections` with numpy convolutions, for the 10,000-sample plans."""
    alive, out, previous = np.ones(1), [], 0
    for stop, count in zip(stops, counts, strict=True):
        alive = np.convolve(alive, binom.pmf(np.arange(stop - previous + 1), stop - previous, p))
        out.append(float(alive[count:].sum()))
        alive[count:] = 0.0
        previous = stop
    return out


def test_spending_puts_a_share_at_the_first_usable_stop_and_half_the_rest_at_the_last():
    stops = (30, 100, 300, 1_000, 3_000, 10_000)
    t = threshold(radius, 0.01)  # 204 unanimous votes reject at alpha / 2: first usable is 300
    spends = spending(t, stops, ALPHA, 0.5)
    assert spends[:2].tolist() == [0.0, 0.0]
    assert spends[2:].tolist() == pytest.approx([0.025, 0.00625, 0.00625, 0.0125])
    assert spends.sum() == pytest.approx(ALPHA)
    # No stop before the last can reject: all of alpha there.
    assert spending(0.9999, stops, ALPHA, 0.5).tolist() == [0.0] * 5 + [ALPHA]


@pytest.mark.parametrize("noise_radius", [wasserstein_radius, laplace_radius])
@pytest.mark.parametrize("r", [1e-4, 0.005, 0.015, 0.05])
def test_threshold_is_the_smallest_probability_that_reaches_the_radius(noise_radius, r):
    t = threshold(lambda p: noise_radius(p, 0.01), r)
    assert noise_radius(t, 0.01) >= r > noise_radius(math.nextafter(t, 0.0), 0.01)


def false_certificates(
    plan: RadiusTests, p: float, futility: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """How often each tested radius is certified on Bernoulli(p) draws: by the sequential tests,
    and by the fixed certifier's Clopper-Pearson bound from all n of the same draws. Paired
    draws make the two rates differ by far less noise than independent runs would."""
    rng = np.random.default_rng(seed)
    sequential, fixed = np.zeros(len(plan.radii)), np.zeros(len(plan.radii))
    for _ in range(REPEATS):
        hits = np.concatenate([[0], np.cumsum(rng.random(plan.stops[-1]) < p)])
        drawn = [0]

        def draw(m: int, hits=hits, drawn=drawn) -> int:
            drawn[0] += m
            return int(hits[drawn[0]] - hits[drawn[0] - m])

        passed, _ = plan.run(draw, futility)
        sequential[:passed] += 1
        fixed += clopper_pearson_lower(int(hits[-1]), plan.stops[-1], ALPHA) >= np.array(
            plan.thresholds
        )
    return sequential / REPEATS, fixed / REPEATS


@pytest.mark.parametrize("index", range(len(RADII) + 1))
@pytest.mark.parametrize("futility", [0.1, 1e-12])
def test_a_radius_is_certified_wrongly_at_most_alpha_of_the_time(index, futility):
    """Just below a threshold every certificate of that radius (or a larger one) is false; with
    a vanishing futility, sampling runs to the end: the most chances to reject."""
    p = PLAN.thresholds[index] - 1e-9
    sequential, fixed = false_certificates(PLAN, p, futility, seed=index)
    assert sequential[index] <= ALPHA + TOLERANCE
    assert sequential[index] <= fixed[index] + TOLERANCE


def test_the_soundness_check_catches_tests_that_spend_alpha_at_every_stop():
    t = PLAN.thresholds[-1]
    naive = critical_counts(PLAN.stops, [ALPHA] * len(PLAN.stops), t)
    counts = PLAN.counts.copy()
    counts[-1] = naive
    broken = RadiusTests(PLAN.stops, PLAN.radii, PLAN.thresholds, counts)
    assert false_certificates(broken, t - 1e-9, 1e-12, seed=7)[0][-1] > ALPHA + TOLERANCE


def test_a_radius_counts_only_when_every_smaller_one_is_certified():
    tests = RadiusTests((10,), (0.0, 0.1, 0.2), (0.5, 0.8, 0.9), np.array([[5], [11], [5]]))
    assert tests.run(lambda m: m, futility=0.1) == (1, 10)


def test_unanimous_votes_stop_at_the_largest_radius_first_stop():
    passed, trials = PLAN.run(lambda m: m, futility=0.1)
    assert passed == len(RADII) + 1
    assert trials == rt.first_stop(PLAN.thresholds[-1], DEFAULT_FIRST_SHARE * ALPHA) == 1_491


def test_hopeless_radii_are_given_up_early():
    """p = 0.95 cannot reach 0.01 (needs 0.982): radius 0.005 is certified, then sampling
    stops long before the last checkpoint."""
    rng = np.random.default_rng(0)
    passed, trials = PLAN.run(lambda m: int(rng.binomial(m, 0.95)), futility=0.1)
    assert passed == 2 and trials <= 1_000


def test_a_radius_out_of_reach_is_never_certified_and_costs_nothing():
    tests = RadiusTests.plan(radius, (0.01, 1e6), DEFAULT_CHECKPOINTS, 10_000, ALPHA, 0.5)
    assert tests.thresholds[-1] == 1.0 and tests.stops == tuple(s for s in PLAN.stops if s != 1_491)
    assert tests.run(lambda m: m, futility=0.1) == (2, 204)


def test_bad_plans_are_refused():
    with pytest.raises(ConfigError, match="first_share"):
        RadiusTests.plan(radius, RADII, DEFAULT_CHECKPOINTS, 10_000, ALPHA, 1.0)
    with pytest.raises(ConfigError, match="radius"):
        RadiusTests.plan(radius, (), DEFAULT_CHECKPOINTS, 10_000, ALPHA, 0.5)


@pytest.mark.parametrize("left", [0.5, 0.55, 0.7, 0.99])
def test_the_plan_does_not_depend_on_the_data(monkeypatch, left):
    """Whatever the image, the tests run are the plan made from the settings alone, and
    samples are drawn up to its stops only."""
    classifier = SequentialSmoothedClassifier(
        LeftHeavy(), 2, "wasserstein", 0.1, radii=(0.02, 0.05)
    )
    planned = RadiusTests.plan(
        classifier.noise.radius, (0.02, 0.05), DEFAULT_CHECKPOINTS, 10_000, ALPHA, 0.5
    )
    seen = []
    real_run = RadiusTests.run

    def record(self, draw, futility):
        drawn = []

        def counting(m):
            drawn.append(m)
            return draw(m)

        seen.append((self, drawn))
        return real_run(self, counting, futility)

    monkeypatch.setattr(RadiusTests, "run", record)
    classifier.certify(two_pixels(left), generator=seeded(0))
    ((tests, drawn),) = seen
    assert tests.stops == planned.stops and tests.thresholds == planned.thresholds
    assert np.array_equal(tests.counts, planned.counts)
    assert np.cumsum(drawn).tolist() == list(planned.stops[: len(drawn)])
