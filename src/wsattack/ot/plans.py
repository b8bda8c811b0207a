"""Local transport plans as tensors (Wong et al. 2019, section 4.3).

A plan P of shape (B, C, K, H, W), K = k * k, holds for every pixel (i, j) of every channel the
mass it sends to each neighbour (i + di, j + dj), the offsets in row-major order over
di, dj in [-r, r] (r = k // 2): the same order as `wasserstein_cost(k).flatten()`. Offsets that
would leave the image are never used (`valid_offsets`), and mass never changes channel. The
image a plan produces is its column sums (`column_sums`); the gradient of a function of that
image with respect to the plan is the image gradient seen from each source (`neighbours`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def neighbours(v: torch.Tensor, k: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, K, H, W): v at pixel (i + di, j + dj) for every offset, 0 outside.

    The adjoint of `column_sums`: <neighbours(g), P> = <g, column_sums(P)> for plans that use
    only valid offsets.
    """
    B, C, H, W = v.shape
    r = k // 2
    padded = F.pad(v.reshape(B * C, 1, H, W), (r, r, r, r))
    return F.unfold(padded, k).view(B, C, k * k, H, W)


def column_sums(plan: torch.Tensor) -> torch.Tensor:
    """(B, C, K, H, W) -> (B, C, H, W): the mass each pixel receives, i.e. the image produced."""
    B, C, K, H, W = plan.shape
    k = int(round(K**0.5))
    r = k // 2
    folded = F.fold(plan.reshape(B * C, K, H * W), (H + 2 * r, W + 2 * r), k)
    return folded[:, 0, r : r + H, r : r + W].reshape(B, C, H, W)


def valid_offsets(height: int, width: int, k: int, device=None) -> torch.Tensor:
    """(K, H, W) bool: whether pixel (i, j) may send mass along each offset (stays inside)."""
    ones = torch.ones(1, 1, height, width, device=device)
    return neighbours(ones, k)[0, 0] > 0


def plan_cost(plan: torch.Tensor, cost: torch.Tensor) -> torch.Tensor:
    """<C, P> per example: (B, C, K, H, W) with a k x k cost -> (B,)."""
    c = cost.to(dtype=plan.dtype, device=plan.device).reshape(1, 1, -1, 1, 1)
    return (plan * c).sum(dim=(1, 2, 3, 4))


def identity_plan(x: torch.Tensor, k: int) -> torch.Tensor:
    """The plan that moves nothing: all of x on the centre offset."""
    B, C, H, W = x.shape
    plan = x.new_zeros(B, C, k * k, H, W)
    plan[:, :, (k * k) // 2] = x
    return plan
