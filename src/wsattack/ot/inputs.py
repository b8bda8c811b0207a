"""Checking and mass-normalizing the inputs of the projections."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from wsattack.errors import ConfigError, ConfigTypeError
from wsattack.ot.duals import Duals


@dataclass
class Normalized:
    """x and the objective vector divided by the total mass of x (per example)."""

    x: torch.Tensor  # (B, C, H, W), sums to 1 per example
    target: torch.Tensor  # w (projection) or g (linear objective), same shape
    eps: torch.Tensor  # (B,)
    mass: torch.Tensor  # (B,), the total mass of x in input units


def work_dtype(x: torch.Tensor) -> torch.dtype:
    """float64 for float64 inputs, float32 otherwise."""
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def _check_pair(x: torch.Tensor, other: torch.Tensor, name: str) -> None:
    if not isinstance(x, torch.Tensor) or not isinstance(other, torch.Tensor):
        raise ConfigTypeError(f"x and {name} must be torch tensors")
    if x.dim() != 4:
        raise ConfigError(f"x must have shape (B, C, H, W), got {tuple(x.shape)}")
    if other.shape != x.shape:
        raise ConfigError(f"{name} has shape {tuple(other.shape)} but x has {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise ConfigError("x contains NaN or Inf")
    if not torch.isfinite(other).all():
        raise ConfigError(f"{name} contains NaN or Inf")
    if (x < 0).any():
        raise ConfigError(f"x must be non-negative; its smallest pixel is {x.min().item():.3g}")


def eps_tensor(eps, batch: int, dtype, device) -> torch.Tensor:
    eps_t = torch.as_tensor(eps, dtype=dtype, device=device)
    if eps_t.dim() == 0:
        eps_t = eps_t.expand(batch)
    if eps_t.shape != (batch,):
        raise ConfigError(f"eps must be a float or have shape ({batch},), got {tuple(eps_t.shape)}")
    if not torch.isfinite(eps_t).all() or (eps_t <= 0).any():
        raise ConfigError("eps must be finite and > 0")
    return eps_t.contiguous()


def normalize(x, other, eps, name: str) -> Normalized:
    """Validate and divide x and `other` by the mass of x over all channels (per example)."""
    _check_pair(x, other, name)
    dtype = work_dtype(x)
    x = x.to(dtype)
    mass = x.sum(dim=(1, 2, 3))
    if (mass <= 0).any():
        bad = torch.nonzero(mass <= 0).flatten().tolist()
        raise ConfigError(f"x must have positive total mass; examples {bad[:10]} have none")
    scale = mass.view(-1, 1, 1, 1)
    eps_t = eps_tensor(eps, x.shape[0], dtype, x.device)
    return Normalized(x / scale, other.to(dtype) / scale, eps_t, mass)


def check_solver_args(lam: float, max_iter: int, tol_dual: float, tol_marginal: float) -> None:
    if not (lam > 0 and lam < float("inf")):
        raise ConfigError(f"lam must be positive and finite, got {lam}")
    if int(max_iter) != max_iter or max_iter < 1:
        raise ConfigError(f"max_iter must be a positive integer, got {max_iter}")
    if not (tol_dual >= 0 and tol_marginal >= 0):
        raise ConfigError("tol_dual and tol_marginal must be >= 0")


def check_duals(duals: Duals | None, x: torch.Tensor) -> Duals | None:
    """Validate warm-start duals against x (cast to x's working dtype and device)."""
    if duals is None:
        return None
    if not isinstance(duals, Duals):
        raise ConfigTypeError(f"duals must be a wsattack.ot.Duals, got {type(duals).__name__}")
    if duals.alpha.shape != x.shape or duals.beta.shape != x.shape:
        raise ConfigError(f"duals have shape {tuple(duals.alpha.shape)} but x has {tuple(x.shape)}")
    if duals.psi.shape != (x.shape[0],):
        raise ConfigError(f"duals.psi must have shape ({x.shape[0]},)")
    bad_psi = not torch.isfinite(duals.psi).all() or (duals.psi < 0).any()
    if torch.isnan(duals.beta).any() or bad_psi:
        raise ConfigError("duals.beta must not be NaN and duals.psi must be finite and >= 0")
    return duals.to(dtype=x.dtype, device=x.device)


def ceiling(capacity, x: torch.Tensor, dtype=None) -> torch.Tensor:
    """The pixel ceiling of the capacity constraint, max(capacity, x), broadcast to x.

    capacity: a float or a tensor broadcastable to x, in input units (1.0 for [0, 1] images),
    finite and > 0. A clean pixel above it may keep its own mass, so the feasible set is never
    empty. dtype: of the result (x's by default).
    """
    dtype = dtype or x.dtype
    try:
        cap = torch.broadcast_to(torch.as_tensor(capacity, dtype=dtype, device=x.device), x.shape)
    except (RuntimeError, TypeError, ValueError) as err:
        raise ConfigError(
            f"capacity must be a float or a tensor broadcastable to x {tuple(x.shape)}"
        ) from err
    if not bool(torch.isfinite(cap).all()) or bool((cap <= 0).any()):
        raise ConfigError("capacity must be finite and > 0")
    return torch.maximum(cap, x.to(dtype))
