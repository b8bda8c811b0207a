"""Checking the batch an attack is called with, so that a wrong input is one clear error."""

from __future__ import annotations

import torch

from wsattack.errors import ConfigError, ConfigTypeError


def check_batch(images, labels, targets=None) -> None:
    """Raise `ConfigTypeError`/`ConfigError` unless images is a finite (B, C, H, W) float
    tensor, and labels (and targets, when given) are (B,) integer tensors of classes >= 0."""
    if not isinstance(images, torch.Tensor) or not images.is_floating_point():
        raise ConfigTypeError(
            f"images must be a float torch.Tensor, got {_kind(images)}; fix: torch.as_tensor(x)"
        )
    if images.dim() != 4:
        raise ConfigError(f"images must have shape (B, C, H, W), got {tuple(images.shape)}")
    if not bool(torch.isfinite(images).all()):
        raise ConfigError("images contain NaN or Inf")
    given = {"labels": labels} if targets is None else {"labels": labels, "targets": targets}
    for name, classes in given.items():
        if not isinstance(classes, torch.Tensor) or classes.is_floating_point():
            raise ConfigTypeError(f"{name} must be an integer torch.Tensor, got {_kind(classes)}")
        if classes.shape != images.shape[:1]:
            raise ConfigError(
                f"{name} must have shape ({len(images)},), one per image, "
                f"got {tuple(classes.shape)}"
            )
        if len(classes) and int(classes.min()) < 0:
            raise ConfigError(f"{name} must be classes >= 0, got {int(classes.min())}")


def batch_on_device(model, images, labels, targets=None):
    """Check the batch (`check_batch`) and move it to the model's device: (x, labels, targets)."""
    check_batch(images, labels, targets)
    device = next(model.parameters()).device
    return images.to(device), labels.to(device), None if targets is None else targets.to(device)


def clean_predictions(model, judge, images, labels, targets=None) -> torch.Tensor:
    """The classes of the clean images (the judge's, when one decides), after checking that the
    labels and targets are classes the model outputs: a label past them would otherwise surface
    as an index error deep inside a loss."""
    if judge is not None:
        return judge(images)
    logits = model(images)
    for name, classes in (("labels", labels), ("targets", targets)):
        if classes is not None and len(classes) and int(classes.max()) >= logits.shape[1]:
            raise ConfigError(
                f"{name} must be classes < {logits.shape[1]} (the model's outputs), "
                f"got {int(classes.max())}"
            )
    return logits.argmax(1)


def _kind(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"a {value.dtype} tensor"
    return type(value).__name__
