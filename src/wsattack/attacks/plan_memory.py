"""The transport plans behind the images a radius search passes between attempts.

The search (`RadiusSearch`) hands each attempt a starting image: the last failed iterate when
it grows the radius, or the point found at a larger radius pulled toward the clean image,
x + t (z - x), when it bisects downward. An image does not determine its plan, but the plan P
that made z does: (1 - t) identity + t P makes x + t (z - x), with cost t cost(P) and columns
(1 - t) x + t z. PGD over plans starts there instead of from the identity plan, and keeps what
it found. When the search measured z's exact distance below cost(P), that mixture can cost more
than the attempt's radius although its image is within it: the first projection brings it back.
"""

from __future__ import annotations

import torch

from wsattack.ot.plans import column_sums, identity_plan

# How far (relative to the start's distance from x) a start may lie from the segment between x
# and a remembered image and still be taken as a point of it: round-off only.
ON_SEGMENT = 1e-4


class PlanMemory:
    """Per example of one attack call: the plan of the last success and of the last failure,
    each with the capacity prices its projection ended with (a warm start for the next)."""

    def __init__(self, x: torch.Tensor, kernel_size: int):
        identity = identity_plan(x, kernel_size)
        prices = torch.zeros_like(x, dtype=torch.float64)
        self.kernel_size = kernel_size
        self.found, self.failed = identity.clone(), identity
        self.found_prices, self.failed_prices = prices.clone(), prices

    def start(self, rows: torch.Tensor, x: torch.Tensor, start: torch.Tensor):
        """(plan, prices) to start the rows' attempt from: a mixture of the identity and a
        remembered plan whose image lies on the segment from x through `start`, with that plan's
        prices; else the identity plan and zero prices."""
        identity = identity_plan(x, self.kernel_size)
        plan = identity.clone()
        prices = torch.zeros_like(x, dtype=torch.float64)
        d = (start - x).flatten(1).to(plan.dtype)
        kept = ((self.failed, self.failed_prices), (self.found, self.found_prices))
        for held, held_prices in kept:
            held = held[rows]
            e = (column_sums(held) - x.to(held.dtype)).flatten(1)
            length = (e * e).sum(1)
            t = ((d * e).sum(1) / length.clamp_min(1e-300)).clamp(0, 1)
            off = (d - t[:, None] * e).norm(dim=1)
            on = (length > 0) & (d.norm(dim=1) > 0) & (off <= ON_SEGMENT * d.norm(dim=1))
            t = t.view(-1, *[1] * (plan.dim() - 1))
            plan[on] = ((1 - t) * identity + t * held)[on]
            prices[on] = held_prices[rows][on]
        return plan, prices

    def keep(self, rows: torch.Tensor, success: torch.Tensor, plans, prices) -> None:
        """Remember the plans an attempt on `rows` ended with, and their prices: as successes
        where it succeeded, as failures elsewhere."""
        won, lost = rows[success], rows[~success]
        self.found[won] = plans[success].to(self.found.dtype)
        self.found_prices[won] = prices[success]
        self.failed[lost] = plans[~success].to(self.failed.dtype)
        self.failed_prices[lost] = prices[~success]
