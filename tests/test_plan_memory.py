"""`PlanMemory`: the plan a PGD attempt starts from, given the image the radius search starts it
from. It must make that image (so that the search's start is what the attack runs from), cost
no more than the fraction of the remembered plan's cost the search assumes, and fall back to
the identity plan for any image it does not hold the plan of."""

from __future__ import annotations

import torch

from wsattack.attacks.plan_memory import PlanMemory
from wsattack.ot import project_plan, wasserstein_cost
from wsattack.ot.plans import column_sums, identity_plan, plan_cost

K = 3
COST = wasserstein_cost(K, p=1)


def _images(n=4, side=6, seed=0):
    """Images in [0, 1] with saturated pixels."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, side, side, generator=g, dtype=torch.float64)
    x[torch.rand(n, 1, side, side, generator=g) < 0.2] = 1.0
    return x


def _plan(x, seed=0):
    """A feasible plan of radius 0.3 (capacity 1) moving some of x."""
    g = torch.Generator().manual_seed(seed)
    noise = torch.rand(*x.shape[:2], K * K, *x.shape[2:], generator=g, dtype=torch.float64)
    eps = torch.full((len(x),), 0.3, dtype=torch.float64)
    return project_plan(identity_plan(x, K) + 0.3 * noise, x, eps, COST, capacity=1.0)


def test_a_start_on_a_remembered_segment_gets_the_mixed_plan():
    x = _images()
    plan = _plan(x)
    rows = torch.arange(len(x))
    memory = PlanMemory(x, K)
    prices = torch.rand(x.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(9))
    memory.keep(rows, torch.ones(len(x), dtype=torch.bool), plan, prices)
    t = torch.tensor([0.25, 0.5, 0.8, 1.0], dtype=torch.float64).view(-1, 1, 1, 1)
    start = x + t * (column_sums(plan) - x)
    began, began_prices = memory.start(rows, x, start)
    assert torch.equal(began_prices, prices)  # the projection's warm start comes along
    torch.testing.assert_close(column_sums(began), start, rtol=0, atol=1e-12)
    torch.testing.assert_close(began.sum(dim=2), x, rtol=0, atol=1e-12)  # rows: the image x
    assert (began >= 0).all()
    assert (plan_cost(began, COST) <= t.flatten() * plan_cost(plan, COST) + 1e-12).all()
    assert (column_sums(began) <= 1 + 1e-9).all()


def test_failures_are_remembered_apart_from_successes():
    """Growing the radius starts from the last failed iterate, bisecting from the success."""
    x = _images(seed=1)
    plan, other = _plan(x, seed=1), _plan(x, seed=2)
    rows = torch.arange(len(x))
    won = torch.tensor([True, False, True, False])
    memory = PlanMemory(x, K)
    zero = torch.zeros_like(x)
    memory.keep(rows, won, torch.where(won.view(-1, 1, 1, 1, 1), plan, other),
                torch.where(won.view(-1, 1, 1, 1), zero + 1, zero + 2))  # fmt: skip
    upward = torch.where(won.view(-1, 1, 1, 1), column_sums(plan), column_sums(other))
    began, prices = memory.start(rows, x, upward)
    expected = torch.where(won.view(-1, 1, 1, 1, 1), plan, other)
    torch.testing.assert_close(began, expected, rtol=0, atol=1e-12)
    assert torch.equal(prices, torch.where(won.view(-1, 1, 1, 1), zero + 1, zero + 2))


def test_an_unknown_start_begins_from_the_identity():
    x = _images(seed=3)
    plan = _plan(x, seed=3)
    rows = torch.arange(len(x))
    memory = PlanMemory(x, K)
    identity = identity_plan(x, K)
    assert torch.equal(memory.start(rows, x, x)[0], identity)  # nothing remembered, no move
    memory.keep(rows, torch.ones(len(x), dtype=torch.bool), plan, x + 1)
    began, prices = memory.start(rows, x, x)
    assert torch.equal(began, identity) and not prices.any()  # the clean image itself
    elsewhere = (x + 0.05 * torch.rand(x.shape, generator=torch.Generator().manual_seed(4))).clamp(
        0, 1
    )
    assert torch.equal(memory.start(rows, x, elsewhere)[0], identity)  # off every segment
    sub = torch.tensor([2, 0])
    half = x[sub] + 0.5 * (column_sums(plan[sub]) - x[sub])
    torch.testing.assert_close(column_sums(memory.start(sub, x[sub], half)[0]), half)  # by row
