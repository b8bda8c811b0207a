"""Certified radii of equations 20 and 21 of Levine & Feizi (2020), against hand-computed values."""

from __future__ import annotations

import math

import pytest

from wsattack.errors import ConfigError
from wsattack.smoothing import build_noise, laplace_radius, wasserstein_radius


def test_wasserstein_radius_hand_values() -> None:
    # p = 0.9: ln(0.9 / 0.1) = ln 9 = 2.1972245773; sigma / 4 = 0.0025 for sigma = 0.01.
    assert wasserstein_radius(0.9, 0.01) == pytest.approx(0.0025 * 2.1972245773, rel=1e-9)
    # p = e / (1 + e) has log-odds exactly 1, so the radius is sigma / 4.
    assert wasserstein_radius(math.e / (1 + math.e), 0.2) == pytest.approx(0.05, rel=1e-12)


def test_laplace_radius_hand_values() -> None:
    # sigma / (4 sqrt 2) = 0.01 / 5.6568542495 = 0.001767766953 for sigma = 0.01.
    assert laplace_radius(0.9, 0.01) == pytest.approx(0.001767766953 * 2.1972245773, rel=1e-9)
    # Equation 21 is equation 20 divided by sqrt(2) at equal sigma.
    assert laplace_radius(0.8, 0.05) * math.sqrt(2) == pytest.approx(wasserstein_radius(0.8, 0.05))


def test_wasserstein_radius_reproduces_paper_median_order_of_magnitude() -> None:
    # n = 10,000 unanimous votes at alpha = 0.05 bound p below by 0.05 ** (1 / 10,000); the paper's
    # Table 1 medians for sigma = 0.01 (0.0132) must lie below this largest certifiable radius.
    largest = wasserstein_radius(0.05 ** (1 / 10_000), 0.01)
    assert largest == pytest.approx(0.0025 * math.log((0.05**1e-4) / (1 - 0.05**1e-4)), rel=1e-12)
    assert 0.0132 < largest < 0.021


def test_boundary_probabilities() -> None:
    assert wasserstein_radius(0.5, 0.1) == 0.0
    assert laplace_radius(1.0, 0.1) == math.inf


@pytest.mark.parametrize("p", [0.49, 1.01, -0.2, math.nan])
def test_probability_outside_half_to_one_is_rejected(p: float) -> None:
    with pytest.raises(ConfigError, match="probability bound"):
        wasserstein_radius(p, 0.1)


@pytest.mark.parametrize(
    ("name", "radius"), [("wasserstein", wasserstein_radius), ("laplace", laplace_radius)]
)
def test_each_noise_model_knows_its_radius(name: str, radius) -> None:
    assert build_noise(name, 0.02).radius(0.97) == radius(0.97, 0.02)
