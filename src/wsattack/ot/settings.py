"""The settings of the local Wasserstein threat model, with their defaults stated once.

Every consumer (the ball and its projection, the Wasserstein ascent step, the training
adversary, the training-time robustness probe, the OT kernels' own defaults) takes its
settings from `WassersteinSettings`, so a default changed here changes everywhere.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from wsattack.errors import ConfigError
from wsattack.ot.inputs import check_solver_args


@dataclass(frozen=True)
class WassersteinSettings:
    """The local Wasserstein ball: its cost, its projection solver and its pixel ceiling.

    The defaults are the paper's text: the Euclidean cost (p=1) of Wong, Schmidt & Kolter
    (2019, section 4.3), also used by Wu, Wang & Yu (2020), Hu et al. (2020) and Levine &
    Feizi (2020); the authors' released code uses the squared Euclidean cost (p=2), which the
    `wong2019_*_code` presets select.

    Parameters
    ----------
    kernel_size : int
        Odd k: mass moves at most k // 2 pixels along each axis (k x k local plans).
    p : float
        Cost exponent: moving unit mass a distance d costs d**p.
    metric : {"euclidean", "l1"}
        The distance d between two pixels.
    lam : float
        Entropy weight of projected Sinkhorn (larger: closer to the exact projection).
    sinkhorn_iters : int
        Most projected-Sinkhorn iterations per projection.
    tol : float
        Stopping tolerance of projected Sinkhorn (dual change and marginal error).
    capacity : bool
        Hu et al. (2020)'s capacity constraint: no pixel above 1, so that adversarial images
        stay in [0, 1] with their mass and need no clamping.

    References
    ----------
    .. [1] E. Wong, F. R. Schmidt and J. Z. Kolter, "Wasserstein Adversarial Examples via
       Projected Sinkhorn Iterations", ICML 2019.
    .. [2] K. Wu, A. H. Wang and Y. Yu, "Stronger and Faster Wasserstein Adversarial Attacks",
       ICML 2020.
    .. [3] J. E. Hu, A. Swaminathan, H. Salman and G. Yang, "Improved Image Wasserstein Attacks
       and Defenses", ICLR 2020 Workshop on Trustworthy ML.
    .. [4] A. Levine and S. Feizi, "Wasserstein Smoothing: Certified Robustness against
       Wasserstein Adversarial Attacks", AISTATS 2020.

    Examples
    --------
    >>> WassersteinSettings()
    WassersteinSettings(kernel_size=5, p=1, metric='euclidean', lam=1000.0, sinkhorn_iters=50, tol=0.0001, capacity=False)
    >>> WassersteinSettings.of(p=2, kernel_size=7).p
    2
    >>> WassersteinSettings.of(gamma=1)
    Traceback (most recent call last):
    ...
    wsattack.errors.ConfigError: unknown Wasserstein setting 'gamma'; choose from: kernel_size, p, metric, lam, sinkhorn_iters, tol, capacity
    """  # noqa: E501  (doctest output lines cannot be wrapped)

    kernel_size: int = 5
    p: float = 1
    metric: str = "euclidean"
    lam: float = 1000.0
    sinkhorn_iters: int = 50
    tol: float = 1e-4
    capacity: bool = False

    def __post_init__(self):
        # The solver's own checks, at once rather than at the first projection (the cost's
        # settings are checked by `wasserstein_cost` when a ball builds its cost).
        check_solver_args(self.lam, self.sinkhorn_iters, self.tol, self.tol)

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def of(cls, base: WassersteinSettings | None = None, **changes) -> WassersteinSettings:
        """`base` (the defaults if None) with `changes`; an unknown name is a ConfigError."""
        unknown = [name for name in changes if name not in cls.names()]
        if unknown:
            raise ConfigError(
                f"unknown Wasserstein setting {unknown[0]!r}; choose from: {', '.join(cls.names())}"
            )
        return replace(base or DEFAULTS, **changes)

    def as_dict(self) -> dict:
        return asdict(self)


DEFAULTS = WassersteinSettings()
