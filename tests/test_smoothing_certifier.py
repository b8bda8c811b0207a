"""SmoothedClassifier on a toy base classifier whose smoothed probabilities are known exactly.

The toy image is one row of two pixels (C=1, H=1, W=2). Wasserstein noise then has a single
horizontal flow h ~ Laplace(std sigma) in mass-normalized units, which moves the left pixel's
mass fraction q to q - h. The toy classifier says 1 when the left pixel holds more mass than
the right one, so P(class 1) = P(h < q - 1/2), a Laplace CDF.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

from wsattack.errors import ConfigError
from wsattack.smoothing import ABSTAIN, SmoothedClassifier, laplace_radius, wasserstein_radius
from wsattack.smoothing.certifier import vote
from wsattack.smoothing.statistics import clopper_pearson_lower, vote_is_significant

SIGMA = 0.1


class LeftHeavy:
    """Scores (B, num_classes): class 1 iff the left half holds more mass than the right half.
    Records the batch sizes it saw and whether inference mode was on."""

    def __init__(self, num_classes: int = 2) -> None:
        self.num_classes = num_classes
        self.batch_sizes: list[int] = []
        self.inference_mode: list[bool] = []

    def __call__(self, batch: Tensor) -> Tensor:
        self.batch_sizes.append(batch.shape[0])
        self.inference_mode.append(torch.is_inference_mode_enabled())
        half = batch.shape[-1] // 2
        margin = batch[..., :half].sum(dim=(1, 2, 3)) - batch[..., half:].sum(dim=(1, 2, 3))
        scores = torch.full((batch.shape[0], self.num_classes), -1e9, dtype=batch.dtype)
        scores[:, 0], scores[:, 1] = -margin, margin
        return scores


def two_pixels(left_fraction: float, mass: float = 1.0) -> Tensor:
    return torch.tensor([[[left_fraction * mass, (1 - left_fraction) * mass]]], dtype=torch.float64)


def laplace_cdf(t: float, sigma: float) -> float:
    b = sigma / math.sqrt(2)
    return 0.5 * math.exp(t / b) if t < 0 else 1 - 0.5 * math.exp(-t / b)


def smoothed(noise: str = "wasserstein", num_classes: int = 2) -> SmoothedClassifier:
    return SmoothedClassifier(LeftHeavy(num_classes), num_classes, noise, SIGMA)


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# Left fraction at which P(class 1) = 0.9: 0.5 exp(-d / b) = 0.1, d = b ln 5.
Q_90 = 0.5 + SIGMA / math.sqrt(2) * math.log(5)


def test_toy_probability_is_the_laplace_cdf() -> None:
    x = two_pixels(Q_90, mass=1.3)
    counts = smoothed().class_counts(x, 20_000, 4_096, seeded(0))
    assert laplace_cdf(Q_90 - 0.5, SIGMA) == pytest.approx(0.9)
    assert float(counts[1]) / 20_000 == pytest.approx(0.9, abs=4 * math.sqrt(0.09 / 20_000))


def test_certify_matches_scipy_on_the_same_samples() -> None:
    x, model = two_pixels(Q_90), smoothed()
    cert = model.certify(x, n0=100, n=10_000, alpha=0.05, batch_size=1_000, generator=seeded(1))
    replay = seeded(1)
    guess = int(model.class_counts(x, 100, 1_000, replay).argmax())
    hits = int(model.class_counts(x, 10_000, 1_000, replay)[guess])
    expected = clopper_pearson_lower(hits, 10_000, 0.05)
    assert (cert.prediction, cert.p_lower) == (1, expected)
    assert cert.radius == wasserstein_radius(expected, SIGMA)
    # The bound holds and is tight at n = 10,000.
    assert 0.9 - 0.015 < cert.p_lower < 0.9


def test_predict_matches_scipy_on_the_same_samples() -> None:
    x, model = two_pixels(0.55), smoothed()
    prediction = model.predict(x, n=300, alpha=0.05, batch_size=128, generator=seeded(2))
    counts = model.class_counts(x, 300, 128, seeded(2))
    significant = vote_is_significant(int(counts[1]), int(counts[0]), 0.05)
    assert prediction == (1 if significant else ABSTAIN)


def test_far_from_the_boundary_the_vote_is_unanimous() -> None:
    for noise, radius in (("wasserstein", wasserstein_radius), ("laplace", laplace_radius)):
        model = smoothed(noise, num_classes=3)
        assert model.predict(two_pixels(0.2), n=1_000, generator=seeded(3)) == 0
        cert = model.certify(two_pixels(0.95), n0=100, n=1_000, alpha=0.01, generator=seeded(3))
        assert cert.prediction == 1
        assert cert.p_lower == pytest.approx(0.01 ** (1 / 1_000))
        assert cert.radius == pytest.approx(radius(0.01 ** (1 / 1_000), SIGMA))


def test_on_the_decision_boundary_both_abstain() -> None:
    x, model = two_pixels(0.5), smoothed()
    abstained = [
        model.predict(x, n=1_000, alpha=0.05, generator=seeded(s)) == ABSTAIN for s in range(40)
    ]
    # A fair vote is significant in about alpha = 5% of runs.
    assert sum(abstained) >= 32
    cert = model.certify(x, n0=100, n=2_000, alpha=0.05, generator=seeded(4))
    assert (cert.prediction, cert.radius) == (ABSTAIN, 0.0)
    assert cert.p_lower < 0.5


def test_same_seed_same_result() -> None:
    x, model = two_pixels(0.52), smoothed()
    assert model.certify(x, 100, 1_000, generator=seeded(5)) == model.certify(
        x, 100, 1_000, generator=seeded(5)
    )
    first = model.class_counts(x, 1_000, 100, seeded(6))
    assert torch.equal(first, model.class_counts(x, 1_000, 100, seeded(6)))
    assert not torch.equal(first, model.class_counts(x, 1_000, 100, seeded(7)))


def test_samples_are_classified_in_batches_under_inference_mode() -> None:
    base = LeftHeavy()
    model = SmoothedClassifier(base, 2, "wasserstein", SIGMA)
    counts = model.class_counts(two_pixels(0.6), 1_050, batch_size=400, generator=seeded(8))
    assert counts.dtype == torch.long and int(counts.sum()) == 1_050
    assert base.batch_sizes == [400, 400, 250]
    assert all(base.inference_mode)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n0": 2_000, "n": 1_000}, "n0"),
        ({"n0": 0}, "n0"),
        ({"n": 0}, "n must"),
        ({"alpha": 0.0}, "alpha"),
        ({"alpha": 1.0}, "alpha"),
        ({"alpha": -0.1}, "alpha"),
        ({"alpha": math.nan}, "alpha"),
        ({"batch_size": 0}, "batch_size"),
        ({"n": 10.5}, "n must"),
    ],
)
def test_bad_certify_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        smoothed().certify(two_pixels(0.6), **kwargs)


@pytest.mark.parametrize("alpha", [0.0, 1.0, 2.0])
def test_bad_predict_alpha(alpha: float) -> None:
    with pytest.raises(ConfigError, match="alpha"):
        smoothed().predict(two_pixels(0.6), n=10, alpha=alpha)


def test_bad_constructor_arguments() -> None:
    with pytest.raises(ConfigError, match="unknown noise model 'gauss'"):
        SmoothedClassifier(LeftHeavy(), 2, "gauss", SIGMA)
    for sigma in (0.0, -1.0):
        with pytest.raises(ConfigError, match="sigma"):
            SmoothedClassifier(LeftHeavy(), 2, "wasserstein", sigma)
    with pytest.raises(ConfigError, match="num_classes"):
        SmoothedClassifier(LeftHeavy(), 1, "wasserstein", SIGMA)


def test_base_classifier_with_wrong_number_of_classes() -> None:
    model = SmoothedClassifier(LeftHeavy(num_classes=2), 10, "laplace", SIGMA)
    with pytest.raises(ConfigError, match="expected"):
        model.predict(two_pixels(0.6), n=10)


@pytest.mark.parametrize("counts", [[0, 60, 40], [70, 0, 30], [51, 49, 0], [5, 5, 0]])
def test_vote_rule_is_scipys_binomial_test(counts: list[int]) -> None:
    ranked = sorted(range(3), key=lambda c: -counts[c])
    significant = vote_is_significant(counts[ranked[0]], counts[ranked[1]], 0.05)
    assert vote(torch.tensor(counts), 0.05) == (ranked[0] if significant else ABSTAIN)
