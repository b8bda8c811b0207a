"""The small MNIST network of Wong & Kolter (2018), used by both Wong 2019 and Levine 2020."""

from __future__ import annotations

from torch import nn

from wsattack.models.registry import register_model


@register_model("mnist_cnn")
def mnist_cnn(
    in_channels: int = 1, num_classes: int = 10, image_size: tuple[int, int] = (28, 28)
) -> nn.Module:
    """Two stride-2 4x4 convolutions, two linear layers; indices 0, 2, 5, 7 match upstream keys."""
    height, width = _downsampled(image_size)
    return nn.Sequential(
        nn.Conv2d(in_channels, 16, 4, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 4, stride=2, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(32 * height * width, 100),
        nn.ReLU(),
        nn.Linear(100, num_classes),
    )


def _downsampled(image_size: tuple[int, int]) -> tuple[int, int]:
    """Spatial size after two (k=4, s=2, p=1) convolutions: floor(s/2), twice."""
    return image_size[0] // 4, image_size[1] // 4
