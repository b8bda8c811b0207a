"""The entropic linear oracle (`wsattack.ot.linear_oracle`) against the exact LP.

The LP: maximize <g, colsums(P)> over local plans P >= 0 (k = 3, valid offsets only) with rows
x, cost <C, P> <= eps * mass(x) and, optionally, columns <= max(capacity, x); solved by HiGHS.
The oracle's image z is the column sums of a feasible plan, so its gain <g, z - x> can never
exceed the LP's, and it must approach it as gamma -> 0. Its output must be exactly feasible
whatever the inputs, the number of iterations included.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize
import scipy.sparse as sp
import torch
from local_lp import local_variables

from wsattack.errors import ConfigError
from wsattack.ot import OracleState, exact_cost, linear_oracle, wasserstein_cost

K = 3
COST = wasserstein_cost(K, p=1)


def _images(seed, b=2, c=1, h=6, w=6, dtype=torch.float64):
    """[0, 1] images with zero pixels and pixels exactly at the ceiling 1.0; a random gradient."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(b, c, h, w, generator=g, dtype=torch.float64)
    x = x * (torch.rand(b, c, h, w, generator=g, dtype=torch.float64) < 0.6)
    x[torch.rand(b, c, h, w, generator=g, dtype=torch.float64) < 0.2] = 1.0
    x[:, :, h // 2, w // 2] = 1.0
    grad = torch.randn(b, c, h, w, generator=g, dtype=torch.float64)
    return x.to(dtype), grad.to(dtype)


def lp_gain(x, g, eps, cost=COST, capacity=None) -> float:
    """max <g, colsums(P) - x> over feasible local plans of one example (x, g: (C, H, W))."""
    x, g = np.asarray(x, dtype=float), np.asarray(g, dtype=float)
    rows, cols, cvec, dst = local_variables(x.shape, cost)
    A_ub, b_ub = [sp.csr_matrix(cvec[None, :])], [np.array([eps * x.sum()])]
    if capacity is not None:
        A_ub.append(cols)
        b_ub.append(np.maximum(capacity, x.flatten()))
    res = scipy.optimize.linprog(
        -g.flatten()[dst],
        A_ub=sp.vstack(A_ub),
        b_ub=np.concatenate(b_ub),
        A_eq=rows,
        b_eq=x.flatten(),
        bounds=(0, None),
        method="highs",
    )
    assert res.status == 0, res.message
    return -res.fun - float(g.flatten() @ x.flatten())


def _gain(res, x, g):
    return ((res.image.double() - x.double()) * g.double()).flatten(1).sum(1)


def _gaps(x, g, eps, capacity, runs):
    """Relative LP gaps (lp - gain) / lp per example for each (gamma, max_iter) in runs."""
    lp = torch.tensor([lp_gain(x[b], g[b], eps, capacity=capacity) for b in range(len(x))])
    assert (lp > 0).all()
    gaps = []
    for gamma, max_iter in runs:
        res = linear_oracle(x, g, eps, COST, gamma=gamma, capacity=capacity, max_iter=max_iter)
        gain = _gain(res, x, g)
        # Feasible, so never above the LP optimum (HiGHS' own tolerance aside).
        assert (gain <= lp * (1 + 1e-7) + 1e-9).all(), (gain, lp)
        gaps.append((lp - gain) / lp)
    return gaps


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("eps", [0.05, 0.3, 2.0])
def test_gain_approaches_the_lp_optimum_without_capacity(seed, eps):
    x, g = _images(seed)
    coarse, fine = _gaps(x, g, eps, None, [(0.1, 30), (1e-3, 300)])
    assert (coarse > 0.005).any()  # gamma = 0.1 is visibly entropic...
    assert (fine <= 0.01).all(), fine  # ...gamma = 1e-3 within 1% of the LP
    assert (fine <= 0.25 * coarse + 1e-6).all(), (fine, coarse)


@pytest.mark.parametrize("seed", range(2))
def test_gain_with_a_capacity_that_never_binds_matches_no_capacity(seed):
    x, g = _images(seed)
    (fine,) = _gaps(x, g, 0.3, 50.0, [(1e-3, 300)])
    assert (fine <= 0.01).all(), fine


@pytest.mark.parametrize("seed", range(3))
def test_gain_never_exceeds_the_lp_optimum_with_capacity(seed):
    x, g = _images(seed)
    for eps in (0.05, 0.3, 2.0):
        _gaps(x, g, eps, 1.0, [(0.1, 30), (0.01, 100), (1e-3, 30)])  # asserts gain <= LP


@pytest.mark.xfail(
    strict=False,
    reason="with a binding capacity the oracle's gain is far below the LP optimum and not "
    "monotone in gamma or max_iter: e.g. seed 2, eps 2.0, gamma 1e-3, 3000 iterations: the "
    "solver's plan gains 1.02 / 1.07 x the LP with 3% / 6% column excess, _send_back_excess "
    "brings it to 0.97 / 0.95 x the LP, but make_feasible's _close_overfull_columns (returning "
    "all inflows of pixels still over by > 1e-9 after 30 rounds) leaves 0.57 / 0.22 x the LP",
)
def test_gain_approaches_the_lp_optimum_with_capacity():
    worst = {}
    for seed in range(3):
        x, g = _images(seed)
        for eps in (0.05, 0.3, 2.0):
            coarse, fine = _gaps(x, g, eps, 1.0, [(0.1, 30), (1e-3, 1000)])
            worst[(seed, eps)] = (round(float(fine.max()), 4), round(float(coarse.max()), 4))
    # e.g. seed 2, eps 2.0: gaps 0.42 (gamma 0.1), 0.50 (gamma 1e-3, 1000 iterations).
    assert all(f <= 0.03 for f, _ in worst.values()), worst
    assert all(f <= 0.25 * c + 1e-6 for f, c in worst.values()), worst


# --- exact feasibility -------------------------------------------------------------------------


def _assert_exactly_feasible(x, z, res, eps, capacity):
    eps_t = torch.as_tensor(eps, dtype=torch.float64).expand(len(x))
    assert z.dtype == x.dtype and z.shape == x.shape and torch.isfinite(z).all()
    assert (z >= 0).all(), z.min()
    mx, mz = x.double().sum(dim=(1, 2, 3)), z.double().sum(dim=(1, 2, 3))
    assert ((mz - mx).abs() <= 1e-6 * mx).all(), ((mz - mx).abs() / mx).max()
    if capacity is not None:
        ceiling = torch.clamp(x, min=capacity)
        assert (z <= ceiling).all(), (z - ceiling).max()
    tc = res.transport_cost.double().cpu()
    assert tc.shape == (len(x),) and (tc >= 0).all()
    # float32 inputs: the budget was once eps rounded to float32 (see the float32 test below).
    budget = torch.maximum(eps_t, eps_t.to(x.dtype).double())
    assert (tc <= budget * (1 + 1e-9)).all(), (tc / eps_t).max()
    exact = torch.as_tensor(exact_cost(x, z, COST).cost)  # balanced: the masses agree
    # float32: z is the float64 result rounded to float32, whose per-pixel round-off (~6e-8 of a
    # pixel) costs ~1.4e-8 per unit mass to undo (measured: 1.44% of eps = 1e-6, 1.5e-5 of eps =
    # 1e-3); float64 has no such floor.
    atol = 1e-7 if x.dtype == torch.float32 else 1e-12
    assert (exact <= eps_t * (1 + 1e-5) + atol).all(), (exact, eps_t)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("capacity", [None, 1.0])
@pytest.mark.parametrize("eps", [1e-6, 1e-3, 0.1, 1.0, 10.0])
@pytest.mark.parametrize("g_scale", [1.0, 1e6])
def test_output_is_exactly_feasible(dtype, capacity, eps, g_scale):
    x, g = _images(3, b=2, c=2, h=5, w=6, dtype=dtype)
    res = linear_oracle(x, g * g_scale, eps, COST, gamma=0.01, capacity=capacity)
    _assert_exactly_feasible(x, res.image, res, eps, capacity)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("capacity", [None, 1.0])
@pytest.mark.parametrize(
    "case", ["zero_gradient", "tiny_mass", "max_iter_1", "tiny_gamma", "per_example_eps"]
)
def test_output_is_exactly_feasible_in_edge_cases(dtype, capacity, case):
    x, g = _images(4, dtype=dtype)
    eps, kwargs, cap = 0.5, dict(gamma=0.01), capacity
    if case == "zero_gradient":
        g = torch.zeros_like(g)
    elif case == "tiny_mass":
        x = x * 1e-6
        cap = None if capacity is None else 1e-6  # the same ceiling relative to the pixels
    elif case == "max_iter_1":
        kwargs["max_iter"] = 1
    elif case == "tiny_gamma":
        kwargs.update(gamma=1e-6, max_iter=50)
    else:
        eps = torch.tensor([1e-4, 3.0], dtype=torch.float64)
    res = linear_oracle(x, g, eps, COST, capacity=cap, **kwargs)
    _assert_exactly_feasible(x, res.image, res, eps, cap)
    if case == "zero_gradient":
        # Nothing to gain: the image may move, but it must stay feasible and gain nothing.
        assert torch.equal(_gain(res, x, g), torch.zeros(len(x), dtype=torch.float64))


def test_transport_cost_within_the_requested_eps_for_float32_inputs():
    x, g = _images(3, b=2, c=2, h=5, w=6, dtype=torch.float32)
    res = linear_oracle(x, g, 1e-3, COST, gamma=0.01)
    assert (res.transport_cost.double() <= 1e-3 * (1 + 1e-9)).all(), res.transport_cost / 1e-3


@pytest.mark.parametrize("max_iter", [1, 2, 5])
@pytest.mark.parametrize("capacity", [None, 1.0])
def test_feasible_for_any_number_of_iterations_with_huge_gradients(max_iter, capacity):
    x, g = _images(5)
    for g_scale in (1e-12, 1e6):
        res = linear_oracle(
            x, g * g_scale, 0.2, COST, gamma=1e-3, capacity=capacity, max_iter=max_iter
        )
        _assert_exactly_feasible(x, res.image, res, 0.2, capacity)


def test_pixels_of_x_above_the_capacity_keep_their_mass():
    """A clean pixel above the ceiling may keep its own mass (ceiling max(capacity, x))."""
    x, g = _images(6)
    x = x * 1.7  # saturated pixels at 1.7 > capacity 1.0
    res = linear_oracle(x, g, 0.3, COST, gamma=0.01, capacity=1.0)
    _assert_exactly_feasible(x, res.image, res, 0.3, 1.0)


def test_gradient_scale_does_not_matter():
    x, g = _images(7)
    a = linear_oracle(x, g, 0.3, COST, gamma=0.01)
    b = linear_oracle(x, g * 1e5, 0.3, COST, gamma=0.01)
    assert torch.allclose(a.image, b.image, rtol=1e-9, atol=1e-12)


# --- bad inputs ----------------------------------------------------------------------------------


def _bad(case):
    x, g = _images(8)
    kwargs = dict(eps=0.1, gamma=0.01, capacity=None)
    if case == "negative_x":
        x[0, 0, 1, 1] = -1e-3
    elif case == "zero_mass":
        x[1] = 0.0
    elif case == "nan_g":
        g[0, 0, 2, 2] = float("nan")
    elif case == "inf_g":
        g[0, 0, 2, 2] = float("inf")
    elif case == "nan_x":
        x[0, 0, 2, 2] = float("nan")
    elif case == "eps_zero":
        kwargs["eps"] = 0.0
    elif case == "eps_negative":
        kwargs["eps"] = -0.1
    elif case == "eps_nan":
        kwargs["eps"] = float("nan")
    elif case == "eps_one_zero":
        kwargs["eps"] = torch.tensor([0.1, 0.0])
    elif case == "eps_wrong_shape":
        kwargs["eps"] = torch.tensor([0.1, 0.1, 0.1])
    elif case == "gamma_zero":
        kwargs["gamma"] = 0.0
    elif case == "gamma_negative":
        kwargs["gamma"] = -0.01
    elif case == "gamma_nan":
        kwargs["gamma"] = float("nan")
    elif case == "capacity_zero":
        kwargs["capacity"] = 0.0
    elif case == "capacity_negative":
        kwargs["capacity"] = -1.0
    elif case == "shape_mismatch":
        g = g[:, :, :, :-1]
    elif case == "not_4d":
        x, g = x[0], g[0]
    return x, g, kwargs


@pytest.mark.parametrize(
    "case",
    [
        "negative_x",
        "zero_mass",
        "nan_g",
        "inf_g",
        "nan_x",
        "eps_zero",
        "eps_negative",
        "eps_nan",
        "eps_one_zero",
        "eps_wrong_shape",
        "gamma_zero",
        "gamma_negative",
        "gamma_nan",
        "capacity_zero",
        "capacity_negative",
        "shape_mismatch",
        "not_4d",
    ],
)
def test_bad_inputs_raise_config_error(case):
    x, g, kwargs = _bad(case)
    with pytest.raises(ConfigError):
        linear_oracle(x, g, cost=COST, **kwargs)
    assert issubclass(ConfigError, ValueError)


# --- warm start ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "capacity, eps",
    [
        (None, 0.05),
        (None, 0.5),
        (1.0, 0.05),
        (1.0, 0.5),
    ],
)
def test_warm_start_keeps_the_gain_with_few_iterations(capacity, eps):
    x, g = _images(9)
    first = linear_oracle(x, g, eps, COST, gamma=0.01, capacity=capacity, max_iter=300)
    assert isinstance(first.state, OracleState)
    assert first.state.mu.shape == (len(x),) and first.state.log_price.shape == x.shape
    warm = linear_oracle(
        x, g, eps, COST, gamma=0.01, capacity=capacity, max_iter=2, state=first.state
    )
    _assert_exactly_feasible(x, warm.image, warm, eps, capacity)
    g0, gw = _gain(first, x, g), _gain(warm, x, g)
    assert (gw >= g0 - 1e-6 * g0.abs() - 1e-12).all(), (gw, g0)
    # Rows of a state select examples (what Frank-Wolfe does as examples drop out).
    one = linear_oracle(
        x[1:], g[1:], eps, COST, gamma=0.01, capacity=capacity, max_iter=2, state=first.state[1:]
    )
    assert torch.allclose(_gain(one, x[1:], g[1:]), gw[1:], rtol=1e-9, atol=1e-12)
