"""Per-example minimal radius: bracket each example's smallest successful radius, then bisect.

An `attempt(rows, eps, start)` runs a fixed-radius attack on the examples `rows` (per-example
radii `eps`) from feasible starting images and returns an `Attempt`. The search first grows the
radius geometrically from `eps0` until each example is fooled (or `eps_max` fails), shrinks it
for examples fooled at once, and then bisects (geometrically) between the largest radius that
failed and the smallest that succeeded, until they are within `rtol` of each other.

An attack whose points lie deep inside the ball they were found in (Frank-Wolfe's convex
combinations, or a plan that moves mass back and forth) can give the search a `measure`: the
exact distance of each point found. The bracket's upper end is then that distance rather than
the radius the attempt ran at, so that eps_found is the smallest radius the point is known to
lie in, and bisection goes on below it. A point whose distance exceeds the radius it was found
at (beyond the verification's round-off) counts as a failure there, so a measured eps_found has
passed the exact check.

Every attempt after the first starts from the best point known: upward from the last iterate
(feasible at a smaller radius, so at the larger one), downward from the adversarial point at the
smallest successful radius hi, pulled toward the clean image by mid / hi. That mixture is the
image of the plan (1 - t) identity + t P, where P is a plan of cost at most hi that makes the
point (the attack's own, or the exact solver's optimal one when hi was measured), so its cost is
at most mid: it is feasible.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from wsattack.attacks.verify import within_radius
from wsattack.errors import ConfigError


@dataclass
class Attempt:
    """Outcome of a fixed-radius attack on some rows: success, the returned images (the
    adversarial point for a success, the last iterate otherwise), gradient steps spent, and the
    predictions on the returned images."""

    success: torch.Tensor
    adv: torch.Tensor
    iterations: torch.Tensor
    pred: torch.Tensor


@dataclass
class SearchResult:
    """eps_found (inf where never fooled, 0 where the clean image is), eps_failed (0 if none; at
    most eps_found: a failure above a measured eps_found is recorded at eps_found), adv (the
    point at eps_found, else the last iterate at eps_failed), iterations, adv_pred."""

    eps_found: torch.Tensor
    eps_failed: torch.Tensor
    adv: torch.Tensor
    iterations: torch.Tensor
    adv_pred: torch.Tensor


@dataclass(frozen=True)
class RadiusSearch:
    """eps0: first radius; factor: growth while bracketing; eps_max: the largest radius tried;
    rtol: relative precision of the bisection (hi <= lo (1 + rtol)); eps_min: below it an
    example fooled at every radius tried is not shrunk further."""

    eps0: float = 0.02
    factor: float = 2.0
    eps_max: float = 4.0
    rtol: float = 0.02
    eps_min: float = 1e-3

    def __post_init__(self):
        if not 0 < self.eps_min <= self.eps0 <= self.eps_max:
            raise ConfigError(
                f"need 0 < eps_min <= eps0 <= eps_max, got {self.eps_min}, {self.eps0}, "
                f"{self.eps_max}"
            )
        if not self.factor > 1 or not self.rtol > 0:
            raise ConfigError(f"need factor > 1 and rtol > 0, got {self.factor}, {self.rtol}")

    def run(
        self,
        attempt: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], Attempt],
        x: torch.Tensor,
        fooled: torch.Tensor,
        pred: torch.Tensor,
        start: torch.Tensor | None = None,
        hi: torch.Tensor | None = None,
        measure: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    ) -> SearchResult:
        """Search every example not `fooled` already. `start`/`hi`: a known adversarial point
        and its radius per example (inf where none), e.g. from a weaker attack; the search then
        only looks below hi. `measure(rows, points)`: the exact distances of the points found
        for those rows (None: a point counts as found at the radius of its attempt)."""
        state = _State(x, fooled, pred, start, hi, measure=measure)
        self._bracket(attempt, state)
        self._bisect(attempt, state)
        return state.result()

    def refine(
        self,
        attempt: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], Attempt],
        x: torch.Tensor,
        lo: torch.Tensor,
        hi: torch.Tensor,
        adv: torch.Tensor,
        pred: torch.Tensor,
    ) -> SearchResult:
        """Bisect only, e.g. after a radius schedule: every example with a finite hi > 0 (its
        adversarial point `adv` at hi, prediction `pred`) down to rtol above lo (the largest
        radius it failed at, 0 if none). Other examples are returned as they are."""
        settled = ~torch.isfinite(hi) | (hi <= 0)
        state = _State(x, settled, pred, adv, hi, torch.where(settled, 0.0, lo))
        self._bisect(attempt, state)
        found = state.result()
        found.eps_found = torch.where(settled, hi.to(found.eps_found), found.eps_found)
        found.eps_failed = torch.where(settled, lo.to(found.eps_failed), found.eps_failed)
        return found

    def once(
        self,
        attempt: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], Attempt],
        x: torch.Tensor,
        fooled: torch.Tensor,
        pred: torch.Tensor,
        eps: torch.Tensor,
        measure: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    ) -> SearchResult:
        """No search: one attempt at the radii `eps` from x on every example not `fooled`, its
        points recorded as `run` records them (a measured point outside its radius is a
        failure)."""
        state = _State(x, fooled, pred, None, None, measure=measure)
        rows = (~fooled).nonzero().squeeze(1)
        if len(rows):
            state.record(rows, eps[rows], attempt(rows, eps[rows], x[rows]))
        return state.result()

    def _bracket(self, attempt, s: _State) -> None:
        eps = torch.full_like(s.lo, self.eps0)
        pending = ~s.fooled & torch.isinf(s.hi)
        while pending.any():
            rows = pending.nonzero().squeeze(1)
            s.record(rows, eps[rows], attempt(rows, eps[rows], s.last[rows]))
            eps = eps * self.factor
            pending = ~s.fooled & torch.isinf(s.hi) & (eps <= self.eps_max * (1 + 1e-9))

    def _bisect(self, attempt, s: _State) -> None:
        while True:
            open_low = (s.lo == 0) & (s.hi > self.eps_min)
            wide = (s.lo > 0) & (s.hi > s.lo * (1 + self.rtol))
            rows = (~s.fooled & torch.isfinite(s.hi) & (open_low | wide)).nonzero().squeeze(1)
            if len(rows) == 0:
                return
            lo, hi = s.lo[rows], s.hi[rows]
            mid = torch.where(lo > 0, torch.sqrt(lo * hi), hi / self.factor)
            x = s.x[rows]
            start = x + (mid / hi).view(-1, *[1] * (x.dim() - 1)).to(x.dtype) * (s.adv[rows] - x)
            s.record(rows, mid, attempt(rows, mid, start))


class _State:
    """Per example: the bracket [lo, hi], the point found at hi (and its prediction), and the
    last iterate of the latest failed attempt (the warm start upward)."""

    def __init__(self, x, fooled, pred, start, hi, lo=None, measure=None):
        n = len(x)
        self.measure = measure
        f64 = dict(dtype=torch.float64, device=x.device)
        self.x, self.fooled = x, fooled
        self.lo = torch.zeros(n, **f64) if lo is None else lo.to(**f64).clone()
        self.hi = torch.full((n,), float("inf"), **f64) if hi is None else hi.to(**f64).clone()
        self.adv = x.clone() if start is None else start.clone()
        self.pred = pred.clone()
        self.last, self.last_pred = x.clone(), pred.clone()
        self.iterations = torch.zeros(n, dtype=torch.long, device=x.device)

    def record(self, rows, eps, out: Attempt) -> None:
        self.iterations[rows] += out.iterations
        success, found_at = out.success, eps[out.success]
        if self.measure is not None and success.any():
            distance = self.measure(rows[success], out.adv[success]).to(found_at)
            # A point outside the ball it was found in (beyond round-off) is no success there:
            # the guard that lets callers trust a measured eps_found without solving again.
            inside = within_radius(distance.cpu(), found_at).to(success.device)
            success = success.clone()
            success[success.nonzero().squeeze(1)] = inside
            found_at = torch.minimum(eps[success], distance[inside])
        won, lost = rows[success], rows[~success]
        self.hi[won] = torch.minimum(self.hi[won], found_at)
        self.adv[won], self.pred[won] = out.adv[success], out.pred[success]
        self.lo[lost] = torch.maximum(self.lo[lost], eps[~success])
        # The last iterate is a warm start and a returned point: never one outside its ball.
        kept = ~(out.success | success)[~success]
        self.last[lost[kept]], self.last_pred[lost[kept]] = (
            out.adv[~success][kept],
            out.pred[~success][kept],
        )

    def result(self) -> SearchResult:
        found = torch.where(self.fooled, 0.0, self.hi)
        never = (~self.fooled & torch.isinf(self.hi)).view(-1, *[1] * (self.x.dim() - 1))
        adv = torch.where(never, self.last, self.adv)
        pred = torch.where(never.flatten(), self.last_pred, self.pred)
        return SearchResult(found, torch.minimum(self.lo, found), adv, self.iterations, pred)
