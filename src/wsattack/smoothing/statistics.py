"""The statistical tests of Cohen et al. (2019), delegated to scipy."""

from __future__ import annotations

from scipy.stats import beta, binomtest


def clopper_pearson_lower(successes: int, trials: int, alpha: float) -> float:
    """One-sided (1 - alpha) Clopper-Pearson lower bound on a binomial proportion.

    It is the lower end of the two-sided exact interval at level 1 - 2 alpha, i.e. the alpha
    quantile of Beta(k, n - k + 1); 0 when there are no successes.
    """
    if successes == 0:
        return 0.0
    return float(beta.ppf(alpha, successes, trials - successes + 1))


def clopper_pearson_upper(successes: int, trials: int, alpha: float) -> float:
    """One-sided (1 - alpha) Clopper-Pearson upper bound on a binomial proportion: the
    1 - alpha quantile of Beta(k + 1, n - k); 1 when every trial succeeded."""
    if successes == trials:
        return 1.0
    return float(beta.ppf(1.0 - alpha, successes + 1, trials - successes))


def vote_is_significant(top: int, runner_up: int, alpha: float) -> bool:
    """Whether the top count beats the runner-up: two-sided binomial test of top out of
    top + runner_up against p = 1/2 has p-value <= alpha (Cohen et al.'s PREDICT)."""
    return binomtest(top, top + runner_up, p=0.5).pvalue <= alpha
