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

from wsattack.ot.plans import column_sums, identity_plan, plan_cost
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
    k = int(round(plan.shape[2] ** 0.5))
    centre = plan.shape[2] // 2
    x = x.to(plan.dtype)
    plan = _exact_rows(plan, x, centre)
    if capacity is not None:
        ceiling = torch.maximum(capacity.to(plan.dtype).expand_as(x), x)
        # The rounds move mass between sources with mass only: they work on those rows.
        rows = PlanRows(x, k)
        top = ceiling.reshape(-1)
        P = _send_back_excess(rows.gather(plan), rows, top, round_off)
        plan = rows.scatter(_close_overfull_columns(P, rows, top, round_off))
        plan = _mix_below_ceiling(plan, x, ceiling, k, round_off)
    return _mix_within_budget(plan, x, eps.to(plan.dtype), cost, k)


def _exact_rows(plan, x, centre):
    """Scale every row to sum to x; a row with no mass in the plan keeps x in place."""
    rows = plan.sum(dim=2)
    scale = torch.where(rows > 0, x / rows.clamp_min(torch.finfo(plan.dtype).tiny), 0.0)
    plan = plan * scale.unsqueeze(2)
    plan[:, :, centre] += torch.where(rows > 0, 0.0, x)
    return plan


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


def _mix_below_ceiling(plan, x, ceiling, k, round_off):
    """Last resort, should the closing rounds run out: mix with the identity plan just enough that
    no column exceeds its ceiling (x is below it, so the mixture is)."""
    cols = column_sums(plan)
    over = cols > ceiling * (1 + round_off)
    if not over.any():
        return plan
    room = torch.where(over, (ceiling - x) / (cols - x).clamp_min(1e-300), 1.0)
    t = room.flatten(1).amin(dim=1).clamp(0, 1).view(-1, 1, 1, 1, 1)
    return t * plan + (1 - t) * identity_plan(x, k)


def _mix_within_budget(plan, x, eps, cost, k):
    """Mix with the identity plan (cost 0) so that the cost is at most eps."""
    total = plan_cost(plan, cost)
    t = torch.clamp(eps / total.clamp_min(torch.finfo(plan.dtype).tiny), max=1.0)
    t = t.view(-1, 1, 1, 1, 1)
    return t * plan + (1 - t) * identity_plan(x, k)
