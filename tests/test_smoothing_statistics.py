"""The Clopper-Pearson bound and the vote test, against scipy called directly."""

from __future__ import annotations

import pytest
from scipy.stats import binomtest

from wsattack.smoothing.statistics import clopper_pearson_lower, vote_is_significant


@pytest.mark.parametrize(
    ("successes", "trials", "alpha"),
    [
        (9_990, 10_000, 0.05),
        (10_000, 10_000, 0.05),
        (5_200, 10_000, 0.05),
        (700, 1_000, 0.001),
        (1, 3, 0.2),
    ],
)
def test_lower_bound_is_one_sided_clopper_pearson(
    successes: int, trials: int, alpha: float
) -> None:
    # The one-sided bound at level 1 - alpha is the low end of the two-sided 1 - 2 alpha interval.
    two_sided = binomtest(successes, trials).proportion_ci(
        confidence_level=1 - 2 * alpha, method="exact"
    )
    assert clopper_pearson_lower(successes, trials, alpha) == pytest.approx(
        two_sided.low, rel=1e-10
    )


def test_lower_bound_edge_cases() -> None:
    assert clopper_pearson_lower(0, 100, 0.05) == 0.0
    # All successes: the bound solves p^n = alpha.
    assert clopper_pearson_lower(10_000, 10_000, 0.05) == pytest.approx(
        0.05 ** (1 / 10_000), rel=1e-12
    )


@pytest.mark.parametrize(
    ("top", "runner_up"), [(60, 40), (58, 42), (5_100, 4_900), (5_000, 5_000), (3, 0), (5, 0)]
)
@pytest.mark.parametrize("alpha", [0.05, 0.001])
def test_vote_test_is_scipys_two_sided_binomial_test(
    top: int, runner_up: int, alpha: float
) -> None:
    expected = binomtest(top, top + runner_up, p=0.5, alternative="two-sided").pvalue <= alpha
    assert vote_is_significant(top, runner_up, alpha) is expected


def test_vote_test_examples() -> None:
    assert vote_is_significant(9_000, 1_000, 0.05)
    assert not vote_is_significant(5_010, 4_990, 0.05)
