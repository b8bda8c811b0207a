"""Interval bound propagation (Gowal et al. 2018) for sequential ReLU networks.

For inputs in a box [lower, upper], an affine layer y = W x + b maps the box's centre c and
radius r to the centre W c + b and radius |W| r, which bounds every y exactly per coordinate;
elementwise non-decreasing maps (ReLU, flatten, binarization, per-channel normalization with
std > 0) map the box's corners to the new box. The last linear layer is elided: the bounds are
taken directly on the margins z_y - z_j = (W_y - W_j) h + b_y - b_j, which is tighter than
subtracting separate logit bounds. Pure tensor code, so the bounds are differentiable.

`auto_LiRPA` would do this for general graphs, but its last release pins torch < 1.13.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from wsattack.errors import ConfigError
from wsattack.models.wrappers import Binarize, Classifier, Normalize

MONOTONE = (nn.ReLU, nn.Flatten, nn.Identity, Binarize, Normalize)


def layers_of(model: Classifier) -> list[nn.Module]:
    """The classifier as a flat list of layers, preprocessing first (ConfigError if unsupported)."""
    if not isinstance(model.net, nn.Sequential):
        raise ConfigError(f"interval bounds need a sequential network; {model.name} is not one")
    layers = [*_flatten(model.preprocess), *_flatten(model.net)]
    for layer in layers:
        if not isinstance(layer, (nn.Linear, nn.Conv2d, *MONOTONE)):
            raise ConfigError(
                f"interval bounds do not support {type(layer).__name__} layers ({model.name})"
            )
        if isinstance(layer, nn.Conv2d) and layer.padding_mode != "zeros":
            raise ConfigError("interval bounds support only zero-padded convolutions")
    if not isinstance(layers[-1], nn.Linear):
        raise ConfigError(f"interval bounds need a network ending in a linear layer ({model.name})")
    return layers


def _flatten(module: nn.Module) -> list[nn.Module]:
    if isinstance(module, nn.Sequential):
        return [leaf for child in module for leaf in _flatten(child)]
    return [module]


def interval_forward(
    layers, lower: torch.Tensor, upper: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Elementwise bounds on the output of `layers` for every input in [lower, upper]."""
    for layer in layers:
        if isinstance(layer, (nn.Linear, nn.Conv2d)):
            lower, upper = _affine(layer, lower, upper)
        else:
            lower, upper = layer(lower), layer(upper)
    return lower, upper


def _affine(layer, lower, upper):
    centre, radius = (upper + lower) / 2, (upper - lower) / 2
    out_centre = layer(centre)
    if isinstance(layer, nn.Linear):
        out_radius = F.linear(radius, layer.weight.abs())
    else:
        out_radius = F.conv2d(
            radius,
            layer.weight.abs(),
            None,
            layer.stride,
            layer.padding,
            layer.dilation,
            layer.groups,
        )
    return out_centre - out_radius, out_centre + out_radius


def margin_lower_bounds(
    model: Classifier, images: torch.Tensor, labels: torch.Tensor, eps: float
) -> torch.Tensor:
    """(B, K) lower bounds on z_y - z_j over the l_inf ball of radius eps intersected with [0, 1].

    Column y is exactly 0. An image is verified at eps when every other column is > 0.
    """
    layers = layers_of(model)
    lower, upper = (images - eps).clamp(0, 1), (images + eps).clamp(0, 1)
    lower, upper = interval_forward(layers[:-1], lower, upper)
    last = layers[-1]
    diff_w = last.weight[labels][:, None, :] - last.weight[None]  # (B, K, H)
    diff_b = last.bias[labels][:, None] - last.bias[None] if last.bias is not None else 0.0
    centre, radius = (upper + lower) / 2, (upper - lower) / 2
    return (
        torch.einsum("bkh,bh->bk", diff_w, centre)
        - torch.einsum("bkh,bh->bk", diff_w.abs(), radius)
        + diff_b
    )


def worst_case_logits(margins: torch.Tensor) -> torch.Tensor:
    """Logits whose cross-entropy is the IBP robust loss: upper bounds on z_j - z_y."""
    return -margins


def verified(margins: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per example: every margin other than the label's own is certified positive."""
    others = margins.scatter(1, labels[:, None], float("inf"))
    return (others > 0).all(dim=1)


class BoundedForward(nn.Module):
    """`forward(images, labels, eps) -> (clean logits, margin lower bounds)`: one module call, so
    that DistributedDataParallel sees (and synchronizes) the gradients of both parts."""

    def __init__(self, model: Classifier):
        super().__init__()
        layers_of(model)
        self.model = model

    def forward(self, images: torch.Tensor, labels: torch.Tensor, eps: float):
        return self.model(images), margin_lower_bounds(self.model, images, labels, eps)


@torch.no_grad()
def verified_accuracy(
    model: Classifier, images: torch.Tensor, labels: torch.Tensor, eps: float, batch_size: int = 500
) -> float:
    """Fraction of images correctly classified and verified in the l_inf ball of radius eps."""
    if eps < 0:
        raise ConfigError(f"the verified l_inf radius must be >= 0, got {eps}")
    device = next(model.parameters()).device
    count = 0
    for start in range(0, len(labels), batch_size):
        x, y = (
            images[start : start + batch_size].to(device),
            labels[start : start + batch_size].to(device),
        )
        count += verified(margin_lower_bounds(model, x, y, eps), y).sum().item()
    return count / max(len(labels), 1)
