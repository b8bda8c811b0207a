"""Sequential certification: soundness at any stopping time, a data-independent schedule, and
the classifier that stops early (against a toy base classifier whose votes are known)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_smoothing_certifier import LeftHeavy, seeded, two_pixels

import wsattack.smoothing.sequential as sequential
from wsattack.errors import ConfigError
from wsattack.smoothing import ABSTAIN, SequentialSmoothedClassifier, SmoothedClassifier
from wsattack.smoothing.radius import wasserstein_radius
from wsattack.smoothing.sequential import Schedule, StoppingRule, staged_estimate
from wsattack.smoothing.sequential_certifier import DEFAULT_CHECKPOINTS
from wsattack.smoothing.statistics import clopper_pearson_lower

ALPHA = 0.05
SCHEDULE = Schedule.split(DEFAULT_CHECKPOINTS, 10_000, ALPHA)
REPEATS = 1_500


def always_one(batch: torch.Tensor) -> torch.Tensor:
    """A base classifier that votes class 1 whatever the noise: p = 1 exactly."""
    return torch.tensor([[0.0, 1.0]], dtype=batch.dtype).expand(batch.shape[0], 2)


def radius(p: float) -> float:
    return wasserstein_radius(p, 0.01)


def stopping_rules(p: float) -> dict:
    """Every kind of stop, including the worst: stopping exactly when the bound is wrong."""
    return {
        "max_radius": StoppingRule(radius, 1e-3),
        "never": lambda est: False,
        "adversarial": lambda est: est.p_lower > p,
    }


def miscoverage(p: float, schedule: Schedule, settled, seed: int) -> float:
    """How often the staged lower bound exceeds the true probability p (Bernoulli draws)."""
    rng = np.random.default_rng(seed)
    wrong = 0
    for _ in range(REPEATS):
        est = staged_estimate(lambda m: int(rng.binomial(m, p)), schedule, settled)
        wrong += est.p_lower > p
    return wrong / REPEATS


def fixed_miscoverage(p: float, seed: int) -> float:
    rng = np.random.default_rng(seed)
    hits = rng.binomial(10_000, p, size=REPEATS)
    return float(np.mean([clopper_pearson_lower(int(h), 10_000, ALPHA) > p for h in hits]))


# Three standard errors of a proportion near alpha over REPEATS runs.
TOLERANCE = 3 * np.sqrt(ALPHA * (1 - ALPHA) / REPEATS)


@pytest.mark.parametrize("p", [0.6, 0.95, 0.99, 0.998])
def test_lower_bound_is_wrong_at_most_alpha_of_the_time_whatever_the_stop(p):
    fixed = fixed_miscoverage(p, seed=1)
    for name, rule in stopping_rules(p).items():
        rate = miscoverage(p, SCHEDULE, rule, seed=2)
        assert rate <= ALPHA + TOLERANCE, (name, rate)
        assert rate <= fixed + TOLERANCE, (name, rate, fixed)


def test_the_soundness_check_catches_a_bound_that_spends_alpha_at_every_checkpoint():
    """The same check on the naive scheme (full alpha at each checkpoint) fails: it has power."""
    p = 0.95
    naive = Schedule(SCHEDULE.stops, (ALPHA,) * len(SCHEDULE.stops))
    rate = miscoverage(p, naive, lambda est: est.p_lower > p, seed=3)
    assert rate > ALPHA + TOLERANCE


def test_schedule_cuts_the_checkpoints_at_n_and_splits_alpha_by_checkpoint_size():
    schedule = Schedule.split((100, 300, 1_000, 2_000, 4_000), 2_500, 0.068)
    assert schedule.stops == (100, 300, 1_000, 2_000, 2_500)
    assert schedule.alphas == pytest.approx((0.002, 0.006, 0.02, 0.02, 0.02))
    assert sum(schedule.alphas) <= 0.068 + 1e-15
    assert Schedule.split((100, 300), 50, 0.05).stops == (50,)


@pytest.mark.parametrize("checkpoints", [(), (100, 100), (300, 100), (0, 10), (1.5, 10), (True,)])
def test_bad_checkpoints_are_refused(checkpoints):
    with pytest.raises(ConfigError, match="checkpoints"):
        Schedule.split(checkpoints, 1_000, 0.05)


@pytest.mark.parametrize(
    ("setting", "match"),
    [
        ({"radii": (0.01, -1.0)}, "radii"),
        ({"radius_tol": 0.0}, "radius_tol"),
        ({"futility": 1.5}, "futility"),
        ({"first_share": 1.0}, "first_share"),
        ({"checkpoints": (10, 5)}, "checkpoints"),
    ],
)
def test_bad_settings_are_refused_at_construction(setting, match):
    with pytest.raises(ConfigError, match=match):
        SequentialSmoothedClassifier(LeftHeavy(), 2, "wasserstein", 0.1, **setting)


def certify_recording(monkeypatch, classifier, x) -> set[tuple[int, float]]:
    """The (trials, alpha) of every bound and vote test `certify` and `vote_counts` compute."""
    seen: set[tuple[int, float]] = set()
    for name in ("clopper_pearson_lower", "clopper_pearson_upper"):
        real = getattr(sequential, name)

        def record(successes, trials, alpha, real=real):
            seen.add((trials, alpha))
            return real(successes, trials, alpha)

        monkeypatch.setattr(sequential, name, record)
    real_vote = sequential.vote_is_significant

    def record_vote(top, runner_up, alpha):
        seen.add((None, alpha))
        return real_vote(top, runner_up, alpha)

    monkeypatch.setattr(sequential, "vote_is_significant", record_vote)
    classifier.certify(x, n0=1_000, n=10_000, alpha=ALPHA, generator=seeded(0))
    classifier.vote_counts(x, 10_000, ALPHA, generator=seeded(1))
    return seen


@pytest.mark.parametrize("left", [0.5, 0.52, 0.55, 0.9])
def test_checkpoints_and_alpha_shares_do_not_depend_on_the_data(monkeypatch, left):
    """Whatever the image, bounds are taken only at the checkpoints planned from the settings,
    each with its planned share (maximum-radius mode; radii: test_smoothing_radius_tests)."""
    classifier = SequentialSmoothedClassifier(LeftHeavy(), 2, "wasserstein", 0.1)
    planned = {*zip(SCHEDULE.stops, SCHEDULE.alphas, strict=True)}
    selection = Schedule.split(DEFAULT_CHECKPOINTS, 1_000, ALPHA)
    planned |= {(None, share) for share in (*SCHEDULE.alphas, *selection.alphas)}
    assert certify_recording(monkeypatch, classifier, two_pixels(left)) <= planned


def test_an_unanimous_image_is_certified_from_a_few_hundred_samples():
    fixed = SmoothedClassifier(LeftHeavy(), 2, "wasserstein", 0.1)
    staged = SequentialSmoothedClassifier(LeftHeavy(), 2, "wasserstein", 0.1, radii=(0.05,))
    x = two_pixels(0.99)  # the flow noise rarely moves that much mass: about 1 vote in 2,000 is 0
    cert, reference = staged.certify(x, generator=seeded(0)), fixed.certify(x, generator=seeded(0))
    assert cert.prediction == reference.prediction == 1
    # 30 unanimous votes select class 1, 30 fresh ones certify 0.05 (0.8808 ** 30 < 0.025).
    assert cert.radius == 0.05 and cert.samples == 30 + 30
    assert reference.samples == 11_000 and cert.radius < reference.radius


def test_a_coin_flip_abstains_early():
    staged = SequentialSmoothedClassifier(LeftHeavy(), 2, "wasserstein", 0.1, radii=(0.01,))
    cert = staged.certify(two_pixels(0.5), generator=seeded(0))
    assert cert.prediction == ABSTAIN and cert.radius == 0.0 and cert.samples <= 1_000 + 300


def test_maximum_radius_mode_runs_an_unanimous_image_to_the_last_checkpoint():
    staged = SequentialSmoothedClassifier(always_one, 2, "wasserstein", 0.1)
    cert = staged.certify(two_pixels(0.6), n=5_000, generator=seeded(0))
    # All hits: the upper bound stays 1, so the radius interval never closes before n.
    assert cert.samples == 30 + 5_000
    share = Schedule.split(DEFAULT_CHECKPOINTS, 5_000, ALPHA).alphas[-1]
    assert cert.p_lower == pytest.approx(clopper_pearson_lower(5_000, 5_000, share))


def test_radius_tolerance_stops_a_noisy_image_early():
    # p = P(flow noise < 0.05) = 1 - exp(-0.05 sqrt 2 / 0.1) / 2, about 0.75
    loose = SequentialSmoothedClassifier(LeftHeavy(), 2, "wasserstein", 0.1, radius_tol=0.05)
    tight = SequentialSmoothedClassifier(LeftHeavy(), 2, "wasserstein", 0.1, radius_tol=1e-4)
    x = two_pixels(0.55)
    assert (
        loose.certify(x, generator=seeded(0)).samples
        < tight.certify(x, generator=seeded(0)).samples
    )


def test_the_staged_vote_stops_at_the_first_significant_checkpoint():
    staged = SequentialSmoothedClassifier(always_one, 2, "laplace", 0.1)
    voted, counts = staged.vote_counts(two_pixels(0.6), 10_000, ALPHA, generator=seeded(0))
    assert voted == 1 and counts.tolist() == [0, 30]
    coin = SequentialSmoothedClassifier(LeftHeavy(), 2, "laplace", 0.1)
    voted, counts = coin.vote_counts(two_pixels(0.5), 2_000, ALPHA, generator=seeded(0))
    assert voted == ABSTAIN and int(counts.sum()) == 2_000


def test_same_generator_same_certificate():
    staged = SequentialSmoothedClassifier(LeftHeavy(), 2, "wasserstein", 0.1, radii=(0.02,))
    x = two_pixels(0.6)
    assert staged.certify(x, generator=seeded(4)) == staged.certify(x, generator=seeded(4))
    assert "checkpoints=[30, 100, 300" in repr(staged)


def test_certify_refuses_bad_counts_as_the_fixed_certifier_does():
    staged = SequentialSmoothedClassifier(LeftHeavy(), 2, "wasserstein", 0.1)
    with pytest.raises(ConfigError, match="n0"):
        staged.certify(torch.ones(1, 1, 2), n0=2_000, n=1_000)
