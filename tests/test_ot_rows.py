"""`PlanRows` (plans compacted to the pixels with mass) against the full-plan operations of
`wsattack.ot.plans`, which compute the same things by fold and unfold."""

from __future__ import annotations

import pytest
import torch

from wsattack.ot.plans import column_sums, neighbours, valid_offsets
from wsattack.ot.rows import PlanRows


def _sparse_images(shape, seed):
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(shape, generator=gen, dtype=torch.float64)
    return x * (torch.rand(shape, generator=gen) < 0.3)  # most pixels without mass


def _plan_on(x, k, seed):
    """A random plan that uses only valid offsets and only the pixels with mass."""
    gen = torch.Generator().manual_seed(seed)
    B, C, H, W = x.shape
    plan = torch.rand(B, C, k * k, H, W, generator=gen, dtype=torch.float64)
    return plan * valid_offsets(H, W, k) * (x > 0).unsqueeze(2)


@pytest.mark.parametrize("shape,k", [((3, 1, 7, 6), 3), ((2, 3, 8, 9), 5), ((1, 2, 4, 4), 7)])
def test_rows_agree_with_the_full_plan(shape, k):
    x = _sparse_images(shape, seed=k)
    rows = PlanRows(x, k)
    plan = _plan_on(x, k, seed=k + 1)
    P = rows.gather(plan)
    assert P.shape == (int((x > 0).sum()), k * k)
    assert torch.equal(rows.scatter(P), plan)  # nothing lives outside the rows
    assert torch.allclose(rows.image(P), column_sums(plan), rtol=0, atol=1e-12)
    v = torch.randn(shape, dtype=torch.float64)
    assert torch.equal(rows.at_destinations(v), rows.gather(neighbours(v, k)))
    totals = rows.per_example(P.sum(dim=1))
    assert torch.allclose(totals, plan.sum(dim=(1, 2, 3, 4)), rtol=1e-12)


def test_rows_are_grouped_by_example_and_invalid_offsets_land_on_the_dummy():
    x = _sparse_images((4, 2, 6, 5), seed=0)
    rows = PlanRows(x, 3)
    assert bool((rows.ex[1:] >= rows.ex[:-1]).all())
    assert bool((rows.dest[~rows.valid] == rows.N).all())
    assert bool((rows.dest[rows.valid] < rows.N).all())
    # What invalid offsets hold is collected apart, on the dummy entry.
    P = torch.ones(len(rows.idx), 9, dtype=torch.float64)
    assert float(rows.columns(P)[-1]) == float((~rows.valid).sum())
