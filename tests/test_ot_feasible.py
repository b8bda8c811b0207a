"""`make_feasible`: any non-negative local plan comes back exactly feasible (rows x, columns at
most max(capacity, x), cost at most eps, no negatives), and a feasible plan comes back unchanged.
"""

from __future__ import annotations

import pytest
import torch

from wsattack.ot import wasserstein_cost
from wsattack.ot.feasible import make_feasible
from wsattack.ot.plans import column_sums, identity_plan, plan_cost, valid_offsets

K = 3
CENTRE = K * K // 2
COSTS = {"p1": wasserstein_cost(K, p=1), "p2": wasserstein_cost(K, p=2)}


def _images(seed, b=3, c=2, h=6, w=7, saturated=0.25):
    """[0, 1] float64 images with zero pixels and pixels exactly at the ceiling 1.0."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(b, c, h, w, generator=g, dtype=torch.float64)
    x = x * (torch.rand(b, c, h, w, generator=g, dtype=torch.float64) < 0.7)
    x[torch.rand(b, c, h, w, generator=g, dtype=torch.float64) < saturated] = 1.0
    x[:, :, 0, 0] = 1.0  # positive mass in every channel
    return x, g


def _wild_plan(x, g, scale=5.0):
    """Non-negative, zero on invalid offsets, rows far from x (random scale, some rows empty,
    some rows sending mass where x has none), columns far above 1, cost far above any eps."""
    b, c, h, w = x.shape
    valid = valid_offsets(h, w, K)
    plan = torch.rand(b, c, K * K, h, w, generator=g, dtype=torch.float64) ** 3
    plan = plan * scale * torch.rand(b, c, 1, h, w, generator=g, dtype=torch.float64)
    plan = plan * (torch.rand(b, c, 1, h, w, generator=g, dtype=torch.float64) > 0.15)
    return plan * valid


def _assert_feasible(out, x, eps, cost, ceiling):
    assert out.dtype == torch.float64 and torch.isfinite(out).all()
    assert (out >= 0).all(), out.min()
    valid = valid_offsets(x.shape[2], x.shape[3], K)
    assert (out[:, :, ~valid] == 0).all(), "mass on an offset that leaves the image"
    assert torch.allclose(out.sum(dim=2), x, rtol=0, atol=1e-12), (out.sum(2) - x).abs().max()
    if ceiling is not None:
        ceiling = torch.maximum(ceiling.expand_as(x), x)
        over = (column_sums(out) - ceiling) / ceiling
        assert over.max() <= 1e-9, over.max()
    spent = plan_cost(out, cost)
    assert (spent <= eps * (1 + 1e-12)).all(), (spent / eps).max()


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("cost_name", ["p1", "p2"])
@pytest.mark.parametrize("capacity", [None, 1.0, 0.6, "per-pixel"])
@pytest.mark.parametrize("eps", [1e-6, 0.05, 1.0, 30.0])
def test_wild_plans_come_back_exactly_feasible(seed, cost_name, capacity, eps):
    cost = COSTS[cost_name]
    x, g = _images(seed)
    plan = _wild_plan(x, g)
    if capacity == "per-pixel":
        ceiling = 0.3 + torch.rand(x.shape, generator=g, dtype=torch.float64)
    elif capacity is not None:
        ceiling = torch.tensor(capacity, dtype=torch.float64)  # 0.6: many pixels of x above it
    else:
        ceiling = None
    mass = x.sum(dim=(1, 2, 3))
    eps_total = eps * mass
    # The premise: far from feasible on every count (eps = 30: the budget does not bind).
    assert (plan.sum(2) - x).abs().max() > 1.0
    if eps <= 1.0:
        assert (plan_cost(plan, cost) > 5 * eps_total).all()
    if ceiling is not None:
        assert column_sums(plan).max() > 3 * float(ceiling.max())
    out = make_feasible(plan, x, eps_total, cost, ceiling)
    _assert_feasible(out, x, eps_total, cost, ceiling)


@pytest.mark.parametrize("cost_name", ["p1", "p2"])
def test_zero_plan_gives_the_identity(cost_name):
    x, _ = _images(7)
    plan = torch.zeros(*x.shape[:2], K * K, *x.shape[2:], dtype=torch.float64)
    eps = 0.1 * x.sum(dim=(1, 2, 3))
    out = make_feasible(plan, x, eps, COSTS[cost_name], torch.tensor(1.0, dtype=torch.float64))
    assert torch.equal(out, identity_plan(x, K))


def _feasible_plan(seed, move=0.1):
    """A feasible plan: x <= 0.5 and each pixel moves a fraction `move` of its mass, so no
    column exceeds 0.5 + 8 * 0.05 = 0.9 < 1."""
    x, g = _images(seed, saturated=0.0)
    x = 0.5 * x
    h, w = x.shape[2:]
    valid = valid_offsets(h, w, K)
    logits = torch.randn(*x.shape[:2], K * K, h, w, generator=g, dtype=torch.float64)
    spread = torch.softmax(logits.masked_fill(~valid, float("-inf")), dim=2)
    plan = (1 - move) * identity_plan(x, K) + move * x.unsqueeze(2) * spread
    return plan, x


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("cost_name", ["p1", "p2"])
@pytest.mark.parametrize("capacity", [None, 1.0])
@pytest.mark.parametrize("slack", [1.0, 1.5])
def test_feasible_plan_comes_back_unchanged(seed, cost_name, capacity, slack):
    cost = COSTS[cost_name]
    plan, x = _feasible_plan(seed)
    eps = plan_cost(plan, cost) * slack  # slack 1: the budget exactly met
    ceiling = None if capacity is None else torch.tensor(capacity, dtype=torch.float64)
    assert column_sums(plan).max() < 1.0
    out = make_feasible(plan.clone(), x, eps, cost, ceiling)
    assert torch.allclose(out, plan, rtol=0, atol=1e-12), (out - plan).abs().max()


def test_feasible_plan_with_pixels_above_capacity_comes_back_unchanged():
    """A pixel of x above the capacity may keep its own mass (ceiling = max(capacity, x))."""
    plan, x = _feasible_plan(11, move=0.0)
    eps = torch.full((len(x),), 0.01, dtype=torch.float64)
    out = make_feasible(plan.clone(), x, eps, COSTS["p1"], torch.tensor(0.2, dtype=torch.float64))
    assert torch.allclose(out, plan, rtol=0, atol=1e-12)


def test_over_budget_only_is_mixed_with_the_identity():
    """Rows exact and no capacity: only the budget move applies, P -> t P + (1 - t) identity."""
    plan, x = _feasible_plan(3, move=0.4)
    cost = COSTS["p1"]
    eps = 0.25 * plan_cost(plan, cost)
    out = make_feasible(plan.clone(), x, eps, cost)
    expected = 0.25 * plan + 0.75 * identity_plan(x, K)
    assert torch.allclose(out, expected, rtol=0, atol=1e-12)
    assert torch.allclose(plan_cost(out, cost), eps, rtol=1e-12, atol=0)


def _moderately_over_capacity(seed, move=0.3):
    """Rows exactly x, a fraction `move` of every pixel's mass spread over its neighbours:
    columns up to some 10-60% above the ceiling 1.0, also at saturated pixels (x = 1)."""
    x, g = _images(seed, b=2, c=1, h=6, w=6, saturated=0.3)
    valid = valid_offsets(6, 6, K)
    logits = 3 * torch.randn(2, 1, K * K, 6, 6, generator=g, dtype=torch.float64)
    spread = torch.softmax(logits.masked_fill(~valid, float("-inf")), dim=2)
    plan = (1 - move) * identity_plan(x, K) + move * x.unsqueeze(2) * spread
    return plan, x


def test_plan_moderately_over_capacity_keeps_most_of_its_transport():
    """A plan whose columns exceed the ceiling by some 10-60% is repaired by sending the excess
    back to where it came from, which keeps most of the transport (65% or more on these plans),
    so the repaired plan must still move at least half the mass the input plan moved."""
    cost = COSTS["p1"]
    ceiling = torch.tensor(1.0, dtype=torch.float64)
    worst = (1.0, None)
    for move in (0.3, 0.6):
        for seed in range(100):
            plan, x = _moderately_over_capacity(seed, move)
            eps = 10 * plan_cost(plan, cost)  # the budget never binds
            out = make_feasible(plan, x, eps, cost, ceiling)
            _assert_feasible(out, x, eps, cost, ceiling)
            moved_in = (plan.sum(2) - plan[:, :, CENTRE]).flatten(1).sum(1)
            moved_out = (out.sum(2) - out[:, :, CENTRE]).flatten(1).sum(1)
            kept = (moved_out / moved_in).min().item()
            worst = min(worst, (kept, (move, seed)), key=lambda w: w[0])
    assert worst[0] >= 0.5, worst
