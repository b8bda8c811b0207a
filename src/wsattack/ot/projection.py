"""Public entry points: projection onto a local Wasserstein ball, and its linear variant."""

from __future__ import annotations

import torch

from wsattack.ot.cost import check_cost
from wsattack.ot.inputs import ceiling, check_duals, check_solver_args, normalize
from wsattack.ot.local import LocalCost
from wsattack.ot.settings import DEFAULTS
from wsattack.ot.sinkhorn import Capacity, LinearObjective, Projection, QuadraticObjective, solve


def _run(
    x,
    target,
    eps,
    cost,
    objective_cls,
    name,
    lam,
    max_iter,
    tol_dual,
    tol_marginal,
    duals,
    capacity,
):
    check_solver_args(lam, max_iter, tol_dual, tol_marginal)
    with torch.no_grad():
        prob = normalize(x, target, eps, name)
        duals = check_duals(duals, prob.x)
        cost = torch.as_tensor(cost)
        local = LocalCost(cost, prob.x.dtype, prob.x.device)
        objective = objective_cls(prob.target, float(lam))
        scale = prob.mass.view(-1, 1, 1, 1)
        cap = None
        if capacity is not None:
            top = ceiling(capacity, x, prob.x.dtype)
            cost64 = check_cost(cost).to(dtype=torch.float64, device=x.device)
            cap = Capacity(top / scale, cost64)
        res = solve(
            prob.x,
            prob.eps,
            objective,
            local,
            float(lam),
            int(max_iter),
            tol_dual,
            tol_marginal,
            duals,
            cap,
        )
        z = res.z * scale
        if capacity is not None:
            z = torch.minimum(z, top)  # round-off of the rescaling only
        z = z.to(x.dtype)
    return Projection(z, res.duals, res.iterations, res.converged, res.cost, res.marginal)


def project(
    x,
    w,
    eps,
    cost,
    lam=DEFAULTS.lam,
    max_iter=DEFAULTS.sinkhorn_iters,
    tol_dual=DEFAULTS.tol,
    tol_marginal=DEFAULTS.tol,
    duals=None,
    capacity=None,
) -> Projection:
    """Approximately project w onto the eps-Wasserstein ball around x (Wong et al. 2019, sec. 4).

    Solves the entropy-regularized projection (eq. 6) through its dual (Lemma 1, eq. 7-8) with
    the projected Sinkhorn iteration (Algorithm 2: eq. 9 for alpha, eq. 10 for beta via a stable
    log Wright-omega, eq. 11-12 Newton steps for psi), on k x k local plans (sec. 4.3).

    x: (B, C, H, W), non-negative with positive mass per example; w: same shape, any finite
    values; both are divided by the total mass of x over all channels, and z is scaled back, so
    eps (float or (B,) tensor, > 0) is a cost per unit mass. cost: the k x k local cost
    (`wasserstein_cost`). lam: entropy weight (larger = closer to the exact projection).
    tol_dual, tol_marginal: the stopping rule of `sinkhorn.py`. duals: warm start (`Duals`, e.g.
    the previous `Projection.duals`).

    Unlike the paper's z = w - beta/lam (eq. 13), the returned z is built from a plan with row
    marginals exactly x, pulled toward x if needed, so it always has mass(z) = mass(x), z >= 0
    and local transport cost <= eps, even before convergence (details in `sinkhorn.py`).
    Computes in float64 for float64 x, else float32; z has x's dtype and device.

    capacity: None (no ceiling), or the pixel ceiling in input units, a float or a tensor
    broadcastable to x (1.0 for [0, 1] images): the capacity constraint of Hu et al. 2020,
    z <= capacity, enforced in the Sinkhorn iteration (a capped beta step) and exactly on the
    output (the final plan is rounded by `feasible.make_feasible`). A clean pixel above the
    capacity may keep its own mass (its ceiling is max(capacity, x)). Slower: the final plan
    is materialized, (B, C, k*k, H, W) in float64.

    Examples
    --------
    >>> import torch
    >>> from wsattack import exact_cost, wasserstein_cost
    >>> x = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    >>> w = x + 0.3 * torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    >>> z = project(x, w, 0.1, wasserstein_cost(3)).z
    >>> bool((exact_cost(x, z, wasserstein_cost(3)).cost <= 0.1 * (1 + 1e-3)).all())
    True
    """
    return _run(
        x,
        w,
        eps,
        cost,
        QuadraticObjective,
        "w",
        lam,
        max_iter,
        tol_dual,
        tol_marginal,
        duals,
        capacity,
    )


def project_linear(
    x,
    g,
    eps,
    cost,
    lam=DEFAULTS.lam,
    max_iter=DEFAULTS.sinkhorn_iters,
    tol_dual=DEFAULTS.tol,
    tol_marginal=DEFAULTS.tol,
    duals=None,
    capacity=None,
) -> Projection:
    """Maximize g^T z over the entropic eps-Wasserstein ball around x (eq. 14, appendix D).

    Primal: max g^T z - (1/lam) sum Pi log Pi s.t. Pi 1 = x, Pi^T 1 = z, <Pi, C> <= eps, on
    mass-normalized x (g is divided by the mass of x like w in `project`, so lam * g / mass(x)
    is the log-weight the plan puts on each destination: scale g or lam to taste). The optimal
    plan is Pi_ij = exp(alpha_i + lam g_j - psi C_ij - 1); alpha and psi are found by the eq. 9
    and eq. 11-12 steps of Algorithm 2. Same arguments, stopping rule and feasibility guarantee
    as `project`; z is the steepest-ascent point for a Wasserstein-geometry attack step. With
    capacity, beta is iterated too: beta_j = min(lam g_j, log u_j - log s_j).

    Examples
    --------
    Mass moves toward where g is large, within the ball:

    >>> import torch
    >>> from wsattack import wasserstein_cost
    >>> x = torch.zeros(1, 1, 5, 5); x[0, 0, 2, 2] = 1.0
    >>> g = torch.zeros(1, 1, 5, 5); g[0, 0, 2, 3] = 1.0
    >>> z = project_linear(x, g, 0.5, wasserstein_cost(3), lam=50.0).z
    >>> round(float(z[0, 0, 2, 3]), 2), round(float(z.sum()), 4)
    (0.5, 1.0)
    """
    return _run(
        x,
        g,
        eps,
        cost,
        LinearObjective,
        "g",
        lam,
        max_iter,
        tol_dual,
        tol_marginal,
        duals,
        capacity,
    )
