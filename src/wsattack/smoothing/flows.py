"""Local flow plans between adjacent pixels (Levine & Feizi 2020, Definition 3.1)."""

from __future__ import annotations

from torch import Tensor


def flow_shapes(height: int, width: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """Shapes of the vertical ((H-1) x W) and horizontal (H x (W-1)) flows of an H x W image."""
    return (height - 1, width), (height, width - 1)


def flow_divergence(vertical: Tensor, horizontal: Tensor) -> Tensor:
    """Net mass each pixel receives from a flow plan: Delta(x, delta) - x of Definition 3.1.

    `vertical[..., i, j]` moves mass from pixel (i, j) to (i+1, j) and `horizontal[..., i, j]`
    from (i, j) to (i, j+1) (negative values move it back). Shapes are (..., H-1, W) and
    (..., H, W-1); the result is (..., H, W) and sums to zero over the last two dimensions,
    since every flow is added to one pixel and subtracted from another.
    """
    *lead, rows, width = vertical.shape
    out = vertical.new_zeros(*lead, rows + 1, width)
    out[..., 1:, :] += vertical
    out[..., :-1, :] -= vertical
    out[..., :, 1:] += horizontal
    out[..., :, :-1] -= horizontal
    return out


def apply_flows(x: Tensor, vertical: Tensor, horizontal: Tensor) -> Tensor:
    """Delta(x, delta): the image x (..., H, W) after applying the flow plan (Definition 3.1)."""
    return x + flow_divergence(vertical, horizontal)
