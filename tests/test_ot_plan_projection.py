"""wsattack.ot.project_plan: the exact Euclidean projection of a local plan (Wu et al. 2020)."""

import numpy as np
import pytest
import scipy.optimize
import torch

from wsattack.errors import ConfigError
from wsattack.ot import exact_cost, project_plan, wasserstein_cost
from wsattack.ot.plans import column_sums, identity_plan, plan_cost, valid_offsets


def _tiny(dtype=torch.float64, seed=1):
    """2 examples of 5 x 5 pixels, about 40% of them empty, and a noisy plan for k = 3."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(2, 1, 5, 5, generator=g, dtype=torch.float64)
    x = x * (torch.rand(2, 1, 5, 5, generator=g, dtype=torch.float64) < 0.6)
    x[:, :, 2, 2] += 0.5
    plan = 0.3 * torch.randn(2, 1, 9, 5, 5, generator=g, dtype=torch.float64)
    plan[:, :, 4] += x
    return x.to(dtype), plan.to(dtype), wasserstein_cost(3, 1)


def _images(n=3, size=12, k=5, noise=0.05, dtype=torch.float64, seed=0):
    """Sparse blob images (zero pixels, some above 1) and the identity plan plus noise."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(float(size)), torch.arange(float(size)), indexing="ij")
    centres = torch.rand(n, 2, generator=g) * (size - 4) + 2
    d2 = (yy - centres[:, 0, None, None]) ** 2 + (xx - centres[:, 1, None, None]) ** 2
    x = (1.3 * torch.exp(-d2 / 6.0)).clamp(max=1.2)
    x = torch.where(x < 0.1, torch.zeros_like(x), x)[:, None].to(torch.float64)
    plan = identity_plan(x, k) + noise * torch.randn(n, 1, k * k, size, size, generator=g).double()
    return x.to(dtype), plan.to(dtype)


def _qp_projection(plan, x, eps, cost, capacity=None):
    """Independent solve: min ||P - P0||^2 / 2 over the valid entries of the pixels with mass,
    rows = x, <C, P> <= eps * mass, P >= 0 (and columns <= max(capacity, x)), by SLSQP."""
    B, C, K, H, W = plan.shape
    k = cost.shape[0]
    r = k // 2
    valid = valid_offsets(H, W, k).numpy()
    c = cost.numpy().reshape(-1)
    out = np.zeros(plan.shape)
    for b in range(B):
        xb, p0b = x[b].numpy(), plan[b].numpy()
        ents = [
            (ch, d, i, j)
            for ch in range(C)
            for i in range(H)
            for j in range(W)
            if xb[ch, i, j] > 0
            for d in range(K)
            if valid[d, i, j]
        ]
        p0 = np.array([p0b[e] for e in ents])
        cv = np.array([c[e[1]] for e in ents])
        rows, cols = {}, {}
        for n, (ch, d, i, j) in enumerate(ents):
            rows.setdefault((ch, i, j), []).append(n)
            cols.setdefault((ch, i + d // k - r, j + d % k - r), []).append(n)
        A = np.zeros((len(rows), len(ents)))
        for q, members in enumerate(rows.values()):
            A[q, members] = 1
        a = np.array([xb[key] for key in rows])
        Cm = np.zeros((len(cols), len(ents)))
        for q, members in enumerate(cols.values()):
            Cm[q, members] = 1
        u = None if capacity is None else np.array([max(capacity, xb[key]) for key in cols])
        start = np.array([xb[ch, i, j] if d == K // 2 else 0.0 for ch, d, i, j in ents])
        res = _slsqp(p0, start, A, a, cv, eps * xb.sum(), Cm, u)
        for n, e in enumerate(ents):
            out[(b,) + e] = res.x[n]
    return torch.from_numpy(out)


def _slsqp(p0, start, A, a, cv, budget, Cm, u):
    """min ||p - p0||^2 / 2 s.t. A p = a, cv . p <= budget, p >= 0, Cm p <= u (if u given)."""
    cons = [
        {"type": "eq", "fun": lambda p: A @ p - a, "jac": lambda p: A},
        {"type": "ineq", "fun": lambda p: np.array([budget - cv @ p]), "jac": lambda p: -cv[None]},
    ]
    if u is not None:
        cons.append({"type": "ineq", "fun": lambda p: u - Cm @ p, "jac": lambda p: -Cm})
    res = scipy.optimize.minimize(
        lambda p: 0.5 * np.sum((p - p0) ** 2),
        start,
        jac=lambda p: p - p0,
        bounds=[(0, None)] * len(p0),
        constraints=cons,
        method="SLSQP",
        options={"ftol": 1e-14, "maxiter": 1000},
    )
    assert res.success or "directional" in res.message, res.message
    return res


def _per_unit_cost(P, x, cost):
    return (plan_cost(P.double(), cost) / x.double().sum(dim=(1, 2, 3))).numpy()


def _assert_feasible(P, x, eps, cost, capacity=None, rtol=1e-12):
    """Non-negative, rows = x, zero off the image and on empty pixels, cost <= eps (plan and
    exact transport cost of the image), columns <= max(capacity, x)."""
    P64, x64 = P.double(), x.double()
    k = cost.shape[0]
    assert torch.isfinite(P64).all() and (P64 >= 0).all()
    scale = x64.amax()
    assert (P64.sum(dim=2) - x64).abs().max() <= rtol * scale
    assert (P64 * (~valid_offsets(x.shape[2], x.shape[3], k)).double()).abs().max() == 0
    assert P64.sum(dim=2)[x64 == 0].abs().max() == 0
    assert np.all(_per_unit_cost(P, x, cost) <= eps * (1 + rtol))
    z = column_sums(P64)
    # POT's network simplex, on masses that agree to the round-off of P's dtype.
    atol = 0 if P.dtype == torch.float64 else 1e-8
    assert np.all(exact_cost(x64, z, cost).cost <= eps * (1 + 1e-5) + atol)
    if capacity is not None:
        ceiling = torch.clamp(x64, min=capacity)
        assert (z - ceiling).max() <= rtol * ceiling.amax()


@pytest.mark.parametrize("eps", [0.05, 0.3])
def test_matches_qp_without_capacity(eps):
    x, plan, cost = _tiny()
    out = project_plan(plan, x, eps, cost)
    ref = _qp_projection(plan, x, eps, cost)
    assert (out - ref).abs().max() < 1e-5
    assert np.all(_per_unit_cost(out, x, cost) >= eps * (1 - 1e-6))  # the budget is active here
    _assert_feasible(out, x, eps, cost)


@pytest.mark.parametrize("eps,capacity", [(0.05, 0.4), (0.3, 0.6)])
def test_matches_qp_with_capacity(eps, capacity):
    x, plan, cost = _tiny()
    out = project_plan(plan, x, eps, cost, capacity=capacity)
    _assert_feasible(out, x, eps, cost, capacity)
    ref = _qp_projection(plan, x, eps, cost, capacity)
    d_out = (out - plan).flatten(1).norm(dim=1)
    d_ref = (ref - plan).flatten(1).norm(dim=1)
    # Dual ascent to tol = 1e-7: within 1e-5 of the distance moved (about 1e-7 measured).
    assert torch.all((out - ref).flatten(1).norm(dim=1) <= 1e-5 * d_ref)
    assert torch.all(d_out <= d_ref * (1 + 1e-6))
    # The ceiling binds: without it the projection goes above it.
    free = column_sums(project_plan(plan, x, eps, cost))
    assert (free - torch.clamp(x, min=capacity)).max() > 1e-3


def test_capacity_that_does_not_bind_changes_nothing():
    x, plan, cost = _tiny()
    free = project_plan(plan, x, 0.05, cost)
    capped = project_plan(plan, x, 0.05, cost, capacity=10.0)
    assert (capped - free).abs().max() < 1e-12


def test_points_inside_the_ball_are_unchanged():
    x, plan = _images()
    cost = wasserstein_cost(5, 1)
    inside = project_plan(plan, x, 0.05, cost)  # feasible, cost 0.05 per unit mass
    for eps in (0.05, 0.2):
        again = project_plan(inside, x, eps, cost)
        assert (again - inside).abs().max() <= 1e-12
    assert (project_plan(inside, x, 0.2, cost, capacity=5.0) - inside).abs().max() <= 1e-12


@pytest.mark.parametrize("capacity", [None, 1.0])
def test_outside_point_lands_on_the_boundary(capacity):
    x, plan = _images(noise=0.1)
    cost = wasserstein_cost(5, 1)
    eps = torch.tensor([0.02, 0.05, 0.1], dtype=torch.float64)
    out = project_plan(plan, x, eps, cost, capacity=capacity)
    assert out.shape == plan.shape and out.dtype == torch.float64
    c = _per_unit_cost(out, x, cost)
    assert np.all(c >= eps.numpy() * (1 - 1e-6)) and np.all(c <= eps.numpy())
    _assert_feasible(out, x, eps.numpy(), cost, capacity)
    if capacity is not None:
        free = column_sums(project_plan(plan, x, eps, cost))
        assert (free - torch.clamp(x, min=capacity)).max() > 1e-3  # the ceiling binds


@pytest.mark.parametrize("capacity", [None, 1.0])
def test_float32(capacity):
    x, plan = _images(dtype=torch.float32, noise=0.1)
    cost = wasserstein_cost(5, 2)
    out = project_plan(plan, x, 0.05, cost, capacity=capacity)
    assert out.dtype == torch.float32
    c = _per_unit_cost(out, x, cost)
    assert np.all(c <= 0.05) and np.all(c >= 0.05 * (1 - 1e-4))
    _assert_feasible(out, x, 0.05, cost, capacity, rtol=1e-6)
    ref = project_plan(plan.double(), x.double(), 0.05, cost, capacity=capacity)
    assert (out.double() - ref).abs().max() < 1e-4


def test_scaling_x_and_plan_scales_the_projection():
    x, plan = _images()
    cost = wasserstein_cost(5, 1)
    out = project_plan(plan, x, 0.05, cost)
    scaled = project_plan(7.0 * plan, 7.0 * x, 0.05, cost)
    assert (scaled - 7.0 * out).abs().max() < 1e-9


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_extreme_inputs_stay_finite_and_feasible(dtype):
    x, plan = _images(dtype=dtype)
    cost = wasserstein_cost(5, 1)
    g = torch.Generator().manual_seed(3)
    noise = torch.randn(plan.shape, generator=g).to(dtype)
    cases = [  # (plan, mass, capacity, max_iter)
        (1e6 * noise, 1.0, None, 200),  # entries up to 1e6
        (1e6 * noise, 1.0, 1.0, 20),  # float32 cannot reach tol here: bounded rounds
        (1e-20 * (plan + noise), 1e-20, None, 200),  # tiny masses
        (1e-20 * (plan + noise), 1e-20, 1e-20, 200),
        # Entries 1e26 times the pixels: round-off swamps the masses, only feasibility is left
        # (and the time: every round of dual ascent bisects mu to round-off, so few rounds).
        (1e6 * noise, 1e-20, None, 200),
        (1e6 * noise, 1e-20, 1e-20, 3),
    ]
    for P0, mass, capacity, max_iter in cases:
        for eps in (1e-6, 10.0):
            out = project_plan(P0, x * mass, eps, cost, capacity=capacity, max_iter=max_iter)
            _assert_feasible(out, x * mass, eps, cost, capacity, rtol=1e-5)


def test_bad_inputs():
    x, plan, cost = _tiny()
    with pytest.raises(ConfigError, match="plan must have shape"):
        project_plan(plan[:, :, :4], x, 0.1, cost)
    with pytest.raises(ConfigError, match="plan must have shape"):
        project_plan(plan, x, 0.1, wasserstein_cost(5, 1))
    with pytest.raises(ConfigError, match="x must have shape"):
        project_plan(plan, x[0], 0.1, cost)
    with pytest.raises(ConfigError, match="non-negative"):
        project_plan(plan, -x, 0.1, cost)
    zero = x.clone()
    zero[1] = 0
    with pytest.raises(ConfigError, match="positive total mass"):
        project_plan(plan, zero, 0.1, cost)
    nan = plan.clone()
    nan[0, 0, 0, 0, 0] = float("nan")
    with pytest.raises(ConfigError, match="NaN"):
        project_plan(nan, x, 0.1, cost)
    nan_x = x.clone()
    nan_x[0, 0, 0, 0] = float("nan")
    with pytest.raises(ConfigError, match="NaN"):
        project_plan(plan, nan_x, 0.1, cost)
    for eps in (0.0, -1.0, float("nan"), [0.1, 0.2, 0.3]):
        with pytest.raises(ConfigError, match="eps"):
            project_plan(plan, x, eps, cost)
    with pytest.raises(ConfigError, match="capacity"):
        project_plan(plan, x, 0.1, cost, capacity=-1.0)
    with pytest.raises(ConfigError, match="capacity"):
        project_plan(plan, x, 0.1, cost, capacity=torch.ones(3, 5))
    with pytest.raises(ConfigError, match="cost"):
        project_plan(plan, x, 0.1, torch.ones(3, 3))
    with pytest.raises(ConfigError, match="max_iter"):
        project_plan(plan, x, 0.1, cost, max_iter=0)
    with pytest.raises(ConfigError, match="tol"):
        project_plan(plan, x, 0.1, cost, tol=0.0)
    with pytest.raises(ConfigError, match="torch tensors"):
        project_plan(plan.numpy(), x, 0.1, cost)


def test_warm_prices_give_the_same_projection_in_fewer_rounds():
    """The prices a projection returns warm-start the next one: the same answer, and on the
    same input far fewer rounds of dual ascent suffice (max_iter also bounds the search for the
    budget's multiplier, which takes 5 to 10 evaluations, hence 10)."""
    x, plan = _images(noise=0.1)
    cost = wasserstein_cost(5, 1)
    prices = torch.zeros_like(x)
    cold = project_plan(plan, x, 0.05, cost, capacity=1.0, prices=prices)
    assert (prices > 0).any()  # the ceiling binds, so some price is positive
    warm = project_plan(plan, x, 0.05, cost, capacity=1.0, prices=prices, max_iter=10)
    assert (warm - cold).abs().max() <= 1e-6 * cold.abs().max()
    unwarmed = project_plan(plan, x, 0.05, cost, capacity=1.0, max_iter=10)
    assert (unwarmed - cold).abs().max() > 1e-3  # cold, 10 rounds are not enough
    with pytest.raises(ConfigError, match="prices"):
        project_plan(plan, x, 0.05, cost, capacity=1.0, prices=torch.zeros(1, 1, 2, 2))
