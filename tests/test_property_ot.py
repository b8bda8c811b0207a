"""Property-based tests (hypothesis) of the OT kernel: `project`, `project_linear`, and the plan
kernels `project_plan`, `linear_oracle`, `make_feasible`.

Inputs over the whole contract: 1 to 3 channels, non-square images 3 to 32 pixels a side, total
masses 1e-8 to 1e3, 0 to 99 % zero pixels, eps 1e-6 to 10, lam 1e2 to 1e5, float32 and float64.
Properties: finite, non-negative output; mass kept to 1e-5 relative; exact transport cost
within the radius (1 + 1e-3); a batch equals its examples one at a time; and a `ValueError`
for inputs outside the contract. Derandomized, with modest example counts, so that CI is
fast and a failure replays; examples that once failed are pinned below as regression tests.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis_profile import property_settings

from wsattack.ot import exact_cost, linear_oracle, project, project_linear, project_plan
from wsattack.ot import wasserstein_cost as ground_cost
from wsattack.ot.feasible import make_feasible
from wsattack.ot.plans import column_sums, identity_plan, neighbours, plan_cost, valid_offsets

PROPERTY = property_settings(20)
MASS_RTOL = 1e-5
COST_RTOL = 1e-3


@st.composite
def problems(draw, max_side: int = 32):
    """(x, eps, cost, dtype, seed): images with the masses, sparsity and shapes of the contract."""
    batch = draw(st.integers(1, 2))
    channels = draw(st.integers(1, 3))
    height, width = draw(st.integers(3, max_side)), draw(st.integers(3, max_side))
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    seed = draw(st.integers(0, 2**31 - 1))
    zeros = draw(st.floats(0.0, 0.99))
    mass = 10 ** draw(st.floats(-8, 3))
    eps = 10 ** draw(st.floats(-6, 1))
    k = draw(st.sampled_from([3, 5]))
    p = draw(st.sampled_from([1.0, 2.0]))
    x = _image((batch, channels, height, width), seed, zeros, mass, dtype)
    return x, eps, ground_cost(k, p=p), dtype, seed


def _image(shape, seed: int, zeros: float, mass: float, dtype) -> torch.Tensor:
    """Random pixels, a `zeros` fraction of them 0, scaled to total `mass` per example."""
    rng = np.random.default_rng(seed)
    x = rng.random(shape) * (rng.random((shape[0], 1, 1, 1)) + 0.1)
    x[rng.random(x.shape) < zeros] = 0.0
    for b in range(shape[0]):  # every example keeps some mass
        x[b, rng.integers(shape[1]), rng.integers(shape[2]), rng.integers(shape[3])] += 0.5
    x *= mass / x.sum(axis=(1, 2, 3), keepdims=True)
    return torch.tensor(x, dtype=dtype)


def _check_image(x, z, eps, cost) -> None:
    """Finite, non-negative, mass kept, exact transport cost within eps."""
    assert z.dtype == x.dtype and z.shape == x.shape
    assert torch.isfinite(z).all() and (z >= 0).all()
    mx, mz = x.double().sum(dim=(1, 2, 3)), z.double().sum(dim=(1, 2, 3))
    assert torch.allclose(mz, mx, rtol=MASS_RTOL, atol=0), (mx, mz)
    # Exact cost of the image per unit mass; partial: float32 masses differ in the last bits.
    exact = exact_cost(x, z, cost, partial=True).cost
    assert (exact <= eps * (1 + COST_RTOL) + _floor(x.dtype, cost)).all(), (exact, eps)


def _floor(dtype, cost) -> float:
    """The round-off floor of a cost per unit mass measured on images of `dtype`: one ulp of the
    mass moved the farthest distance (about 1e-7 in float32, where eps=1e-6 is 8 ulps)."""
    return torch.finfo(dtype).eps * float(cost.max())


def _target(x, seed: int, scale: float = 1.0):
    """A point to project (or a gradient): x plus noise of the size of its pixels."""
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn(x.shape, generator=gen, dtype=torch.float64).to(x.dtype)
    return x + scale * noise * x.amax(dim=(1, 2, 3), keepdim=True)


@PROPERTY
@given(problems(), st.floats(2, 5), st.sampled_from(["project", "project_linear"]))
def test_sinkhorn_projections_stay_in_the_ball(problem, log_lam, which):
    x, eps, cost, _, seed = problem
    solver = project if which == "project" else project_linear
    z = solver(x, _target(x, seed), eps, cost, lam=10**log_lam, max_iter=30).z
    _check_image(x, z, eps, cost)


@PROPERTY
@given(problems(max_side=12), st.sampled_from(["project", "project_linear"]))
def test_sinkhorn_batch_equals_examples_one_at_a_time(problem, which):
    x, eps, cost, _, seed = problem
    solver = project if which == "project" else project_linear
    w = _target(x, seed)
    whole = solver(x, w, eps, cost, max_iter=30).z
    alone = torch.cat(
        [solver(x[b : b + 1], w[b : b + 1], eps, cost, max_iter=30).z for b in range(len(x))]
    )
    _assert_same_per_example(whole, alone, x)


def _assert_same_per_example(whole, alone, x) -> None:
    """Equal up to the round-off of the dtype, relative to each example's largest pixel."""
    tol = (1e-4 if x.dtype == torch.float32 else 1e-9) * x.amax(dim=(1, 2, 3), keepdim=True)
    assert ((whole - alone).abs() <= tol).all(), (whole - alone).abs().max()


@PROPERTY
@given(problems(max_side=16), st.booleans())
def test_linear_oracle_stays_in_the_ball(problem, capped):
    x, eps, cost, _, seed = problem
    capacity = float(x.amax()) * 1.5 if capped else None
    res = linear_oracle(x, _target(x, seed) - x, eps, cost, gamma=0.01, capacity=capacity)
    _check_image(x, res.image, eps, cost)
    assert (res.transport_cost <= eps * (1 + COST_RTOL) + _floor(x.dtype, cost)).all()
    if capped:
        assert (res.image <= torch.clamp(x, min=capacity) * (1 + 1e-6)).all()


def _random_plan(x, cost, seed: int):
    """A plan-shaped point near the identity plan of x, as after a gradient step (zero on the
    offsets that leave the image, as `make_feasible` requires)."""
    k = cost.shape[0]
    gen = torch.Generator().manual_seed(seed)
    noise = torch.rand(neighbours(x, k).shape, generator=gen, dtype=torch.float64).to(x.dtype)
    noise = noise * valid_offsets(x.shape[2], x.shape[3], k)
    scale = x.amax(dim=(1, 2, 3)).view(-1, 1, 1, 1, 1)
    return identity_plan(x, k) + 0.3 * scale * noise


def _check_plan(plan, x, eps, cost, capacity=None) -> None:
    """Non-negative, finite, rows x, cost within eps per unit mass, columns within capacity."""
    k = cost.shape[0]
    assert torch.isfinite(plan).all() and (plan >= 0).all()
    assert (plan[:, :, ~valid_offsets(x.shape[2], x.shape[3], k)] == 0).all()
    mass = x.double().sum(dim=(1, 2, 3))
    rows = plan.double().sum(dim=2)
    assert torch.allclose(rows, x.double(), rtol=MASS_RTOL, atol=MASS_RTOL * float(mass.max()))
    assert (plan_cost(plan.double(), cost) <= eps * mass * (1 + COST_RTOL) + 1e-300).all()
    if capacity is not None:
        ceiling = torch.clamp(x.double(), min=capacity)
        assert (column_sums(plan.double()) <= ceiling * (1 + 1e-6)).all()


@PROPERTY
@given(problems(max_side=16), st.booleans())
def test_project_plan_is_feasible(problem, capped):
    x, eps, cost, _, seed = problem
    capacity = float(x.amax()) * 1.2 if capped else None
    plan = project_plan(_random_plan(x, cost, seed), x, eps, cost, capacity=capacity)
    assert plan.dtype == x.dtype
    _check_plan(plan, x, eps, cost, capacity)


@PROPERTY
@given(problems(max_side=12))
def test_project_plan_batch_equals_examples_one_at_a_time(problem):
    x, eps, cost, _, seed = problem
    plan = _random_plan(x, cost, seed)
    whole = project_plan(plan, x, eps, cost)
    alone = torch.cat(
        [project_plan(plan[b : b + 1], x[b : b + 1], eps, cost) for b in range(len(x))]
    )
    tol = (1e-4 if x.dtype == torch.float32 else 1e-9) * x.amax().item()
    assert ((whole - alone).abs() <= tol).all()


@PROPERTY
@given(problems(max_side=16), st.booleans())
def test_make_feasible_is_feasible(problem, capped):
    x, eps, cost, _, seed = problem
    capacity = torch.tensor(float(x.amax()) * 1.2) if capped else None
    mass = x.double().sum(dim=(1, 2, 3))
    plan = make_feasible(_random_plan(x, cost, seed), x, eps * mass, cost, capacity)
    assert plan.dtype == x.dtype
    _check_plan(plan, x, eps, cost, None if capacity is None else float(capacity))


@PROPERTY
@given(problems(max_side=12), st.booleans())
def test_plan_kernels_batch_equals_examples_one_at_a_time(problem, capped):
    """linear_oracle and make_feasible treat each example of a batch on its own."""
    x, eps, cost, _, seed = problem
    capacity = float(x.amax()) * 1.2 if capped else None
    g = _target(x, seed) - x
    whole = linear_oracle(x, g, eps, cost, capacity=capacity).image
    alone = torch.cat(
        [
            linear_oracle(x[b : b + 1], g[b : b + 1], eps, cost, capacity=capacity).image
            for b in range(len(x))
        ]
    )
    _assert_same_per_example(whole, alone, x)
    plan, budget = _random_plan(x, cost, seed), eps * x.double().sum(dim=(1, 2, 3))
    cap = None if capacity is None else torch.tensor(capacity)
    whole = make_feasible(plan, x, budget, cost, cap)
    alone = torch.cat(
        [
            make_feasible(plan[b : b + 1], x[b : b + 1], budget[b : b + 1], cost, cap)
            for b in range(len(x))
        ]
    )
    _assert_same_per_example(whole.sum(dim=2), alone.sum(dim=2), x)


BAD_INPUTS = {
    "negative pixel": lambda x: (x - x.amax(), 0.1),
    "nan pixel": lambda x: (x.masked_fill(x == x.amax(), float("nan")), 0.1),
    "inf pixel": lambda x: (x.masked_fill(x == x.amax(), float("inf")), 0.1),
    "zero mass": lambda x: (torch.zeros_like(x), 0.1),
    "zero eps": lambda x: (x, 0.0),
    "negative eps": lambda x: (x, -1.0),
    "nan eps": lambda x: (x, float("nan")),
    "eps of the wrong shape": lambda x: (x, torch.full((len(x) + 1,), 0.1)),
    "3-d x": lambda x: (x[0], 0.1),
}


@PROPERTY
@given(problems(max_side=8), st.sampled_from(sorted(BAD_INPUTS)))
def test_inputs_outside_the_contract_are_a_value_error(problem, bad):
    x, _, cost, _, seed = problem
    x_bad, eps = BAD_INPUTS[bad](x)
    w = _target(x, seed)[..., : x_bad.shape[-1]] if x_bad.dim() == 4 else x_bad
    with pytest.raises(ValueError):
        project(x_bad, w if w.shape == x_bad.shape else x_bad, eps, cost)
    with pytest.raises(ValueError):
        linear_oracle(x_bad, x_bad.clone(), eps, cost)
    if x_bad.dim() == 4:
        with pytest.raises(ValueError):
            project_plan(neighbours(x_bad, cost.shape[0]), x_bad, eps, cost)


def test_wrong_types_are_a_type_error():
    x, cost = torch.rand(1, 1, 5, 5), ground_cost(3)
    with pytest.raises(TypeError):
        project(x.numpy(), x, 0.1, cost)
    with pytest.raises(TypeError):
        project(x, [1.0], 0.1, cost)


# Examples hypothesis found (with WSATTACK_HYPOTHESIS_EXAMPLES=300), kept as plain tests.


def test_float32_round_off_is_not_an_infeasible_transport():
    """A float32 projection whose image holds ~1.4e-7 of its mass beyond the local window's
    reach, by round-off: exact_cost called it infeasible (inf) before its dust threshold
    allowed the inputs' own ulps."""
    x = _image((1, 1, 4, 4), seed=0, zeros=0.43, mass=1.0, dtype=torch.float32)
    cost = ground_cost(3, p=1.0)
    z = project(x, _target(x, 0), 1.0, cost, lam=100, max_iter=30).z
    _check_image(x, z, 1.0, cost)


def test_float32_oracle_at_tiny_eps_is_within_round_off():
    """linear_oracle at eps=1e-5 in float32: the image's exact cost exceeds eps by 7e-9 per
    unit mass, the float32 round-off of the image, not a budget violation."""
    x = _image((1, 1, 3, 5), seed=2, zeros=0.0, mass=10.0, dtype=torch.float32)
    cost = ground_cost(3, p=1.0)
    res = linear_oracle(x, _target(x, 2) - x, 1e-5, cost, gamma=0.01)
    _check_image(x, res.image, 1e-5, cost)


def test_float32_projection_with_large_duals_stays_local():
    """project_linear in float32 at lam=1e4: duals near 4000 made the float32 plan's rows miss x
    by 2e-4, and z needed 4.5e-5 of its mass from outside the window (exact cost inf), until
    `sinkhorn` redid the last row step and the column sums in float64."""
    x = _image((1, 1, 3, 3), seed=0, zeros=0.3, mass=1.0, dtype=torch.float32)
    cost = ground_cost(3, p=1.0)
    z = project_linear(x, _target(x, 0), 1.0, cost, lam=1e4, max_iter=30).z
    _check_image(x, z, 1.0, cost)


def test_oracle_example_in_a_batch_stops_when_it_would_alone():
    """Two 3x3 examples in float32: the batch iterated the first until the second met the
    budget, moving its image by 7.5e-5 from what a call on it alone gives, until converged
    examples froze."""
    x = _image((2, 1, 3, 3), seed=0, zeros=0.0, mass=1.0, dtype=torch.float32)
    cost, g = ground_cost(3, p=1.0), _target(x, 0) - x
    whole = linear_oracle(x, g, 0.1, cost).image
    alone = torch.cat([linear_oracle(x[b : b + 1], g[b : b + 1], 0.1, cost).image for b in (0, 1)])
    _assert_same_per_example(whole, alone, x)
