"""The model registry: `@register_model(name)` on a factory
`(in_channels, num_classes, image_size) -> nn.Module`."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from wsattack.registry import Registry

ModelFactory = Callable[[int, int, tuple[int, int]], nn.Module]
MODELS: Registry[ModelFactory] = Registry("model")
register_model = MODELS.register
