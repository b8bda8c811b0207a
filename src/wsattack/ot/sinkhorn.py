"""The projected Sinkhorn iteration (Algorithm 2), log-domain, with per-example stopping.

One iteration, on mass-normalized images and per example:
  1. alpha := log x - log sum_j K_ij exp(beta_j)                     (eq. 9, row marginals = x)
  2. beta   := the maximizer of the dual in beta                       (eq. 10, `Objective`)
  3. psi    := psi - g'/g''  (Newton, eq. 11-12), halved instead when the step would go below 0
with K_ij = exp(-psi C_ij - 1). Steps 1-2 are two neighbourhood log-sum-exps (`LocalCost`).

Stopping rule. The authors' code stops when the dual objective stops changing, but its call
`eval_obj(alpha, exp_alpha, beta, exp_beta, ...)` swaps beta and exp_alpha relative to the
definition, so it tests a meaningless quantity. We stop an example when BOTH
  |g_t - g_{t-1}| <= tol_dual * (1 + |g_t|)     (g = eq. 8, lam-scaled, after the beta step), and
  ||Pi 1 - x||_1 <= tol_marginal               (row-marginal violation of the current plan,
                                                 relative to the mass of x, before step 1).
A stalled objective alone can hide a plan whose rows are still far from x (psi and beta moving
against each other), and small marginal error alone holds after every alpha step; together they
say the dual iterate is stationary and its plan nearly consistent.

Output (a deliberate change from the paper's `w - beta/lam`, which need not be in the ball
before convergence): we finish with step 1, so the plan's rows are exactly x, take z := the
plan's column sums (so z >= 0 and mass(z) = mass(x)), and if the plan costs more than eps we
return z_t = x + t (z - x) with t = eps / cost, the column sums of (1 - t) diag(x) + t Pi, whose
cost is exactly eps. Every returned z is thus in the ball, after any number of iterations.
In float32 that last step 1 and the column sums are redone in float64 from the same beta and
psi: the duals grow like lam * |g| (thousands), and exp(alpha_i + beta_j) computed in float32
then carries a relative error of |beta| ulps (1e-4 at lam=1e4), enough for z to need mass from
outside the local window; in float64 the plan's rows are x to round-off, and only the final
cast of z to float32 rounds it.

Capacity (Hu et al. 2020, "Improved image Wasserstein attacks and defenses"): with a pixel
ceiling u the plan must also satisfy Pi^T 1 <= u. Its multiplier only enters the beta step:
the column mass exp(beta_j + log s_j) may not exceed u_j, so beta_j := min(the unconstrained
maximizer, log u_j - log s_j) (`_Ceiling`). The mixture with diag(x) above cannot repair a
column over its ceiling, so with capacity the final plan is materialized, (B, C, K, H, W) in
float64, and rounded by `feasible.make_feasible` (rows x, columns <= u, cost <= eps exactly);
z is its column sums.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from wsattack.ot.duals import Duals
from wsattack.ot.feasible import make_feasible
from wsattack.ot.local import LocalCost
from wsattack.ot.omega import log_wright_omega
from wsattack.ot.plans import column_sums, neighbours, plan_cost, valid_offsets


@dataclass
class Projection:
    """Result of `project` / `project_linear`; per-example fields have shape (B,).

    z: the answer, in the units, dtype and device of x. duals: the final dual variables (pass as
    `duals=` to warm-start). iterations: Sinkhorn iterations used. converged: whether the stopping
    rule was met before max_iter. transport_cost: cost of the plan implied by z, per unit mass of
    x (<= eps). marginal_error: the stopping rule's row-marginal violation (relative L1).
    """

    z: torch.Tensor
    duals: Duals
    iterations: torch.Tensor
    converged: torch.Tensor
    transport_cost: torch.Tensor
    marginal_error: torch.Tensor


@dataclass
class Capacity:
    """The pixel ceiling of the capacity constraint, on mass-normalized images.

    ceiling: (B, C, H, W) in the working dtype, max(capacity / mass(x), x): a clean pixel above
    the capacity may keep its own mass. cost: the k x k cost in float64, to materialize and
    round the final plan exactly.
    """

    ceiling: torch.Tensor
    cost: torch.Tensor


class _Ceiling:
    """The capacity constraint's part of an objective: column mass <= ceiling (module doc)."""

    ceiling: torch.Tensor | None = None
    log_ceiling: torch.Tensor | None = None

    def set_ceiling(self, ceiling: torch.Tensor | None) -> None:
        self.ceiling = ceiling
        self.log_ceiling = None if ceiling is None else torch.log(ceiling)

    def _select_ceiling(self, keep: torch.Tensor) -> None:
        if self.ceiling is not None:
            self.ceiling, self.log_ceiling = self.ceiling[keep], self.log_ceiling[keep]

    def _cap(self, beta: torch.Tensor, log_s: torch.Tensor) -> torch.Tensor:
        """min(beta, log u - log s): +inf (no cap) where no mass can reach the pixel."""
        if self.log_ceiling is None:
            return beta
        return torch.minimum(beta, self.log_ceiling - log_s)


class QuadraticObjective(_Ceiling):
    """min ||w - z||^2 / 2: the beta step of eq. 10 through log(omega), see `omega.py`.

    With t = log lam + log s_j + lam w_j and u = log omega(t), eq. 10 reads beta_j = lam w_j -
    exp(u) = u - log lam - log s_j; the second form has no cancellation for large lam w_j.
    Pixels no mass can reach (s_j = 0) get the unconstrained maximizer beta_j = lam w_j.
    With a ceiling u, z = min(w - beta / lam, u) and beta_j is capped at log u_j - log s_j.
    """

    def __init__(self, w: torch.Tensor, lam: float):
        self.lam_w = lam * w
        self.log_lam = math.log(lam)

    def initial_beta(self) -> torch.Tensor:
        return torch.zeros_like(self.lam_w)

    def select(self, keep: torch.Tensor) -> None:
        self.lam_w = self.lam_w[keep]
        self._select_ceiling(keep)

    def beta_step(self, beta: torch.Tensor, log_s: torch.Tensor) -> torch.Tensor:
        u = log_wright_omega(self.log_lam + log_s + self.lam_w)
        return self._cap(
            torch.where(torch.isfinite(log_s), u - self.log_lam - log_s, self.lam_w), log_s
        )

    def dual_terms(self, beta: torch.Tensor, lam: float) -> torch.Tensor:
        """beta^T w - ||beta||^2 / (2 lam) of eq. 8, i.e. min_z lam ||w - z||^2 / 2 + beta^T z;
        with a ceiling the minimum over z <= u, which is lam (w - u)^2 / 2 + beta u where the
        free minimizer w - beta / lam lies above u."""
        free = beta * self.lam_w - 0.5 * beta * beta
        if self.ceiling is not None:
            lam_u = lam * self.ceiling
            capped = 0.5 * (self.lam_w - lam_u) ** 2 + beta * lam_u
            free = torch.where(self.lam_w - beta > lam_u, capped, free)
        return (free / lam).sum(dim=(1, 2, 3))


class LinearObjective(_Ceiling):
    """max g^T z (eq. 14, appendix D): with z = Pi^T 1 eliminated, beta = lam g is fixed.

    Primal: max_Pi sum_ij Pi_ij g_j - (1/lam) sum Pi log Pi s.t. Pi 1 = x, <Pi, C> <= eps. Its
    optimum is Pi_ij = exp(alpha_i + lam g_j - psi C_ij - 1), so only alpha (eq. 9) and psi
    (eq. 11) are iterated. With a ceiling u (Pi^T 1 <= u) beta is no longer fixed:
    beta_j = min(lam g_j, log u_j - log s_j).
    """

    def __init__(self, g: torch.Tensor, lam: float):
        self.lam_g = lam * g

    def initial_beta(self) -> torch.Tensor:
        return self.lam_g

    def select(self, keep: torch.Tensor) -> None:
        self.lam_g = self.lam_g[keep]
        self._select_ceiling(keep)

    def beta_step(self, beta: torch.Tensor, log_s: torch.Tensor) -> torch.Tensor:
        if self.ceiling is None:
            return beta
        return self._cap(self.lam_g, log_s)

    def dual_terms(self, beta: torch.Tensor, lam: float) -> torch.Tensor:
        """min_z (beta - lam g)^T z: 0 without a ceiling (beta = lam g), else over z <= u it is
        (beta - lam g)^T u (beta <= lam g)."""
        if self.ceiling is None:
            return torch.zeros_like(beta[:, 0, 0, 0])
        below = beta < self.lam_g
        terms = torch.where(below, (beta - self.lam_g) * self.ceiling, 0.0)
        return terms.sum(dim=(1, 2, 3))


def _sum(t: torch.Tensor) -> torch.Tensor:
    return t.sum(dim=(1, 2, 3))


@dataclass
class _Work:
    """The examples still iterating, compacted; `index` maps them back into the batch."""

    index: torch.Tensor
    x: torch.Tensor
    log_x: torch.Tensor
    eps: torch.Tensor
    alpha: torch.Tensor
    beta: torch.Tensor
    psi: torch.Tensor
    g: torch.Tensor
    g_change: torch.Tensor

    def select(self, keep: torch.Tensor) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name)[keep])


def _psi_step(psi, eps, col_mass, mean_c, mean_c2):
    """Newton step on psi (eq. 11-12); if it would make psi negative, halve psi instead.

    Halving replaces Algorithm 2's backtracking loop by a closed form that keeps psi > 0 and
    lets it decay geometrically to 0 when the constraint is inactive.
    """
    grad = _sum(col_mass * mean_c) - eps
    curv = _sum(col_mass * mean_c2).clamp_min(torch.finfo(psi.dtype).tiny)
    step = psi + grad / curv
    return torch.where(step >= 0, step, 0.5 * psi)


class _Result:
    """Per-example output buffers, filled as examples finish."""

    def __init__(self, x: torch.Tensor):
        B = x.shape[0]
        long = dict(dtype=torch.long, device=x.device)
        self.z = torch.empty_like(x)
        self.duals = Duals(torch.empty_like(x), torch.empty_like(x), x.new_empty(B))
        self.iterations = torch.zeros(B, **long)
        self.converged = torch.zeros(B, dtype=torch.bool, device=x.device)
        self.cost = x.new_zeros(B)
        self.marginal = x.new_zeros(B)


def _finish(
    res: _Result,
    work: _Work,
    done,
    log_s,
    mean_c,
    marginal,
    it,
    converged,
    objective,
    capacity,
    exact: LocalCost | None,
) -> None:
    """Write out the examples in `done`: plan (alpha, beta, psi) -> feasible z (module doc).

    exact: the float64 `LocalCost` when the work is in float32 (None in float64)."""
    x, eps = work.x[done], work.eps[done]
    beta = work.beta[done]
    idx = work.index[done]
    if capacity is None:
        log_s, mean_c = log_s[done], mean_c[done]
        if exact is not None:
            x, eps, beta, log_s, mean_c = _step_one_f64(x, eps, beta, work.psi[done], exact)
        z = torch.exp(beta + log_s)
        mass = _sum(z)  # 1 up to round-off; dividing by it makes mass(z) = mass(x) exactly
        z = z / mass.view(-1, 1, 1, 1)
        cost = _sum(z * mean_c)
        t = torch.clamp(eps / cost.clamp_min(torch.finfo(cost.dtype).tiny), max=1.0)
        res.z[idx] = (x + t.view(-1, 1, 1, 1) * (z - x)).to(res.z.dtype)
        res.cost[idx] = (t * cost).to(res.cost.dtype)
    else:
        plan = _plan(work.alpha[done], beta, work.psi[done], capacity.cost)
        f64 = torch.float64
        ceiling = objective.ceiling[done].to(f64)
        plan = make_feasible(plan, x.to(f64), eps.to(f64), capacity.cost, ceiling)
        res.z[idx] = column_sums(plan).to(res.z.dtype)
        res.cost[idx] = plan_cost(plan, capacity.cost).to(res.cost.dtype)
    res.duals.update(idx, Duals(work.alpha[done], beta, work.psi[done]))
    res.iterations[idx] = it
    res.converged[idx] = converged[done]
    res.marginal[idx] = marginal[done]


def _step_one_f64(x, eps, beta, psi, exact: LocalCost):
    """Step 1 and the column statistics again, in float64 (module doc): x, eps, beta, log_s
    (the log column sums less beta) and mean_c, all float64."""
    f64 = torch.float64
    x, eps, beta, psi = x.to(f64), eps.to(f64), beta.to(f64), psi.to(f64)
    alpha = torch.log(x) - (exact.forward(beta, psi) - 1.0)
    log_s, mean_c, _ = exact.backward(alpha, psi)
    return x, eps, beta, log_s - 1.0, mean_c


def _plan(alpha, beta, psi, cost: torch.Tensor) -> torch.Tensor:
    """The local plan exp(alpha_i + beta_{i+d} - psi C_d - 1), (B, C, K, H, W) in float64, zero
    on offsets that leave the image (and on rows with alpha = -inf, i.e. x_i = 0)."""
    f64 = torch.float64
    alpha, beta, psi = alpha.to(f64), beta.to(f64), psi.to(f64)
    k = cost.shape[0]
    H, W = alpha.shape[-2:]
    valid = valid_offsets(H, W, k, device=alpha.device)
    c = cost.to(device=alpha.device).reshape(1, 1, -1, 1, 1)
    log_plan = alpha.unsqueeze(2) + neighbours(beta, k) - psi.view(-1, 1, 1, 1, 1) * c - 1.0
    return torch.exp(torch.where(valid, log_plan, float("-inf")))


def solve(
    x,
    eps,
    objective,
    cost: LocalCost,
    lam,
    max_iter,
    tol_dual,
    tol_marginal,
    duals,
    capacity: Capacity | None = None,
):
    """Run Algorithm 2 on mass-normalized x until every example stops; returns `_Result`.

    capacity: None, or the pixel ceiling (`Capacity`, module doc); it is handed to `objective`.
    """
    B = x.shape[0]
    if capacity is not None:
        objective.set_ceiling(capacity.ceiling)
    inf = torch.full((B,), float("inf"), dtype=x.dtype, device=x.device)
    log_x = torch.log(x)
    if duals is None:
        duals = Duals(log_x, objective.initial_beta(), torch.ones_like(eps))
    beta = objective.initial_beta() if isinstance(objective, LinearObjective) else duals.beta
    work = _Work(
        torch.arange(B, device=x.device),
        x,
        log_x,
        eps,
        duals.alpha,
        beta,
        duals.psi,
        inf.clone(),
        inf.clone(),
    )
    res = _Result(x)
    exact = None if x.dtype == torch.float64 else LocalCost(cost.cost64, torch.float64, x.device)
    for it in range(max_iter + 1):
        log_rows = cost.forward(work.beta, work.psi) - 1.0
        marginal = _sum(torch.abs(torch.exp(work.alpha + log_rows) - work.x))
        work.alpha = work.log_x - log_rows
        log_s, mean_c, mean_c2 = cost.backward(work.alpha, work.psi)
        log_s = log_s - 1.0
        converged = (marginal <= tol_marginal) & (work.g_change <= tol_dual)
        done = converged | (it == max_iter)
        if done.any():
            _finish(
                res, work, done, log_s, mean_c, marginal, it, converged, objective, capacity, exact
            )
            keep = ~done
            if not keep.any():
                break
            work.select(keep)
            objective.select(keep)
            log_s, mean_c, mean_c2 = log_s[keep], mean_c[keep], mean_c2[keep]
        work.beta = objective.beta_step(work.beta, log_s)
        col_mass = torch.exp(work.beta + log_s)
        g = (
            _sum(torch.where(work.x > 0, work.x * work.alpha, 0.0))
            + objective.dual_terms(work.beta, lam)
            - work.psi * work.eps
            - _sum(col_mass)
        )
        work.g_change = torch.abs(g - work.g) / (1.0 + torch.abs(g))
        work.g = g
        work.psi = _psi_step(work.psi, work.eps, col_mass, mean_c, mean_c2)
    return res
