"""The capacity constraint of Hu et al. 2020 in `project` / `project_linear`, and in the attack.

With capacity the output must be exactly feasible: rows x, 0 <= z <= ceiling (in input units),
mass(z) = mass(x), exact (POT) transport cost <= eps.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import train_tiny_classifier
from local_lp import image_projection

from wsattack.attacks import WassersteinPGD
from wsattack.attacks.verify import verify
from wsattack.data import synthetic_images
from wsattack.ot import exact_cost, project, project_linear, wasserstein_cost

COST = wasserstein_cost(5, p=1)


def _images(b=4, c=1, h=10, w=10, saturated=0.0, seed=0, dtype=torch.float64):
    """Sparse [0, 1] images, a fraction `saturated` of their pixels exactly 1.0 (as in MNIST
    digits), and a target pushing mass up by up to 0.5 per pixel."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(b, c, h, w, generator=g, dtype=dtype)
    x = x * (torch.rand(b, c, h, w, generator=g, dtype=dtype) < 0.4)
    x[torch.rand(b, c, h, w, generator=g, dtype=dtype) < saturated] = 1.0
    x[:, :, h // 2, w // 2] = 1.0  # positive mass in every channel
    target = x + 0.5 * torch.randn(b, c, h, w, generator=g, dtype=dtype)
    return x, target


def _assert_exactly_feasible(x, res, eps, ceiling):
    z = res.z
    assert z.dtype == x.dtype and torch.isfinite(z).all() and (z >= 0).all()
    assert (z <= ceiling).all(), (z - ceiling).max()
    mx, mz = x.double().sum(dim=(1, 2, 3)), z.double().sum(dim=(1, 2, 3))
    assert ((mz - mx).abs() <= 1e-6 * mx).all(), ((mz - mx).abs() / mx).max()
    exact = exact_cost(x, z, COST)  # balanced: the masses agree
    assert np.all(exact.cost <= eps * (1 + 1e-5)), (exact.cost, eps)
    assert (res.transport_cost <= eps * (1 + 1e-5)).all()


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("saturated", [0.0, 0.4])
@pytest.mark.parametrize("eps", [0.05, 0.5])
def test_projection_is_exactly_feasible_under_the_ceiling(dtype, saturated, eps):
    x, w = _images(c=2, saturated=saturated, dtype=dtype)
    res = project(x, w, eps, COST, capacity=1.0)
    _assert_exactly_feasible(x, res, eps, 1.0)
    # The ceiling binds: without it the projection puts pixels above 1.
    assert project(x, w, eps, COST).z.max() > 1.05


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("saturated", [0.0, 0.4])
@pytest.mark.parametrize("eps", [0.05, 0.5])
def test_linear_objective_is_exactly_feasible_under_the_ceiling(dtype, saturated, eps):
    x, _ = _images(c=2, saturated=saturated, seed=1, dtype=dtype)
    g = torch.randn(x.shape, generator=torch.Generator().manual_seed(2), dtype=dtype)
    res = project_linear(x, g, eps, COST, capacity=1.0)
    _assert_exactly_feasible(x, res, eps, 1.0)
    assert (((res.z - x) * g).sum(dim=(1, 2, 3)) > 0).all()  # still an ascent step
    assert project_linear(x, g, eps, COST).z.max() > 1.05


def test_capped_linear_maximizer_gains_less_than_the_free_one():
    x, _ = _images(c=2, seed=1)
    g = torch.randn(x.shape, generator=torch.Generator().manual_seed(2), dtype=x.dtype)
    kw = dict(max_iter=2000)  # the default tolerances
    capped = project_linear(x, g, 0.5, COST, capacity=1.0, **kw)
    free = project_linear(x, g, 0.5, COST, **kw)
    assert capped.converged.all() and free.converged.all()
    gain, free_gain = (((r.z - x) * g).sum(dim=(1, 2, 3)) for r in (capped, free))
    assert (gain > 0).all() and (gain < free_gain).all()


def test_ceiling_is_in_input_units_and_may_be_a_tensor():
    x, w = _images(c=2, saturated=0.3)
    cap = torch.tensor([1.0, 0.8], dtype=x.dtype).view(1, 2, 1, 1)
    res = project(x, w, 0.3, COST, capacity=cap)
    # A clean pixel above its channel's ceiling keeps (at most) its own mass.
    _assert_exactly_feasible(x, res, 0.3, torch.maximum(cap, x))
    # Images in [0, 255] with ceiling 255 give the same projection, scaled.
    scaled = project(255 * x, 255 * w, 0.3, COST, capacity=255.0)
    torch.testing.assert_close(scaled.z / 255, project(x, w, 0.3, COST, capacity=1.0).z)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_a_far_ceiling_changes_nothing(dtype):
    x, w = _images(c=2, dtype=dtype)
    x = x * 0.5  # no clean pixel near the ceiling
    g = torch.randn(x.shape, generator=torch.Generator().manual_seed(5), dtype=dtype)
    atol = 1e-12 if dtype == torch.float64 else 2e-5
    for solver, target in ((project, w), (project_linear, g)):
        for eps in (0.05, 1.0):
            free = solver(x, target, eps, COST)
            capped = solver(x, target, eps, COST, capacity=100.0)
            torch.testing.assert_close(capped.z, free.z, rtol=0, atol=atol)
            assert torch.equal(capped.iterations, free.iterations)


def test_approaches_exact_capped_projection_as_lam_grows():
    g = torch.Generator().manual_seed(3)
    x = torch.zeros(1, 1, 6, 6, dtype=torch.float64)
    x[0, 0, 1:5, 2:4] = torch.rand(4, 2, generator=g, dtype=torch.float64) + 0.5
    x = x / x.sum()
    w = x + 0.08 * torch.sign(torch.randn(x.shape, generator=g, dtype=torch.float64))
    cost, eps = wasserstein_cost(3, p=2), 0.4
    ceiling = 1.05 * x.max().item()
    args = (x[0, 0].numpy(), w[0, 0].numpy(), eps, cost.numpy())
    z_star = image_projection(*args, ceiling)
    z_free = image_projection(*args, 10.0)
    assert np.abs(z_star - z_free).sum() > 0.05  # the ceiling matters
    errors = []
    for lam in (10.0, 100.0, 1000.0):
        res = project(
            x, w, eps, cost, lam=lam, max_iter=5000, tol_dual=1e-12, tol_marginal=1e-9,
            capacity=ceiling,
        )  # fmt: skip
        assert res.converged.all() and res.z.max() <= ceiling
        errors.append(np.abs(res.z[0, 0].numpy() - z_star).sum())
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.01 * np.abs(w[0, 0].numpy() - z_star).sum()


@pytest.mark.parametrize("capacity", [0.0, -1.0, float("nan"), torch.ones(3)])
def test_bad_capacity_is_a_clear_error(capacity):
    x, w = _images(c=2)
    with pytest.raises(ValueError, match="capacity"):
        project(x, w, 0.1, COST, capacity=capacity)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    model = train_tiny_classifier(tmp_path_factory.mktemp("train"), 16, epochs=5)
    test = synthetic_images(48, height=16, width=16, seed=1)
    correct = model(test.images).argmax(1) == test.labels
    return model, test.select(correct.nonzero().squeeze(1)[:12])


def test_capacity_attack_keeps_images_in_range_and_mass(trained):
    model, data = trained
    kwargs = dict(eps0=0.05, growth=1.3, every=3, max_iter=40, p=2, capacity=True)
    attack = WassersteinPGD(model, **kwargs)
    assert attack.ball.capacity and not attack.clamp  # nothing to clamp: no mass is lost
    result = attack(data.images, data.labels)
    assert result.success.float().mean() > 0.5
    assert result.adv.min() >= 0 and result.adv.max() <= 1
    check = verify(attack.ball, data.images, result)
    assert (check.mass_change.abs() <= 1e-6).all()
    assert (check.verified == 1).all()
    fooled = result.success & (result.eps_found > 0)
    assert (check.exact_cost[fooled] <= result.eps_found[fooled] * (1 + 1e-5)).all()
    # clamp=True is overridden by the capacity, and the paper's default stays without it.
    assert not WassersteinPGD(model, capacity=True, clamp=True).clamp
    assert WassersteinPGD(model).clamp and not WassersteinPGD(model).ball.capacity
