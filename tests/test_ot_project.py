"""wsattack.ot.project / project_linear: exactness, feasibility, batching, warm start, bad input."""

import gzip
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from local_lp import image_projection

from wsattack.ot import Duals, exact_cost, project, project_linear, wasserstein_cost

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("WSATTACK_SHARED", REPO.parent / "shared"))
MNIST_IMAGES = SHARED / "data" / "MNIST" / "raw" / "t10k-images-idx3-ubyte.gz"


def _mnist(n: int) -> torch.Tensor:
    """The first n MNIST test images as (n, 1, 28, 28) floats in [0, 1]; skip when absent."""
    if not MNIST_IMAGES.is_file():
        pytest.skip(f"MNIST test images not found under {SHARED}")
    with gzip.open(MNIST_IMAGES, "rb") as f:
        header = np.frombuffer(f.read(16), dtype=">i4")
        data = np.frombuffer(f.read(int(n) * 784), dtype=np.uint8)
    assert header[0] == 2051
    return torch.from_numpy(data.reshape(n, 1, 28, 28).astype(np.float32) / 255.0)


def _sparse_images(b, c=1, h=8, w=8, density=0.3, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(b, c, h, w, generator=g, dtype=dtype)
    x = x * (torch.rand(b, c, h, w, generator=g, dtype=dtype) < density)
    x[:, :, h // 2, w // 2] += 0.5  # positive mass in every channel
    step = 0.1 * torch.sign(torch.randn(b, c, h, w, generator=g, dtype=dtype))
    return x, x + step


def _assert_feasible(x, res, eps, cost, rtol=1e-3):
    z = res.z
    assert torch.isfinite(z).all() and (z >= 0).all()
    mx, mz = x.sum(dim=(1, 2, 3)), z.to(x.dtype).sum(dim=(1, 2, 3))
    torch.testing.assert_close(mz, mx, rtol=1e-4, atol=0)
    ex = exact_cost(x, z, cost)
    eps = np.broadcast_to(np.asarray(eps, dtype=float), ex.cost.shape)
    assert np.all(ex.cost <= eps * (1 + rtol)), (ex.cost, eps)
    # The reported plan cost bounds the exact cost from above.
    assert np.all(ex.cost <= res.transport_cost.double().numpy() * (1 + 1e-6) + 1e-9)


def test_approaches_exact_projection_as_lam_grows():
    g = torch.Generator().manual_seed(3)
    x = torch.zeros(1, 1, 6, 6, dtype=torch.float64)
    x[0, 0, 1:5, 2:4] = torch.rand(4, 2, generator=g, dtype=torch.float64) + 0.5
    x = x / x.sum()
    w = x + 0.05 * torch.sign(torch.randn(x.shape, generator=g, dtype=torch.float64))
    cost = wasserstein_cost(3, p=2)
    eps = 0.4
    z_star = image_projection(x[0, 0].numpy(), w[0, 0].numpy(), eps, cost.numpy())
    errors = []
    for lam in (10.0, 100.0, 1000.0):
        res = project(x, w, eps, cost, lam=lam, max_iter=5000, tol_dual=1e-12, tol_marginal=1e-9)
        assert res.converged.all()
        _assert_feasible(x, res, eps, cost)
        errors.append(np.abs(res.z[0, 0].numpy() - z_star).sum())
    assert errors[0] > errors[1] > errors[2]
    # the entropic bias shrinks like 1/lam: ~1% of ||w - z*||_1 at lam = 1000
    assert errors[2] < 0.02 * np.abs(w[0, 0].numpy() - z_star).sum()


def test_point_inside_ball_is_nearly_unchanged():
    x, _ = _sparse_images(2, h=10, w=10)
    w = x.clone()
    w[:, 0, 5, 5] -= 0.2
    w[:, 0, 5, 6] += 0.2  # a cheap move: exact cost 0.2 / mass(x) ~ 0.01, inside eps = 1
    # The entropic projection blurs mass by O(1/lam) even inside the ball; it fades with lam.
    deviation = []
    for lam in (1e3, 1e4):
        res = project(x, w, 1.0, wasserstein_cost(5, p=2), lam=lam, max_iter=3000)
        deviation.append((res.z - w).abs().max().item())
    assert deviation[1] < 0.2 * deviation[0]
    assert deviation[1] < 0.01


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_feasible_after_few_iterations(dtype):
    x, w = _sparse_images(6, c=2, h=9, w=12, dtype=dtype)
    cost = wasserstein_cost(5, p=2)
    eps = torch.tensor([0.05, 0.1, 0.2, 0.5, 1.0, 2.0], dtype=dtype)
    for max_iter in (1, 3, 50):
        res = project(x, w, eps, cost, lam=1000.0, max_iter=max_iter)
        assert res.z.dtype == dtype and res.iterations.max() <= max_iter
        _assert_feasible(x.double(), res, eps.double().numpy(), cost)
        # per channel: mass never changes channel
        torch.testing.assert_close(res.z.sum(dim=(2, 3)), x.sum(dim=(2, 3)), rtol=1e-4, atol=0)


def test_batch_equals_one_at_a_time():
    x, w = _sparse_images(4, h=7, w=9)
    cost = wasserstein_cost(3, p=2)
    eps = torch.tensor([0.1, 0.3, 0.5, 1.0], dtype=torch.float64)
    batch = project(x, w, eps, cost, lam=500.0, max_iter=200)
    for b in range(4):
        one = project(x[b : b + 1], w[b : b + 1], eps[b].item(), cost, lam=500.0, max_iter=200)
        torch.testing.assert_close(one.z[0], batch.z[b], rtol=0, atol=1e-12)
        assert one.iterations[0] == batch.iterations[b]


def test_warm_start_is_faster_and_agrees():
    x, w = _sparse_images(5, h=10, w=10)
    cost = wasserstein_cost(5, p=2)
    kw = dict(lam=1000.0, max_iter=2000, tol_dual=1e-9, tol_marginal=1e-7)
    cold = project(x, w, 0.5, cost, **kw)
    assert cold.converged.all()
    warm = project(x, w, 0.5, cost, duals=cold.duals, **kw)
    assert (warm.iterations < cold.iterations).all()
    torch.testing.assert_close(warm.z, cold.z, atol=1e-6, rtol=0)
    # a PGD-like step: the previous duals still help
    w2 = w + 0.02 * torch.sign(torch.randn_like(w))
    assert (
        project(x, w2, 0.55, cost, duals=cold.duals, **kw).iterations.sum()
        < project(x, w2, 0.55, cost, **kw).iterations.sum()
    )


def test_duals_sub_batch_round_trip():
    x, w = _sparse_images(4, h=6, w=6)
    cost = wasserstein_cost(3, p=2)
    full = project(x, w, 0.3, cost, lam=100.0).duals
    active = torch.tensor([False, True, False, True])
    sub = project(x[active], w[active], 0.3, cost, lam=100.0, duals=full[active])
    assert len(sub.duals) == 2
    merged = full.clone().update(active, sub.duals)
    torch.testing.assert_close(merged.psi[active], sub.duals.psi)
    torch.testing.assert_close(merged.beta[~active], full.beta[~active])


def _lam_sweep_check(x, w, cost, eps):
    for lam in (1e2, 1e3, 3e3, 1e4, 1e5):
        res = project(x, w, eps, cost, lam=lam, max_iter=20)
        for t in (res.z, res.duals.beta, res.duals.psi, res.transport_cost, res.marginal_error):
            assert not torch.isnan(t).any() and not torch.isinf(t).any(), lam
        assert not torch.isnan(res.duals.alpha).any()
        assert (res.transport_cost <= torch.as_tensor(eps) * (1 + 1e-5)).all()
        torch.testing.assert_close(
            res.z.sum(dim=(1, 2, 3)), x.sum(dim=(1, 2, 3)), rtol=1e-4, atol=0
        )


def test_lam_sweep_synthetic_no_nan():
    x, w = _sparse_images(4, h=12, w=12, density=0.1, dtype=torch.float32)
    x[1] *= 1e-6  # tiny mass
    w[1] = x[1] + 1e-7
    x[2] = 0.0
    x[2, 0, 0, 0] = 1.0  # one pixel in a corner
    _lam_sweep_check(x, w, wasserstein_cost(5, p=2), 0.3)


def test_lam_sweep_mnist_no_nan():
    x = _mnist(4)
    w = x + 0.1 * torch.sign(torch.randn(x.shape, generator=torch.Generator().manual_seed(0)))
    _lam_sweep_check(x, w, wasserstein_cost(7, p=2), 0.5)


def test_mnist_projection_feasible_under_exact_cost():
    x = _mnist(16)
    w = x + 0.1 * torch.sign(torch.randn(x.shape, generator=torch.Generator().manual_seed(1)))
    cost = wasserstein_cost(5, p=2)
    for eps in (0.1, 1.0):
        _assert_feasible(x.double(), project(x, w, eps, cost, max_iter=20), eps, cost)


def test_non_square_multichannel():
    x, w = _sparse_images(2, c=3, h=5, w=11)
    res = project(x, w, 0.2, wasserstein_cost(3, p=2), lam=300.0)
    _assert_feasible(x, res, 0.2, wasserstein_cost(3, p=2))


def test_project_linear_increases_objective_and_is_feasible():
    x, _ = _sparse_images(3, h=10, w=10)
    g = torch.randn(x.shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    cost = wasserstein_cost(5, p=2)
    res = project_linear(x, g, 0.5, cost, lam=1000.0, max_iter=200)
    _assert_feasible(x, res, 0.5, cost)
    gain = (g * (res.z - x)).sum(dim=(1, 2, 3))
    assert (gain > 0).all()
    # a larger ball cannot do worse
    big = project_linear(x, g, 1.0, cost, lam=1000.0, max_iter=200)
    assert ((g * big.z).sum(dim=(1, 2, 3)) >= (g * res.z).sum(dim=(1, 2, 3)) - 1e-9).all()


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda x, w, e: (-x, w, e), "non-negative"),
        (lambda x, w, e: (x.clone().fill_(float("nan")), w, e), "x contains NaN"),
        (lambda x, w, e: (x, w.clone().fill_(float("inf")), e), "w contains NaN or Inf"),
        (lambda x, w, e: (torch.zeros_like(x), w, e), "positive total mass"),
        (lambda x, w, e: (x, w, 0.0), "eps"),
        (lambda x, w, e: (x, w, -1.0), "eps"),
        (lambda x, w, e: (x, w, torch.ones(5)), "eps"),
        (lambda x, w, e: (x, w[:, :, :-1], e), "shape"),
        (lambda x, w, e: (x[0], w[0], e), "shape"),
    ],
)
def test_bad_input_raises_value_error(change, match):
    x, w = _sparse_images(2, h=6, w=6)
    x, w, eps = change(x, w, 0.5)
    with pytest.raises(ValueError, match=match):
        project(x, w, eps, wasserstein_cost(3, p=2))


def test_bad_kernel_and_solver_args():
    x, w = _sparse_images(1, h=6, w=6)
    with pytest.raises(ValueError, match="odd"):
        project(x, w, 0.5, torch.zeros(4, 4))
    with pytest.raises(ValueError, match="lam"):
        project(x, w, 0.5, wasserstein_cost(3, p=2), lam=0.0)
    with pytest.raises(ValueError, match="duals"):
        project(x, w, 0.5, wasserstein_cost(3, p=2), duals=Duals(x[:, :, :2], x, x[:, 0, 0, 0]))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cpu_and_cuda_agree():
    x, w = _sparse_images(8, c=3, h=16, w=16, dtype=torch.float32)
    cost = wasserstein_cost(5, p=2)
    cpu = project(x, w, 0.5, cost, max_iter=30)
    gpu = project(x.cuda(), w.cuda(), 0.5, cost, max_iter=30)
    assert gpu.z.is_cuda
    torch.testing.assert_close(gpu.z.cpu(), cpu.z, atol=1e-4, rtol=0)
    torch.testing.assert_close(gpu.iterations.cpu(), cpu.iterations)
