"""wsattack.ot.exact_cost: local vs full costs, mass checks, partial transport."""

import numpy as np
import pytest
import torch

from wsattack.ot import exact_cost, wasserstein_cost


def _pair():
    x = torch.zeros(1, 2, 6, 7, dtype=torch.float64)
    x[0, 0, 1, 1] = 2.0
    x[0, 1, 4, 5] = 1.0
    y = torch.zeros_like(x)
    y[0, 0, 1, 2] = 1.0  # half of channel 0 moves one cell (cost 1 per unit)
    y[0, 0, 3, 1] = 1.0  # the other half two cells (cost 4 per unit under p=2)
    y[0, 1, 4, 5] = 1.0
    return x, y


def test_cost_is_per_unit_mass_of_x():
    x, y = _pair()
    res = exact_cost(x, y, wasserstein_cost(5, p=2))
    np.testing.assert_allclose(res.cost, [(1.0 * 1 + 1.0 * 4) / 3.0])
    np.testing.assert_allclose(res.mass_x, [3.0])
    np.testing.assert_allclose(res.mass_y, [3.0])


def test_local_window_is_enforced():
    x, y = _pair()
    assert np.isinf(exact_cost(x, y, wasserstein_cost(3)).cost[0])  # a 2-cell move needs k >= 5
    full = exact_cost(x, y, wasserstein_cost(3, p=2), local=False, p=2, metric="euclidean")
    np.testing.assert_allclose(full.cost, [5.0 / 3.0])


def test_full_cost_infers_ground_metric():
    x, y = _pair()
    res = exact_cost(x, y, wasserstein_cost(5, p=1, metric="l1"), local=False)
    np.testing.assert_allclose(res.cost, [(1.0 + 2.0) / 3.0])
    with pytest.raises(ValueError, match="p and metric"):
        exact_cost(x, y, wasserstein_cost(3, p=2), local=False)


def test_mass_mismatch_is_reported():
    x, y = _pair()
    y[0, 0, 3, 1] = 0.5
    with pytest.raises(ValueError, match="mass of x 3 and of y 2.5"):
        exact_cost(x, y, wasserstein_cost(5, p=2))
    # mass moved between channels is also a mismatch
    z = x.clone()
    z[0, 1, 4, 5] = 0.0
    z[0, 0, 1, 1] = 3.0
    with pytest.raises(ValueError, match="per channel"):
        exact_cost(x, z, wasserstein_cost(5, p=2))


def test_partial_transports_the_smaller_mass():
    x, y = _pair()
    y[0, 0, 3, 1] = 0.0  # clamping removed the far half: it is simply not transported
    res = exact_cost(x, y, wasserstein_cost(5, p=2), partial=True)
    np.testing.assert_allclose(res.cost, [1.0 / 3.0], atol=1e-12)


def test_bad_inputs():
    x, y = _pair()
    with pytest.raises(ValueError, match="shape"):
        exact_cost(x, y[:, :1], wasserstein_cost(5, p=2))
    with pytest.raises(ValueError, match="non-negative"):
        exact_cost(-x, y, wasserstein_cost(5, p=2))
    with pytest.raises(ValueError, match="odd"):
        exact_cost(x, y, torch.zeros(2, 2))


@pytest.mark.parametrize("workers", [1, 3, None])
def test_threads_solve_each_example_in_its_place(workers):
    """Examples and channels solved on several threads keep their order: each example's cost is
    the one it has alone (the examples move 0 to 3 quarters of channel 0's mass one cell)."""
    x, y = _pair()
    xs, ys = x.repeat(4, 1, 1, 1), y.repeat(4, 1, 1, 1)
    ys[:, 0] = 0.0
    for b in range(4):
        ys[b, 0, 1, 1] = 2.0 - 0.5 * b
        ys[b, 0, 1, 2] = 0.5 * b
    res = exact_cost(xs, ys, wasserstein_cost(5, p=2), workers=workers)
    np.testing.assert_allclose(res.cost, [0.5 * b / 3.0 for b in range(4)], atol=1e-12)
    alone = [
        exact_cost(xs[b : b + 1], ys[b : b + 1], wasserstein_cost(5, p=2)).cost[0] for b in range(4)
    ]
    np.testing.assert_array_equal(res.cost, alone)
