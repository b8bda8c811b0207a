"""Noise models of randomized smoothing, acting on batches of [0, 1] images (B, C, H, W).

Both models follow Levine & Feizi (2020): each image is divided by its total mass (all
channels together), Laplace noise of standard deviation sigma (scale sigma / sqrt(2)) is added
in a noise domain, and the result is multiplied back by the mass before the base classifier.
Dividing and multiplying back is the same as adding mass * (unit noise) to the raw image, which
is what the code does: no division, so an all-zero image is well defined (it gets no noise).
Nothing is clamped: noisy pixels may leave [0, 1], as in the paper.

Randomness comes only from the optional `torch.Generator` (on the images' device): the same
generator state gives the same samples.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import ClassVar

import torch
from torch import Tensor

from wsattack.errors import ConfigError
from wsattack.registry import Registry
from wsattack.smoothing.flows import flow_divergence, flow_shapes
from wsattack.smoothing.radius import laplace_radius, wasserstein_radius

NOISE: Registry[type[NoiseModel]] = Registry("noise model")


def laplace_(out: Tensor, std: float, generator: torch.Generator | None = None) -> Tensor:
    """Fill `out` in place with Laplace(0, std / sqrt(2)) samples (standard deviation std).

    Inverse CDF from one uniform u in (-1, 1): sign(u) * b * (-ln(1 - |u|)). The interval is
    opened at -1 so the logarithm never sees 0 (the tail is cut at about 16 scales at float32,
    a probability below 1e-7). In place, with one temporary: this is the sampler's hot loop,
    and the random number generator itself is single-threaded.
    """
    out.uniform_(torch.finfo(out.dtype).eps - 1.0, 1.0, generator=generator)
    magnitude = out.abs().neg_().log1p_().mul_(-std / math.sqrt(2.0))
    return torch.copysign(magnitude, out, out=out)


class NoiseModel(ABC):
    """Mass-scaled smoothing noise of standard deviation `sigma` in its noise domain.

    Subclasses define `unit_noise` (the pixel perturbation of a mass-1 image) and `radius`.
    """

    name: ClassVar[str]

    def __init__(self, sigma: float) -> None:
        try:
            value = float(sigma)
        except (TypeError, ValueError):
            value = math.nan
        if not (math.isfinite(value) and value > 0):
            raise ConfigError(f"noise sigma must be a finite number > 0, got {sigma!r}")
        self.sigma = value

    @abstractmethod
    def unit_noise(
        self,
        shape: torch.Size | tuple[int, ...],
        *,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu",
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Independent pixel perturbations of mass-normalized images, `shape` = (..., C, H, W):
        any number of leading dimensions (e.g. images x samples)."""

    @abstractmethod
    def radius(self, p_lower: float) -> float:
        """Certified W1 (L2 ground metric) radius for a top-class probability bound p_lower."""

    def perturb(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """One independent noisy copy of each image of the batch x (B, C, H, W)."""
        _check_images(x, 4)
        noise = self._draw(x.shape, x, generator)
        return noise.mul_(x.sum(dim=(1, 2, 3), keepdim=True)).add_(x)

    def copies(self, x: Tensor, m: int, generator: torch.Generator | None = None) -> Tensor:
        """`m` independent noisy copies (m, C, H, W) of one image x (C, H, W)."""
        _check_images(x, 3)
        noise = self._draw((m, *x.shape), x, generator)
        return noise.mul_(x.sum()).add_(x)

    def _draw(
        self, shape: tuple[int, ...], like: Tensor, generator: torch.Generator | None
    ) -> Tensor:
        return self.unit_noise(shape, dtype=like.dtype, device=like.device, generator=generator)


@NOISE.register("wasserstein")
class WassersteinNoise(NoiseModel):
    """Laplace noise on the vertical and horizontal flows of each channel (Definition 3.1).

    Per-channel mass is conserved exactly (up to rounding). A pixel's noise is the sum of its
    2 to 4 incident flows with signs, so its variance is (number of neighbours) * sigma^2.
    """

    name = "wasserstein"

    def unit_noise(
        self,
        shape: torch.Size | tuple[int, ...],
        *,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu",
        generator: torch.Generator | None = None,
    ) -> Tensor:
        *lead, height, width = shape
        (v_rows, v_cols), (h_rows, h_cols) = flow_shapes(height, width)
        n_vertical = v_rows * v_cols
        # One buffer for both flow fields: a single call to the random number generator.
        flows = torch.empty(*lead, n_vertical + h_rows * h_cols, dtype=dtype, device=device)
        laplace_(flows, self.sigma, generator)
        vertical = flows[..., :n_vertical].unflatten(-1, (v_rows, v_cols))
        horizontal = flows[..., n_vertical:].unflatten(-1, (h_rows, h_cols))
        return flow_divergence(vertical, horizontal)

    def radius(self, p_lower: float) -> float:
        return wasserstein_radius(p_lower, self.sigma)


@NOISE.register("laplace")
class LaplaceNoise(NoiseModel):
    """Laplace noise of standard deviation sigma on every pixel (the paper's baseline)."""

    name = "laplace"

    def unit_noise(
        self,
        shape: torch.Size | tuple[int, ...],
        *,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu",
        generator: torch.Generator | None = None,
    ) -> Tensor:
        return laplace_(torch.empty(*shape, dtype=dtype, device=device), self.sigma, generator)

    def radius(self, p_lower: float) -> float:
        return laplace_radius(p_lower, self.sigma)


def build_noise(name: str, sigma: float) -> NoiseModel:
    """The registered noise model `name` with standard deviation sigma (ConfigError if unknown)."""
    factory: Callable[[float], NoiseModel] = NOISE.get(name)
    return factory(sigma)


def _check_images(x: Tensor, ndim: int) -> None:
    if x.ndim != ndim or not x.is_floating_point():
        layout = "(B, C, H, W)" if ndim == 4 else "(C, H, W)"
        raise ConfigError(
            f"expected a floating-point tensor {layout}, got {x.dtype} {tuple(x.shape)}"
        )
