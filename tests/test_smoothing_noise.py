"""Noise models of wsattack.smoothing: flows, mass conservation, standard deviations, seeds."""

from __future__ import annotations

import math

import pytest
import torch

from wsattack.errors import ConfigError
from wsattack.smoothing import NOISE, build_noise
from wsattack.smoothing.flows import apply_flows, flow_divergence
from wsattack.smoothing.noise import laplace_


def test_registry_names_both_models() -> None:
    assert NOISE.names() == ["laplace", "wasserstein"]


def test_flow_divergence_follows_definition_3_1() -> None:
    gen = torch.Generator().manual_seed(0)
    n, m = 3, 4
    x = torch.rand(n, m, generator=gen, dtype=torch.float64)
    vertical = torch.randn(n - 1, m, generator=gen, dtype=torch.float64)
    horizontal = torch.randn(n, m - 1, generator=gen, dtype=torch.float64)

    def flow(d: torch.Tensor, i: int, j: int) -> float:
        # Definition 3.1 pads the flow plan with zeros outside the image.
        inside = 0 <= i < d.shape[0] and 0 <= j < d.shape[1]
        return float(d[i, j]) if inside else 0.0

    expected = torch.tensor(
        [
            [
                float(x[i, j])
                + flow(vertical, i - 1, j)
                - flow(vertical, i, j)
                + flow(horizontal, i, j - 1)
                - flow(horizontal, i, j)
                for j in range(m)
            ]
            for i in range(n)
        ],
        dtype=torch.float64,
    )
    torch.testing.assert_close(apply_flows(x, vertical, horizontal), expected)
    assert abs(float(flow_divergence(vertical, horizontal).sum())) < 1e-12


@pytest.mark.parametrize("name", ["wasserstein", "laplace"])
def test_perturb_keeps_shape_dtype_and_does_not_clamp(name: str) -> None:
    x = torch.rand(2, 3, 5, 6, dtype=torch.float64)
    noisy = build_noise(name, 0.5).perturb(x, torch.Generator().manual_seed(1))
    assert noisy.shape == x.shape and noisy.dtype == torch.float64
    assert noisy.min() < 0 and noisy.max() > 1


@pytest.mark.parametrize("name", ["wasserstein", "laplace"])
def test_unit_noise_takes_any_leading_dimensions(name: str) -> None:
    noise = build_noise(name, 0.1).unit_noise((2, 5, 3, 6, 7), dtype=torch.float64)
    assert noise.shape == (2, 5, 3, 6, 7) and noise.dtype == torch.float64
    if name == "wasserstein":
        assert float(noise.sum(dim=(-2, -1)).abs().max()) < 1e-12


def test_wasserstein_noise_conserves_mass_per_channel() -> None:
    gen = torch.Generator().manual_seed(2)
    x = torch.rand(4, 3, 7, 9, generator=gen, dtype=torch.float64)
    noise = build_noise("wasserstein", 0.3)
    for noisy, ref in ((noise.perturb(x, gen), x), (noise.copies(x[0], 16, gen), x[:1])):
        assert not torch.allclose(noisy, ref.expand_as(noisy))
        mass = noisy.sum(dim=(2, 3))
        torch.testing.assert_close(mass, ref.sum(dim=(2, 3)).expand_as(mass), rtol=0, atol=1e-10)


def test_laplace_sampler_has_requested_std_and_laplace_shape() -> None:
    samples = laplace_(
        torch.empty(400_000, dtype=torch.float64), 0.2, torch.Generator().manual_seed(3)
    )
    assert abs(float(samples.mean())) < 0.002
    assert float(samples.std()) == pytest.approx(0.2, rel=0.02)
    # Mean absolute value of Laplace(0, b) is the scale b = std / sqrt(2).
    assert float(samples.abs().mean()) == pytest.approx(0.2 / math.sqrt(2), rel=0.01)


def _pixel_std(name: str, sigma: float, x: torch.Tensor, copies: int) -> torch.Tensor:
    """Empirical per-pixel std of the noise, in units of the image mass."""
    noisy = build_noise(name, sigma).copies(x, copies, torch.Generator().manual_seed(4))
    return (noisy - x).std(dim=0) / x.sum()


def test_wasserstein_pixel_variance_counts_incident_flows() -> None:
    sigma = 0.1
    x = torch.rand(1, 6, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    variance = _pixel_std("wasserstein", sigma, x, 40_000)[0] ** 2 / sigma**2
    corners = variance[[0, 0, -1, -1], [0, -1, 0, -1]]
    edges = torch.cat(
        [variance[0, 1:-1], variance[-1, 1:-1], variance[1:-1, 0], variance[1:-1, -1]]
    )
    interior = variance[1:-1, 1:-1]
    # A pixel's noise is a signed sum of its incident flows (2, 3 or 4), each of variance sigma^2.
    assert float(corners.mean()) == pytest.approx(2.0, rel=0.04)
    assert float(edges.mean()) == pytest.approx(3.0, rel=0.03)
    assert float(interior.mean()) == pytest.approx(4.0, rel=0.03)
    assert float(variance.max()) < 4.4 and float(corners.max()) < 2.3


def test_laplace_pixel_std_is_sigma_times_mass() -> None:
    x = torch.rand(2, 4, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    std = _pixel_std("laplace", 0.05, x, 40_000)
    assert float(std.mean()) == pytest.approx(0.05, rel=0.02)


def test_noise_scales_with_each_images_own_mass() -> None:
    x = torch.stack([torch.full((1, 4, 4), 0.1), torch.full((1, 4, 4), 0.4)]).double()
    gen = torch.Generator().manual_seed(7)
    noise = build_noise("laplace", 0.1)
    deltas = torch.stack([noise.perturb(x, gen) - x for _ in range(5_000)])
    ratio = deltas[:, 1].std() / deltas[:, 0].std()
    assert float(ratio) == pytest.approx(4.0, rel=0.05)


@pytest.mark.parametrize("name", ["wasserstein", "laplace"])
def test_zero_mass_image_gets_no_noise(name: str) -> None:
    x = torch.zeros(1, 5, 5)
    assert torch.equal(
        build_noise(name, 0.1).copies(x, 3, torch.Generator().manual_seed(0)),
        torch.zeros(3, 1, 5, 5),
    )


@pytest.mark.parametrize("name", ["wasserstein", "laplace"])
def test_same_seed_same_samples(name: str) -> None:
    x = torch.rand(2, 3, 8, 8)
    noise = build_noise(name, 0.1)
    first = noise.perturb(x, torch.Generator().manual_seed(11))
    again = noise.perturb(x, torch.Generator().manual_seed(11))
    other = noise.perturb(x, torch.Generator().manual_seed(12))
    assert torch.equal(first, again) and not torch.equal(first, other)


@pytest.mark.parametrize("sigma", [0, -0.1, math.nan, math.inf, "abc", None])
def test_bad_sigma_is_a_config_error(sigma: object) -> None:
    with pytest.raises(ConfigError, match="sigma"):
        build_noise("wasserstein", sigma)  # type: ignore[arg-type]


def test_unknown_noise_model_lists_valid_names() -> None:
    with pytest.raises(ConfigError, match="laplace, wasserstein"):
        build_noise("gaussian", 0.1)


def test_wrong_image_layout_is_a_config_error() -> None:
    noise = build_noise("wasserstein", 0.1)
    with pytest.raises(ConfigError, match=r"\(C, H, W\)"):
        noise.copies(torch.rand(1, 1, 4, 4), 2)
    with pytest.raises(ConfigError, match=r"\(B, C, H, W\)"):
        noise.perturb(torch.rand(4, 4))
    with pytest.raises(ConfigError, match="floating-point"):
        noise.perturb(torch.ones(1, 1, 4, 4, dtype=torch.long))
