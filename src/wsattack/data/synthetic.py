"""Deterministic, learnable synthetic images with sparse structure, for tests and quick runs."""

from __future__ import annotations

import torch

from wsattack.data.image_data import ImageData


def synthetic_images(
    n: int,
    channels: int = 1,
    height: int = 28,
    width: int = 28,
    num_classes: int = 10,
    seed: int = 0,
) -> ImageData:
    """Each class is a fixed set of blob positions; every image jitters them and adds a random blob.

    Pixels below 0.1 are set to exactly zero, so most of each image is empty like MNIST, which is
    what exercises the zero-mass handling of the transport code. Same arguments, same images.
    """
    gen = torch.Generator().manual_seed(seed)
    centers = _class_centers(num_classes, height, width)
    labels = torch.randint(num_classes, (n,), generator=gen)
    yy, xx = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    jitter = torch.randn(n, centers.shape[1], 2, generator=gen) * (0.04 * min(height, width))
    blobs = centers[labels] + jitter
    distractor = torch.rand(n, 1, 2, generator=gen) * torch.tensor([height - 1.0, width - 1.0])
    blobs = torch.cat([blobs, distractor], dim=1)
    radius = max(1.0, 0.08 * min(height, width))
    d2 = (yy[None, None] - blobs[..., 0, None, None]) ** 2 + (
        xx[None, None] - blobs[..., 1, None, None]
    ) ** 2
    image = torch.exp(-d2 / (2 * radius**2)).amax(dim=1)
    gains = 0.6 + 0.4 * torch.rand(n, channels, 1, 1, generator=gen)
    images = (image[:, None] * gains).clamp(0, 1)
    images[images < 0.1] = 0.0
    return ImageData("synthetic", images.float(), labels, torch.arange(n), num_classes)


def _class_centers(num_classes: int, height: int, width: int) -> torch.Tensor:
    """Two blob centres per class, drawn once from a fixed seed so train and test splits agree."""
    gen = torch.Generator().manual_seed(12345)
    unit = 0.15 + 0.7 * torch.rand(num_classes, 2, 2, generator=gen)
    return unit * torch.tensor([height - 1.0, width - 1.0])
