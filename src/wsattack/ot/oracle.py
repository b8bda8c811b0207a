"""The entropic linear oracle over local plans, for Frank-Wolfe (Wu, Wang & Yu 2020, section 4).

Given the gradient g of a loss with respect to the image, Frank-Wolfe needs the feasible plan
that increases the loss most:

    S = argmax_P  <G, P> + gamma H(P)
        s.t.      P >= 0,  P 1 = x,  <C, P> <= eps,  P^T 1 <= u (optional capacity)

where G[i, d] = g[i + d] (moving mass from i to i + d gains what the destination's gradient
says) and H is the entropy. Its solution is, per source pixel i,

    S[i, d] = x_i softmax_d( (G[i, d] - mu C[d]) / gamma + b[i + d] )

with a cost multiplier mu >= 0 (one per example) and, with capacity, a log price b_j <= 0 per
destination pixel. Rows are exact for any (mu, b); mu is found by safeguarded Newton steps on
the budget and b by Hu et al. (2020)'s capacity update b_j <- min(0, b_j + log u_j - log S^T 1_j).
The last iterate is rounded to an exactly feasible plan (`feasible.feasible_rows`), so the
returned image is always in the ball, and at the pixel ceiling at most, whatever the number of
iterations. gamma -> 0 gives the LP oracle (mass to the best neighbour within the budget).

`project_linear(capacity=...)` maximizes the same objective in projected Sinkhorn's terms (images
only, Newton on the cost dual, lam relative to the mass of x). This oracle keeps the plan
explicit, brackets mu (Newton alone overshoots near the LP limit, where the cost's slope
vanishes) and is scale-free in g; inside Frank-Wolfe (30 MNIST images, zoo:wong2019_mnist_robust,
20 iterations per step) it took 0.52 s per image against 0.92 s through `project_linear`, for the
same accuracies at 0.05 / 0.1 / 0.2 up to one image.

References: Wu, Wang, Yu. Stronger and faster Wasserstein adversarial attacks. ICML 2020.
Hu, Wang, Zhang, Ren. Improved image Wasserstein attacks and defenses. 2020.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from wsattack.errors import ConfigError
from wsattack.ot.cost import check_cost
from wsattack.ot.feasible import feasible_rows
from wsattack.ot.inputs import ceiling, eps_tensor, normalize
from wsattack.ot.rows import PlanRows


@dataclass
class OracleState:
    """Warm start for the next call on the same images: mu (B,) and the log prices b (B,C,H,W),
    both in the units of a gradient scaled to max |g| = 1 and of gamma."""

    mu: torch.Tensor
    log_price: torch.Tensor

    def __getitem__(self, index) -> OracleState:
        return OracleState(self.mu[index], self.log_price[index])


@dataclass
class OracleResult:
    """image: the column sums of the feasible plan, in the units, dtype and device of x.
    transport_cost: its plan's cost per unit mass of x (<= eps). state: warm start."""

    image: torch.Tensor
    transport_cost: torch.Tensor
    state: OracleState


def linear_oracle(
    x: torch.Tensor,
    g: torch.Tensor,
    eps,
    cost: torch.Tensor,
    gamma: float = 0.01,
    capacity=None,
    max_iter: int = 30,
    tol: float = 1e-3,
    state: OracleState | None = None,
) -> OracleResult:
    """Entropic linear maximization over the local Wasserstein ball around x (module doc).

    Parameters
    ----------
    x : (B, C, H, W) non-negative images with positive mass. g : the loss gradient, same shape.
    eps : float or (B,) radius per unit mass of x. cost : k x k local cost (`wasserstein_cost`).
    gamma : entropy weight, relative to the largest |g| of each example (g is rescaled to
        max |g| = 1, so the oracle does not depend on the loss's scale).
    capacity : None, or the pixel ceiling in input units (1.0 for images in [0, 1]), a float or
        a tensor broadcastable to x (`inputs.ceiling`).
    max_iter, tol : iterations of the (mu, b) updates; stop when the budget is met to relative
        `tol` (or unused with mu = 0) and no column exceeds the ceiling by more than `tol`.
    state : the previous call's `OracleResult.state` on the same examples (warm start).

    Examples
    --------
    >>> import torch
    >>> from wsattack.ot import linear_oracle, wasserstein_cost
    >>> x = torch.zeros(1, 1, 5, 5); x[0, 0, 2, 2] = 1.0
    >>> g = torch.zeros_like(x); g[0, 0, 2, 3] = 1.0
    >>> res = linear_oracle(x, g, 0.5, wasserstein_cost(3, p=1), gamma=1e-3)
    >>> round(float(res.image[0, 0, 2, 3]), 3)  # half the mass moves one pixel right
    0.5
    """
    if not gamma > 0:
        raise ConfigError(f"gamma must be positive, got {gamma}")
    with torch.no_grad():
        prob = normalize(x, g, eps, "g")
        c = check_cost(torch.as_tensor(cost, dtype=torch.float64))
        top = None
        if capacity is not None:  # per unit mass, like x
            top = ceiling(capacity, x, prob.x.dtype) / prob.mass.view(-1, 1, 1, 1)
        solver = _Solver(prob.x, prob.target, prob.eps, c, gamma, top)
        solver.run(state, int(max_iter), tol)
        # The budget from eps itself, not its float32 copy, which can round up.
        eps64 = eps_tensor(eps, len(x), torch.float64, x.device)
        rows, cost64 = solver.rows, c.reshape(-1)
        top64 = None if top is None else top.double()
        P = feasible_rows(solver.plan().double(), rows, prob.x.double(), eps64, c, top64)
        image = rows.image(P)
        if capacity is not None:
            image = torch.minimum(image, solver.ceiling.double())  # round-off only
        z = image * prob.mass.double().view(-1, 1, 1, 1)
        return OracleResult(z.to(x.dtype), rows.per_example(P @ cost64), solver.state())


class _Solver:
    """The (mu, b) iteration on mass-normalized x, the gradient scaled to max |g| = 1, on the
    rows of the pixels with mass (`PlanRows`)."""

    def __init__(self, x, g, eps, cost, gamma, ceiling):
        self.x, self.eps, self.gamma = x, eps, gamma
        self.rows = PlanRows(x, cost.shape[0])
        self.a = x.reshape(-1)[self.rows.idx].unsqueeze(1)
        scale = g.flatten(1).abs().amax(dim=1).clamp_min(torch.finfo(g.dtype).tiny)
        gain = self.rows.at_destinations(g / scale.view(-1, 1, 1, 1)) / gamma
        self.gain = gain.masked_fill(~self.rows.valid, float("-inf"))
        self.cost = cost.to(x.dtype).to(x.device).reshape(-1)
        self.ceiling = ceiling
        self.mu = x.new_zeros(len(x))
        self.log_price = torch.zeros_like(x)
        self.lo, self.hi = x.new_zeros(len(x)), torch.full_like(self.mu, math.inf)
        # The largest gain per unit cost is at most 2 / min C (gradients scaled to [-1, 1]).
        self._mu_scale = 2.0 / float(cost[cost > 0].min())

    def weights(self):
        logits = self.gain - torch.outer((self.mu / self.gamma)[self.rows.ex], self.cost)
        if self.ceiling is not None:
            logits = logits + self.rows.at_destinations(self.log_price)
        return torch.softmax(logits, dim=1)

    def plan(self):
        """The current plan's rows."""
        return self.a * self.weights()

    def run(self, state, max_iter, tol):
        if state is not None:
            self.mu = state.mu.to(self.x).clone()
            self.log_price = state.log_price.to(self.x).clone()
        # An example stops (its mu and prices freeze) once it meets the rule, as it would alone:
        # a batch gives each example what a call on it alone gives.
        done = torch.zeros_like(self.mu, dtype=torch.bool)
        for _ in range(max_iter):
            w = self.weights()
            plan = self.a * w
            spent = self.rows.per_example(plan @ self.cost)
            budget_ok = (spent - self.eps).abs() <= tol * self.eps
            budget_ok |= (self.mu <= 0) & (spent <= self.eps)
            capacity_ok = self._update_prices(plan, tol, done)
            done |= budget_ok & capacity_ok
            if bool(done.all()):
                break
            self._update_mu(plan, w, spent, ~done)

    def _update_prices(self, plan, tol, done):
        """Hu 2020's capacity step on the examples not yet `done`; returns per example
        whether the ceiling already holds."""
        if self.ceiling is None:
            return torch.ones_like(self.mu, dtype=torch.bool)
        cols = self.rows.image(plan)
        ok = (cols <= self.ceiling * (1 + tol)).flatten(1).all(dim=1)
        step = torch.log(self.ceiling) - torch.log(cols.clamp_min(torch.finfo(cols.dtype).tiny))
        moves = (cols > 0) & ~done.view(-1, 1, 1, 1)
        self.log_price = torch.where(moves, (self.log_price + step).clamp(max=0), self.log_price)
        return ok

    def _update_mu(self, plan, w, spent, active):
        """Newton on spent(mu) = eps for the `active` examples (d spent / d mu =
        -sum_i x_i Var_i(C) / gamma), kept inside a bracket [lo, hi] and bisecting when it
        leaves it. Near the LP limit the variance vanishes and Newton alone overshoots."""
        over = spent > self.eps
        # The prices moved since the bracket was set: an iterate at a bracket end whose cost
        # contradicts the bracket shows it stale, and that end is reopened geometrically.
        stale_lo = ~over & (self.mu <= self.lo * (1 + 1e-6))
        stale_hi = over & (self.mu >= self.hi * (1 - 1e-6))
        self.lo = torch.where(over, self.mu, torch.where(stale_lo, 0.5 * self.mu, self.lo))
        self.hi = torch.where(~over, self.mu, torch.where(stale_hi, math.inf, self.hi))
        mean_c = w @ self.cost
        var = self.rows.per_example(plan @ self.cost**2 - self.a.squeeze(1) * mean_c**2)
        slope = (var / self.gamma).clamp_min(torch.finfo(var.dtype).tiny)
        newton = self.mu + (spent - self.eps) / slope
        open_hi = torch.isinf(self.hi)
        reach = torch.clamp(2 * self.lo, min=self._mu_scale)  # no Newton leap past the scale
        hi = torch.where(open_hi, reach, self.hi)
        middle = torch.where(open_hi, reach, 0.5 * (self.lo + self.hi))
        inside = (newton > self.lo) & (newton < hi)
        self.mu = torch.where(active, torch.where(inside, newton, middle), self.mu)

    def state(self) -> OracleState:
        return OracleState(self.mu.clone(), self.log_price.clone())
