"""Log of the Wright omega function, the stable form of the Lambert W step (eq. 10).

Eq. 10 needs W(lam * s * exp(lam * w)), i.e. W(exp(t)) with t = log(lam) + log(s) + lam * w. For
lam up to 1e5, exp(t) overflows any float, so we never form it: W(exp(t)) is the Wright omega
function omega(t), the solution y of y + log(y) = t. We solve for u = log(omega(t)), the root of
u + exp(u) = t, because the beta update needs exactly log(omega): with it, beta and the column
mass come out without the cancellation of `lam * w - omega(t)` (see `projection.py`).
"""

from __future__ import annotations

import torch

# Halley steps after the asymptotic initial guess; 3 reach float64 round-off on the whole line
# (checked against scipy.special.wrightomega in tests/test_ot_omega.py).
_HALLEY_STEPS = 3
_LOG_OMEGA_0 = -0.5671432904097838  # log(W(1)) = -W(1)
_SLOPE_0 = 0.6381037003973634  # d log(omega)/dt at 0 = 1 / (1 + W(1))


def _initial_guess(t: torch.Tensor) -> torch.Tensor:
    """Asymptotic log(omega(t)): exp(t) - exp(2t) below, t - log t + log(t)/t above."""
    small = t - torch.exp(torch.clamp(t, max=0.0))
    big_t = torch.clamp(t, min=1.0)
    log_big = torch.log(big_t)
    big = torch.log(big_t - log_big + log_big / big_t)
    # Between the asymptotes, the tangent of log(omega) at t = 0 (omega(0) = W(1)) is well
    # inside Halley's basin of attraction.
    mid = _LOG_OMEGA_0 + _SLOPE_0 * t
    return torch.where(t < -2.0, small, torch.where(t > 2.0, big, mid))


def log_wright_omega(t: torch.Tensor) -> torch.Tensor:
    """u = log(omega(t)) = log(W(exp(t))), elementwise; t = -inf gives -inf, never NaN.

    Solves u + exp(u) = t by Halley's method. exp(u) = omega(t) <= max(t, 1), so nothing
    overflows for any finite t.
    """
    finite = torch.isfinite(t)
    # Past finfo.max / 8 the answer is t - log t to working precision anyway; the clamp keeps
    # 2 * f' finite.
    ts = torch.where(finite, t, torch.zeros_like(t)).clamp(max=torch.finfo(t.dtype).max / 8)
    u = _initial_guess(ts)
    for _ in range(_HALLEY_STEPS):
        e = torch.exp(u)
        f = u + e - ts
        d1 = 1.0 + e
        # Halley's step divided through by f' so that nothing squares a number near t.
        u = u - 2.0 * f / (2.0 * d1 - f * e / d1)
    return torch.where(finite, u, t)
