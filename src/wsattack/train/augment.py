"""Batch augmentation on tensors: random crop with zero padding and horizontal flip (CIFAR-10)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from wsattack.errors import ConfigError


def crop_flip(images: torch.Tensor, padding: int = 4) -> torch.Tensor:
    """Each image shifted by up to `padding` pixels (zero fill) and flipped with probability 1/2."""
    n, _, h, w = images.shape
    padded = F.pad(images, (padding,) * 4)
    dy = torch.randint(0, 2 * padding + 1, (n,))
    dx = torch.randint(0, 2 * padding + 1, (n,))
    rows = (dy[:, None] + torch.arange(h)[None]).to(images.device)
    cols = (dx[:, None] + torch.arange(w)[None]).to(images.device)
    batch = torch.arange(n, device=images.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)
    flip = torch.rand(n) < 0.5
    out[flip] = out[flip].flip(-1)
    return out.contiguous()


def wants_augmentation(setting, dataset_name: str) -> bool:
    """train.augment: "auto" (CIFAR-10 only), true or false."""
    if setting == "auto":
        return dataset_name == "cifar10"
    if not isinstance(setting, bool):
        raise ConfigError(
            f"train.augment must be auto, true or false, got {setting!r}; fix: train.augment=auto"
        )
    return setting
