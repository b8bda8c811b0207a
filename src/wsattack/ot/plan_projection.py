"""Exact Euclidean projection of a local transport plan (Wu, Wang & Yu 2020).

Wu, Wang & Yu, "Stronger and faster Wasserstein adversarial attacks", ICML 2020, attack in the
space of transport plans: a gradient step on the plan P followed by the Euclidean projection of
P back onto the set of plans that move x within the budget. This module computes that
projection; see `project_plan` for the math.
"""

from __future__ import annotations

import torch

from wsattack.errors import ConfigError
from wsattack.ot.cost import check_cost
from wsattack.ot.feasible import feasible_rows
from wsattack.ot.inputs import ceiling, eps_tensor, normalize
from wsattack.ot.rows import PlanRows

# Growth of the upper bracket of mu past the value at which every row keeps its mass in place.
_BRACKET_MARGIN = 1.001
# Column excess (relative to the ceiling) that `make_feasible` may leave: far below its default,
# so that the projection is feasible to round-off.
_ROUND_OFF = 1e-13


def project_plan(
    plan: torch.Tensor,
    x: torch.Tensor,
    eps,
    cost: torch.Tensor,
    capacity=None,
    max_iter: int = 200,
    tol: float = 1e-7,
    prices: torch.Tensor | None = None,
) -> torch.Tensor:
    """Euclidean projection of a local plan onto the plans that move x within eps.

    Parameters
    ----------
    plan : torch.Tensor
        (B, C, K, H, W), K = k * k, any finite values: the point to project (e.g. a plan after a
        gradient step). Entries on offsets that leave the image (`valid_offsets`) are ignored.
    x : torch.Tensor
        (B, C, H, W), non-negative with positive total mass per example, input units.
    eps : float or torch.Tensor
        Radius per unit mass of x (like `wsattack.ot.project`), > 0; a float or shape (B,).
    cost : torch.Tensor
        The k x k local cost (`wasserstein_cost`), in the offset order of the plan.
    capacity : None, float or torch.Tensor, optional
        The pixel ceiling in input units (e.g. 1.0 for images in [0, 1]), broadcastable to x,
        finite and > 0. A pixel of x above it may keep its own mass: the ceiling used is
        max(capacity, x), as in `make_feasible`, so the set is never empty.
    max_iter : int
        Bound on the evaluations of the row projections in the search for mu, and, with a
        capacity, on the rounds of dual ascent on the column prices.
    prices : torch.Tensor, optional
        With a capacity: a (B, C, H, W) tensor of column prices (dual variables, in the units
        of the mass-normalized problem), both the warm start of the dual ascent and, on
        return, its final prices (written in place). Successive projections of nearby plans,
        as in PGD, then need a few rounds instead of dozens. Zeros are a cold start.
    tol : float
        Relative precision: when the budget is active the cost of the result lies in
        [(1 - tol) eps, eps] (in float64, as long as the plan's entries are not so large
        against x that their round-off swamps the cost; float32 reaches about 1e-5). With a
        capacity, an example's dual ascent stops once its projected gradient is below tol
        times its largest ceiling: no column above its ceiling, and no price on a column below
        it, by more than that.

    Returns
    -------
    torch.Tensor
        The projected plan, shape (B, C, K, H, W), dtype and device of `plan`: non-negative,
        zero on invalid offsets and on pixels of x without mass, rows summing to x, cost
        `plan_cost` at most eps * mass(x), and with a capacity column sums at most the
        ceiling. These hold to the round-off of the output dtype (the result goes through
        `make_feasible` in float64, which here only removes round-off and, with a capacity,
        sends the excess the dual ascent leaves back to its sources down to 1e-13 of the
        ceiling), plus float32 round-off for a float32 result; clip the image if that matters.

    Notes
    -----
    Divide x and the plan by the mass m of x, so the budget is eps per unit mass and rows sum
    to a_i = x_i / m (the result is multiplied back by m). Without a capacity the set is

        S = {P : P >= 0, sum_d P_id = a_i over the valid offsets d of pixel i,
             P_id = 0 on invalid offsets, <C, P> <= eps},

    and the projection solves min_{P in S} ||P - P0||^2 / 2. Dualizing only the budget with a
    scalar mu >= 0 per example leaves independent rows: for fixed mu,

        P_i(mu) = argmin_{p >= 0, sum p = a_i} ||p - (P0_i - mu c)||^2 / 2
                = max(P0_i - mu c - tau_i, 0),

    the Euclidean projection onto the simplex scaled to a_i, with tau_i the root of
    sum_d max(v_d - tau, 0) = a_i (found by Michelot's algorithm, i.e. Newton on this convex
    piecewise-linear function: drop the entries below the current tau and recompute it, which
    reaches the root in at most K steps, vectorized over all rows, warm-started, no sort;
    invalid offsets are -inf). The cost g(mu) = <C, P(mu)> is the derivative
    of the concave dual, so it is continuous, non-increasing and piecewise linear, with slope
    -sum_i sum_{d in S_i} (c_d - mean_{S_i} c)^2 on a piece where the supports S_i are fixed.
    If g(0) <= eps the answer is P(0); else the unique optimal mu solves g(mu) = eps (KKT:
    complementary slackness), and it is bracketed by 0 and the mu at which every row keeps all
    its mass on the zero-cost centre. A safeguarded Newton iteration on this bracket (Newton on
    the current linear piece, which is exact once the piece holds the root; regula falsi or
    bisection when the step leaves the bracket or |g - eps| fails to halve) stops when g(mu)
    is in [(1 - tol) eps, eps]; g is convex-looking in practice, so Newton from mu = 0 takes
    5 to 10 evaluations. Only pixels with mass are processed (about 20% of an MNIST image;
    `rows.PlanRows`), examples leave the search as they finish, and the final repair
    (`feasible.feasible_rows`: rows rescaled to x exactly, a mix with the identity plan if the
    cost is over eps by round-off) runs on the same rows.

    With a capacity u (the ceiling max(capacity, x) / m) the extra constraints are the column
    half-spaces col_j(P) = sum of the plan entries landing on pixel j <= u_j. They are dualized
    with prices nu_j >= 0; for fixed nu the inner problem is the projection above of
    P0 - N^T nu (N^T nu: the price of each entry's destination), solved exactly as described,
    and h(nu) = min_{P in S} ||P - P0||^2 / 2 + <nu, col(P) - u> is concave with gradient
    col(P(nu)) - u, which is 1-Lipschitz in the metric diag(n_j) (n_j: the number of entries
    landing on j). h is maximized by accelerated projected gradient ascent (FISTA with the
    step 1 / n_j and gradient restart per example, O'Donoghue & Candes 2015), each example
    until its projected gradient is below tol (see `tol`), at most `max_iter` rounds. Only the
    first round searches for the budget's mu to tol; each later round evaluates the rows once,
    at the last mu, and takes one Newton step on mu from there (the prices move it anyway, and
    a full search each round cost twice the evaluations), so an example also runs until its
    budget is met to tol, and one out of rounds gets a last full search. This
    converges to the exact projection (the primal is 1-strongly convex, so
    ||P(nu) - P*||^2 <= 2 (h* - h(nu))), but only in the limit: the result is P(nu) for the
    last prices, whose columns may exceed the ceiling by about tol; `make_feasible` sends that
    excess back to the rows it came from (proportionally, onto their centres: rows kept, cost
    lowered), rescales rows and enforces the budget. With the default tol it
    matches an independent QP solve (SLSQP) to about 1e-7 of the distance moved, on 5 x 5
    test images. On MNIST images (capacity 1, many saturated pixels, cold prices) a step of
    0.02 eps from the identity plan along a random direction takes about 55 rounds; one of
    2 eps, as PGD's first, does not reach the default tol in 200.
    When no ceiling is reached it is the exact projection of the first part. Mass never
    changes channel.

    Computes in float64 for float64 x, else float32; the final repair is in float64.

    References
    ----------
    K. Wu, A. H. Wang and Y. Yu, "Stronger and faster Wasserstein adversarial attacks", ICML
    2020 (projected gradient on transport plans, exact projection by a 1-D dual search).
    C. Michelot, "A finite algorithm for finding the projection of a point onto the canonical
    simplex of R^n", JOTA 1986.
    B. O'Donoghue and E. Candes, "Adaptive restart for accelerated gradient schemes", FoCM 2015.
    """
    if not isinstance(plan, torch.Tensor) or not isinstance(x, torch.Tensor):
        raise ConfigError("plan and x must be torch tensors")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise ConfigError(f"max_iter must be a positive integer, got {max_iter!r}")
    if not (0 < tol < 1):
        raise ConfigError(f"tol must be in (0, 1), got {tol}")
    with torch.no_grad():
        prob = normalize(x, x, eps, "x")
        B, C, H, W = prob.x.shape
        cost = check_cost(cost)
        k = cost.shape[0]
        if plan.shape != (B, C, k * k, H, W):
            raise ConfigError(
                f"plan must have shape {(B, C, k * k, H, W)} for x of shape {(B, C, H, W)} "
                f"and a {k} x {k} cost, got {tuple(plan.shape)}"
            )
        if plan.device != prob.x.device:
            raise ConfigError(f"plan is on {plan.device} but x is on {prob.x.device}")
        if not plan.is_floating_point():
            raise ConfigError(f"plan must be a floating-point tensor, got {plan.dtype}")
        if plan.numel() and not bool(torch.isfinite(torch.stack(torch.aminmax(plan))).all()):
            raise ConfigError("plan contains NaN or Inf")  # aminmax propagates NaN
        if prices is not None and prices.shape != x.shape:
            raise ConfigError(f"prices must have the shape of x {tuple(x.shape)}")
        dtype = prob.x.dtype
        top = None if capacity is None else ceiling(capacity, x, dtype)
        rows = _Rows(plan, x, prob, cost, k)
        tol = max(float(tol), 8 * torch.finfo(dtype).eps)
        if top is None:
            P, _, _ = rows.solve_budget(rows.P0, prob.eps, max_iter, tol)
        else:
            u = (top / prob.mass.view(-1, 1, 1, 1)).reshape(-1)
            P = rows.solve_capacity(u, prob.eps, max_iter, tol, prices)
        # make_feasible in float64 and in input units, so rows are x exactly; for a float32
        # output the budget keeps room for rounding the result to float32.
        x64 = x.to(torch.float64)
        mass64 = x64.sum(dim=(1, 2, 3))
        eps_total = eps_tensor(eps, B, torch.float64, x.device) * mass64
        if plan.dtype != torch.float64:
            eps_total = eps_total * (1 - 4 * torch.finfo(plan.dtype).eps)
        P = P.to(torch.float64) * mass64[rows.ex].unsqueeze(1)
        top = None if top is None else top.to(torch.float64)
        P = feasible_rows(P, rows, x64, eps_total, cost, top, round_off=_ROUND_OFF)
        return rows.scatter(P.to(plan.dtype))


class _Rows(PlanRows):
    """The pixels with mass, compacted to R rows of K contiguous offsets (mass-normalized)."""

    def __init__(self, plan, x, prob, cost, k):
        # Laid out on x itself: a pixel whose mass underflows in prob.x still gets its row.
        super().__init__(x, k)
        B, K = self.shape[0], self.K
        dtype, device = prob.x.dtype, x.device
        self.B = B
        self.a = prob.x.reshape(-1)[self.idx]
        P0 = self.gather(plan).to(dtype) / prob.mass[self.ex].unsqueeze(1)
        # Far beyond any meaningful value (the round-off of such entries swamps the masses) but
        # small enough that sums of K of them, and mu c, stay finite.
        big = 1e-4 * torch.finfo(dtype).max
        P0 = P0.clamp_(-big, big)
        # Invalid offsets at -inf: the row projections give them nothing.
        self.P0 = P0.masked_fill_(~self.valid, float("-inf"))
        self.c = cost.to(dtype=dtype, device=device).reshape(-1)
        self.c2 = self.c * self.c
        # Every row keeps all its mass on the (zero-cost) centre once mu c_d >= a + P0_d - P0_c
        # for every valid offset with c_d > 0: the cost is then 0. The largest such mu over the
        # batch tops every example's bracket (-inf entries drop out of the max).
        inv_c = torch.where(self.c > 0, 1 / self.c.clamp_min(1e-300), torch.zeros_like(self.c))
        bound = (self.P0 - (P0[:, K // 2] - self.a).unsqueeze(1)) * inv_c
        top = bound.nan_to_num_(nan=0.0, neginf=0.0).amax() if len(bound) else bound.new_zeros(())
        self.top = (top.clamp_min(0) * _BRACKET_MARGIN + torch.finfo(dtype).tiny).expand(B)

    def simplex(self, V, a, tau=None):
        """Row-wise projection of V onto {p >= 0, sum p = a}; V is -inf on invalid offsets.

        Newton on tau -> sum_d max(v_d - tau, 0) - a, convex, decreasing and piecewise linear
        (Michelot's algorithm). From the left of the root (e.g. v_centre - a: no entry of the
        projection exceeds a) tau rises monotonically and the support shrinks; from the right
        (a warm start) the first step lands on the left, or on the root, by convexity; a start
        right of every entry restarts from v_centre - a. Once the support stops changing tau is
        the root. Returns the projection, its support (0/1), its size and tau.
        """
        left = V[:, self.K // 2] - a
        tau = left if tau is None else tau
        count = None
        for _ in range(self.K + 3):
            D = (V - tau.unsqueeze(1)).clamp_min_(0)
            support = torch.sign(D)
            new_count = support.sum(dim=1)
            if count is not None and torch.equal(new_count, count):
                break
            count = new_count
            step = tau + (D.sum(dim=1) - a) / count.clamp_min(1)
            tau = torch.where(count > 0, step, left)
        return D, support, count, tau

    def evaluate(self, V0, a, ex, mu, tau=None):
        """P(mu) on the given rows, per example its cost and the slope of the cost in mu, and
        each row's tau."""
        P, act, n, tau = self.simplex(torch.addr(V0, mu[ex], self.c, alpha=-1), a, tau)
        sc = act @ self.c
        stats = torch.stack([P @ self.c, sc * sc / n.clamp_min(1) - act @ self.c2], dim=1)
        out = torch.zeros(self.B, 2, dtype=P.dtype, device=P.device).index_add_(0, ex, stats)
        return P, out[:, 0], out[:, 1], tau

    def solve_budget(self, V0, eps, max_iter, tol, mu=None, rows=None, active=None, tau=None):
        """P(mu) for the mu with cost(mu) in [(1 - tol) eps, eps], or mu = 0 if cost(0) <= eps.

        Safeguarded Newton on each example's mu (see `project_plan`), evaluating only the rows
        of the examples not yet done. V0: the rows to project (`rows` of the R rows, default
        all), -inf on invalid offsets; active: the examples those rows cover (default all).
        mu: warm start (B,); the bracket [0, top] makes any start safe. tau: warm start of the
        rows' simplex thresholds. Returns the projected rows, mu (the warm start for the
        examples not active) and the rows' thresholds.
        """
        dtype = V0.dtype
        target, slack = _budget_window(eps, tol)
        lo = torch.zeros_like(eps)
        hi = self.top.clone()
        f_lo = torch.full_like(eps, float("nan"))  # unknown until evaluated
        f_hi = -target
        mu = torch.zeros_like(eps) if mu is None else mu.clamp(min=0).minimum(hi)
        final = mu.clone()
        done = torch.zeros_like(eps, dtype=torch.bool) if active is None else ~active
        force = torch.zeros_like(done)  # accept the next evaluation (bracket at round-off)
        stalled = torch.zeros_like(done)
        f_prev = torch.full_like(eps, float("inf"))
        # mu is resolved once mu c moves the rows by less than their own round-off.
        resolution = 8 * torch.finfo(dtype).eps * V0.nan_to_num(neginf=0.0).abs().amax()
        resolution = resolution / self.c.amax().clamp_min(torch.finfo(dtype).tiny)
        out = torch.empty_like(V0)
        out_tau = V0.new_empty(len(V0))
        sel = torch.arange(len(V0), device=V0.device)
        a, ex = (self.a, self.ex) if rows is None else (self.a[rows], self.ex[rows])
        V = V0
        for it in range(max_iter + 1):
            if it == max_iter:  # out of evaluations: the feasible end of the bracket
                mu, force = hi, torch.ones_like(done)
            P, g, slope, tau = self.evaluate(V, a, ex, mu, tau)
            f = g - target
            ok = (_budget_met(f, mu, slack) | force) & ~done
            done |= ok
            if bool(ok.any()):
                final = torch.where(ok, mu, final)
                finished = ok[ex]
                out[sel[finished]] = P[finished]
                out_tau[sel[finished]] = tau[finished]
                keep = ~finished
                sel, V, a, ex, tau = sel[keep], V[keep], a[keep], ex[keep], tau[keep]
            if bool(done.all()):
                break
            above = f > 0
            lo = torch.where(above, mu, lo)
            f_lo = torch.where(above, f, f_lo)
            hi = torch.where(above, hi, mu)
            f_hi = torch.where(above, f_hi, f)
            # Newton on the current piece unless |f| failed to halve or the step leaves the
            # bracket; then regula falsi, or bisection when that stalled too.
            slow = f.abs() > 0.5 * f_prev
            f_prev = f.abs()
            newton = _newton(mu, f, slope)
            inside = (slope < 0) & (newton > lo) & (newton < hi)
            known = ~torch.isnan(f_lo)
            denom = torch.where(known, f_lo - f_hi, torch.ones_like(f))
            secant = torch.where(known, lo + f_lo * (hi - lo) / denom, lo)
            secant_ok = ~known | ((secant > lo) & (secant < hi))
            bisect = (lo + hi) / 2
            mu = torch.where(
                inside & ~slow, newton, torch.where(secant_ok & ~(slow & stalled), secant, bisect)
            )
            stalled = slow
            # The bracket has shrunk to round-off: take its feasible end.
            force = (hi - lo) <= torch.maximum(4 * torch.finfo(dtype).eps * hi, resolution)
            mu = torch.where(force, hi, mu)
        return out, final, out_tau

    def solve_capacity(self, u, eps, max_iter, tol, prices=None):
        """Accelerated projected dual ascent on the column prices (see `project_plan`).

        Each example stops on its own once its projected gradient is below tol times its
        largest ceiling and its budget is met to tol; only the rows of the examples still
        running are re-projected.
        """
        B = self.B
        incoming = self.columns(self.valid.to(self.P0.dtype))[:-1].view(B, -1)
        step = torch.where(incoming > 0, 1 / incoming.clamp_min(1), 0)  # 1 / n_j
        u = u.view(B, -1)
        scale = tol * u.amax(dim=1)
        # Prices per pixel, and 0 on the dummy column N (invalid offsets pay nothing).
        priced = self.P0.new_zeros(self.N + 1)
        y = priced[:-1].view(B, -1)
        if prices is not None:
            y.copy_(prices.reshape(B, -1).clamp_min(0))
        nu = y.clone()
        t = torch.ones_like(scale)
        target, slack = _budget_window(eps, tol)
        active = torch.ones(B, dtype=torch.bool, device=u.device)
        # The first round finds the budget's multiplier mu for the starting prices; later
        # rounds take one Newton step on it each, as the prices move it anyway.
        dest = self.dest
        P, mu, tau = self.solve_budget(self.P0 - torch.take(priced, dest), eps, max_iter, tol)
        budget_ok = active
        work = _Work(self, P, tau)
        for it in range(max_iter):
            grad = self.columns(work.P, work.dest)[:-1].view(B, -1) - u
            nu_new = (y + step * grad).clamp_min_(0)
            # Optimal when the projected gradient vanishes: no column above its ceiling, and
            # no price on a column below it (complementary slackness), and the budget is met.
            residual = torch.where(incoming > 0, torch.maximum(grad, -y * incoming), 0)
            worst = residual.abs().amax(dim=1)
            active = active & ((worst > scale) | ~budget_ok)
            if it == max_iter - 1 or not bool(active.any()):
                break
            nu, t = _accelerate(y, nu, nu_new, t, active)
            work.keep(P, active)
            work.P, g, slope, work.tau = self.evaluate(
                work.P0 - torch.take(priced, work.dest), work.a, work.ex, mu, work.tau
            )
            f = torch.where(active, g - target, 0)
            budget_ok = _budget_met(f, mu, slack)
            mu = torch.where(
                active & ~budget_ok, _newton(mu, f, slope).clamp(0).minimum(self.top), mu
            )
        if work.P is not P:  # the rounds after the first
            P[work.rows] = work.P
        over = active & ~budget_ok
        if bool(over.any()):  # out of rounds: at least the budget is met to tol
            rows = torch.nonzero(over[self.ex]).squeeze(1)
            P[rows], _, _ = self.solve_budget(
                self.P0[rows] - torch.take(priced, dest[rows]),
                eps,
                max_iter,
                tol,
                mu,
                rows,
                over,
                tau[rows],
            )
        if prices is not None:
            prices.copy_(y.reshape(prices.shape))
        return P


def _budget_window(eps, tol):
    """The costs accepted for the budget: within eps * tol / 2 of eps * (1 - tol / 2), i.e. in
    [(1 - tol) eps, eps]. Returns that target and half-width."""
    return eps * (1 - tol / 2), eps * (tol / 2)


def _budget_met(f, mu, slack):
    """Whether a cost f above the target is within the window, or below it with mu = 0 (the
    budget is then not binding)."""
    return (f.abs() <= slack) | ((mu == 0) & (f <= slack))


def _newton(mu, f, slope):
    """Newton's step on the cost's excess f over mu (slope: its derivative, < 0 on a piece
    that moves; elsewhere a unit slope keeps the step finite)."""
    return mu - f / torch.where(slope < 0, slope, -1)


def _accelerate(y, nu, nu_new, t, active):
    """FISTA's extrapolation, written into the prices y in place, with a gradient restart per
    example (no momentum when it points against the step). A finished example keeps the
    prices its plan was computed with. Returns the new nu and t."""
    restart = ((y - nu_new) * (nu_new - nu)).sum(dim=1) > 0
    t_new = (1 + torch.sqrt(1 + 4 * t * t)) / 2
    beta = torch.where(restart, 0, (t - 1) / t_new).unsqueeze(1)
    running = active.unsqueeze(1)
    y_new = nu_new + beta * (nu_new - nu)
    nu = torch.where(running, nu_new, y)
    y.copy_(torch.where(running, y_new, y))
    return nu, torch.where(restart, 1, t_new)


class _Work:
    """The rows of the examples still in the capacity's dual ascent, compacted: their indices
    among all rows, initial values, destinations, masses, examples, current plan and
    thresholds."""

    def __init__(self, problem: _Rows, P, tau):
        self.rows = torch.arange(len(P), device=P.device)
        self.P0, self.dest = problem.P0, problem.dest
        self.a, self.ex = problem.a, problem.ex
        self.P, self.tau = P, tau

    def keep(self, P, active):
        """Write the finished examples' rows into P and drop them."""
        done = ~active[self.ex]
        if not bool(done.any()):
            return
        P[self.rows[done]] = self.P[done]
        on = ~done
        for name in ("rows", "P0", "dest", "a", "ex", "P", "tau"):
            setattr(self, name, getattr(self, name)[on])
