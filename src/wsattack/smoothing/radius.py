"""Certified radii of the smoothed classifiers, in the paper's threat model.

The threat model is the 1-Wasserstein distance with the Euclidean (L2) ground metric between
mass-normalized images (each image divided by its total mass, so it is a probability
distribution over pixels); the radius is written rho_2 as in Levine & Feizi (2020).

Both radii come from the Laplace-mechanism certificate of Lecuyer et al. (2019), the L1
certificate the paper uses. Laplace noise of scale b = sigma / sqrt(2) (standard deviation
sigma) on a vector z gives, for any shift delta,

    f_bar(z + delta) >= exp(-||delta||_1 / b) f_bar(z)   for every class score.

If the top class has probability p and the runner-up at most 1 - p, the top class still wins
after a shift of L1 size r as long as exp(-r/b) p >= exp(r/b) (1 - p), i.e. for

    r <= (b / 2) ln(p / (1 - p)) = sigma / (2 sqrt 2) ln(p / (1 - p))        (paper, eq. 18).

Wasserstein smoothing (eq. 20). The noise lives on the flow domain, and by Lemma 1 the
L1-ground-metric Wasserstein distance equals the smallest L1 norm of a flow plan between the
two images, so the L1 certificate on the flows is a W1(L1) radius rho = sigma/(2 sqrt 2) ln(...).
On a grid the L2 ground cost is at least 1/sqrt(2) of the L1 cost, so W1(L2) >= W1(L1)/sqrt(2)
(eq. 19), and a W1(L2) ball of radius rho/sqrt(2) lies inside the certified W1(L1) ball:

    rho_2 = rho / sqrt(2) = (sigma / 4) ln(p / (1 - p)).

Laplace smoothing (eq. 21). The noise lives on the pixels, so the L1 certificate is a pixel L1
radius r = sigma/(2 sqrt 2) ln(...). Moving mass w between distinct pixels costs at least w
(their L2 distance is >= 1) and changes the L1 norm by at most 2w, so W1(L2) <= rho_2 implies
||x - x'||_1 <= 2 rho_2 (Corollary 1); the certified radius is half the L1 radius:

    rho_2 = r / 2 = (sigma / (4 sqrt 2)) ln(p / (1 - p)).
"""

from __future__ import annotations

import math

from wsattack.errors import ConfigError


def log_odds(p: float) -> float:
    """ln(p / (1 - p)) for a top-class probability bound p in [0.5, 1]; +inf at p = 1."""
    if not 0.5 <= p <= 1.0:
        raise ConfigError(f"a certified radius needs a probability bound in [0.5, 1], got {p}")
    if p == 1.0:
        return math.inf
    return math.log(p / (1.0 - p))


def wasserstein_radius(p: float, sigma: float) -> float:
    """W1 (L2 ground metric) radius of Wasserstein smoothing: (sigma / 4) ln(p / (1 - p))."""
    return sigma / 4.0 * log_odds(p)


def laplace_radius(p: float, sigma: float) -> float:
    """W1 (L2 ground metric) radius of pixel Laplace smoothing: sigma/(4 sqrt 2) ln(p/(1-p))."""
    return sigma / (4.0 * math.sqrt(2.0)) * log_odds(p)
