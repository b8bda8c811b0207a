"""wsattack.ot building blocks: local costs, the log Wright omega, neighbourhood sums."""

import numpy as np
import pytest
import scipy.special
import torch

from wsattack.ot import exact_cost, wasserstein_cost
from wsattack.ot.local import LocalCost
from wsattack.ot.omega import log_wright_omega


def test_cost_values():
    c = wasserstein_cost(5, p=2)
    assert c.dtype == torch.float64 and c.shape == (5, 5)
    assert c[2, 2] == 0 and c[2, 3] == 1 and c[3, 3] == 2 and c[0, 0] == 8
    assert wasserstein_cost(3, p=1)[0, 0] == pytest.approx(2**0.5)
    assert wasserstein_cost(5, p=1, metric="l1")[0, 1] == 3


@pytest.mark.parametrize("bad", [0, 4, 6, -3, 2.0, True])
def test_cost_rejects_even_or_odd_types(bad):
    with pytest.raises(ValueError, match="kernel_size"):
        wasserstein_cost(bad)


def test_cost_rejects_bad_metric_and_p():
    with pytest.raises(ValueError, match="metric"):
        wasserstein_cost(3, metric="chebyshev")
    with pytest.raises(ValueError, match="p must"):
        wasserstein_cost(3, p=0)


@pytest.mark.parametrize("metric", ["euclidean", "l1"])
@pytest.mark.parametrize("p", [1, 2, 3])
@pytest.mark.parametrize("local", [True, False])
def test_one_cell_move_costs_one(metric, p, local):
    x = torch.zeros(2, 1, 5, 6, dtype=torch.float64)
    y = torch.zeros_like(x)
    x[0, 0, 2, 2] = 1.0
    y[0, 0, 2, 3] = 1.0  # horizontal neighbour
    x[1, 0, 1, 4] = 3.0
    y[1, 0, 2, 4] = 3.0  # vertical neighbour, other mass
    cost = wasserstein_cost(5, p=p, metric=metric)
    res = exact_cost(x, y, cost, local=local)
    np.testing.assert_allclose(res.cost, [1.0, 1.0], rtol=1e-12)


def test_log_wright_omega_matches_scipy():
    t = np.concatenate([-np.logspace(3, -6, 400), [0.0], np.logspace(-6, 20, 600)])
    ref = np.where(
        t < -30,
        t - np.exp(np.minimum(t, 0)),
        np.log(scipy.special.wrightomega(np.maximum(t, -30)).real),
    )
    got = log_wright_omega(torch.tensor(t)).numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-13, atol=1e-13)
    got32 = log_wright_omega(torch.tensor(t, dtype=torch.float32)).double().numpy()
    np.testing.assert_allclose(got32, ref, rtol=1e-6, atol=1e-6)


def test_log_wright_omega_extremes_are_finite():
    t = torch.tensor([float("-inf"), -1e30, -100.0, 1e30, 3e38], dtype=torch.float32)
    u = log_wright_omega(t)
    assert u[0] == float("-inf") and not torch.isnan(u).any()
    assert torch.isfinite(u[1:]).all()


@pytest.mark.parametrize("k,p,metric", [(3, 2, "euclidean"), (5, 1, "l1"), (7, 2, "euclidean")])
def test_separable_sums_match_unfolded(k, p, metric):
    g = torch.Generator().manual_seed(0)
    v = torch.randn(3, 2, 7, 9, dtype=torch.float64, generator=g) * 4
    v[0, 0, :3] = float("-inf")
    v[1] = float("-inf")  # an empty example: all sums -inf, means 0, never NaN
    psi = torch.tensor([0.0, 0.7, 3.0], dtype=torch.float64)
    fast = LocalCost(wasserstein_cost(k, p, metric), torch.float64, torch.device("cpu"))
    slow = LocalCost(wasserstein_cost(k, p, metric), torch.float64, torch.device("cpu"))
    assert fast.separable
    slow.separable = False
    for a, b in zip(fast.backward(v, psi), slow.backward(v, psi), strict=True):
        assert not torch.isnan(a).any()
        assert torch.equal(torch.isinf(a), torch.isinf(b))
        fin = torch.isfinite(b)
        torch.testing.assert_close(a[fin], b[fin], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(fast.forward(v, psi), slow.forward(v, psi), rtol=1e-12, atol=0)


def test_non_separable_cost_is_detected():
    local = LocalCost(wasserstein_cost(5, p=1), torch.float32, torch.device("cpu"))
    assert not local.separable
