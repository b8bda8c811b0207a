"""Rounding an approximate local plan to an exactly feasible one.

Iterative solvers (Sinkhorn, Dykstra, dual ascent) stop with plans whose constraints hold only
approximately. An adversarial example must lie in the ball exactly, so every plan an attack
uses goes through `make_feasible`, which returns a plan with

- rows exactly x (every pixel sends exactly its mass),
- column sums at most the capacity (no pixel above the ceiling; skipped without capacity),
- cost at most eps,

by three moves that only ever lower the cost: rows are rescaled, mass over capacity is sent back
to where it came from, and finally the plan is mixed with the identity plan. The repaired plan
is as close to the input as these moves allow; it is not a projection.
"""

from __future__ import annotations

import torch

from wsattack.ot.rows import PlanRows

# Rounds of "send the excess back"; each removes all current excess, and the mass it returns to
# sources at their own ceiling shrinks geometrically (about x0.6 a round on MNIST).
_CAPACITY_ROUNDS = 60
# Default excess, as a fraction of the ceiling, left as round-off for the caller to clip.
ROUND_OFF = 1e-9


def make_feasible(
    plan: torch.Tensor,
    x: torch.Tensor,
    eps: torch.Tensor,
    cost: torch.Tensor,
    capacity: torch.Tensor | None = None,
    round_off: float = ROUND_OFF,
) -> torch.Tensor:
    """A feasible plan near `plan`: rows x, columns <= capacity, cost <= eps (module doc).

    plan: (B, C, K, H, W), non-negative, zero on offsets that leave the image. x: (B, C, H, W),
    non-negative. eps: (B,) in the units of plan_cost (total cost, not per unit mass).
    capacity: None or a tensor broadcastable to x (the pixel ceiling); pixels of x above it are
    allowed to keep their own mass. round_off: columns may exceed the ceiling by this fraction
    of it (for the caller to clip); chasing smaller excess costs rounds, and what the rounds
    leave is closed off entirely. Computes in the dtype of `plan`.
    """
    x = x.to(plan.dtype)
    # Pixels without mass send nothing: only the rows of those with mass are worked on.
    rows = PlanRows(x, int(round(plan.shape[2] ** 0.5)))
    ceiling = None if capacity is None else torch.maximum(capacity.to(x).expand_as(x), x)
    return rows.scatter(feasible_rows(rows.gather(plan), rows, x, eps, cost, ceiling, round_off))


def feasible_rows(
    P: torch.Tensor,
    rows: PlanRows,
    x: torch.Tensor,
    eps: torch.Tensor,
    cost: torch.Tensor,
    ceiling: torch.Tensor | None = None,
    round_off: float = ROUND_OFF,
) -> torch.Tensor:
    """`make_feasible` on the rows P (R, K) of the layout `rows` of x (`PlanRows`), for solvers
    that hold their plan that way; returns the feasible rows. ceiling: None, or the (B, C, H, W)
    ceiling max(capacity, x). Computes in the dtype of P."""
    centre = rows.K // 2
    a = x.reshape(-1)[rows.idx].to(P.dtype)
    P = _exact_rows(P, a, centre)
    if ceiling is not None:
        top = ceiling.to(P.dtype).reshape(-1)
        P = _send_back_excess(P, rows, top, round_off)
        P = _close_overfull_columns(P, rows, top, round_off)
        P = _mix_below_ceiling(P, rows, a, x.reshape(-1).to(P.dtype), top, round_off)
    return _mix_within_budget(P, rows, a, eps.to(P.dtype), cost)


def _exact_rows(P, a, centre):
    """Scale every row to sum to its mass a; a row with no mass in the plan keeps a in place."""
    total = P.sum(dim=1)
    scale = torch.where(total > 0, a / total.clamp_min(torch.finfo(P.dtype).tiny), 0.0)
    P = P * scale.unsqueeze(1)
    P[:, centre] += torch.where(total > 0, 0.0, a)
    return P


def _send_back_excess(P, rows, top, round_off):
    """Move mass above a pixel's ceiling back to its sources, proportionally to what they sent.

    The mass a pixel j keeps from itself is at most x_j <= ceiling_j, so the mass it receives
    from others always covers its excess: the fraction taken back is at most 1.
    """

    def fraction(cols, kept):
        excess = (cols - top).clamp_min(0)
        incoming = (cols - kept).clamp_min(torch.finfo(cols.dtype).tiny)
        return (excess / incoming).clamp(max=1.0), excess > round_off * top

    return _return_inflows(P, rows, fraction)


def _close_overfull_columns(P, rows, top, round_off):
    """What the rounds leave over (proportional returns can cycle): send ALL mass others put on
    a still over-full pixel back to its sources. Such a pixel then holds at most its own mass
    x_j <= ceiling_j for good (no move ever adds to it again), so this ends within a few rounds
    and loses only the flows into those few pixels."""

    def fraction(cols, kept):
        over = cols > top * (1 + round_off)
        return over.to(cols.dtype), over

    return _return_inflows(P, rows, fraction)


def _return_inflows(P, rows, fraction):
    """Rounds of: (f, over) = fraction(column sums, mass each pixel keeps from itself) per
    pixel; every pixel j gives back the share f_j of the mass others sent it, to the centres of
    its sources. Only the rows of the examples with a pixel still `over` are computed on (they
    converge at different rates); mass never leaves its example, so their columns are whole."""
    centre = rows.K // 2
    live = torch.arange(len(P), device=P.device)
    sub, dest = P, rows.dest
    for _ in range(_CAPACITY_ROUNDS):
        cols = rows.columns(sub, dest)[:-1]
        kept = torch.zeros_like(cols).index_put_((rows.idx[live],), sub[:, centre])
        share, over = fraction(cols, kept)
        over = over.view(rows.shape[0], -1).any(dim=1)[rows.ex[live]]
        if not over.any():
            break
        live, sub, dest = live[over], sub[over], dest[over]
        back = sub * torch.take(torch.cat([share, share.new_zeros(1)]), dest)
        back[:, centre] = 0
        sub = sub - back
        sub[:, centre] += back.sum(dim=1)
        P[live] = sub
    return P


def _mix_below_ceiling(P, rows, a, x, top, round_off):
    """Last resort, should the closing rounds run out: mix with the identity plan just enough that
    no column exceeds its ceiling (x is below it, so the mixture is)."""
    cols = rows.columns(P)[:-1]
    over = cols > top * (1 + round_off)
    if not over.any():
        return P
    room = torch.where(over, (top - x) / (cols - x).clamp_min(1e-300), 1.0)
    t = room.view(rows.shape[0], -1).amin(dim=1).clamp(0, 1)
    return _toward_identity(P, a, t[rows.ex])


def _mix_within_budget(P, rows, a, eps, cost):
    """Mix with the identity plan (cost 0) so that the cost is at most eps."""
    total = rows.per_example(P @ cost.to(P).reshape(-1))
    t = torch.clamp(eps / total.clamp_min(torch.finfo(P.dtype).tiny), max=1.0)
    return _toward_identity(P, a, t[rows.ex])


def _toward_identity(P, a, t):
    """t P + (1 - t) identity, per row (the identity row keeps its mass a on the centre)."""
    out = P * t.unsqueeze(1)
    out[:, P.shape[1] // 2] += (1 - t) * a
    return out
