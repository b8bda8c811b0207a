"""The training objective and the robustness probe named by a config (`adv`, `noise`, `train`)."""

from __future__ import annotations

import inspect

import torch

from wsattack.data import ImageData
from wsattack.errors import ConfigError
from wsattack.smoothing import build_noise
from wsattack.train.adversaries import LinfAdversary, WassersteinAdversary
from wsattack.train.noise import NoiseTransform
from wsattack.train.objectives import Adversarial, IntervalBound, Standard
from wsattack.train.probe import RobustProbe

ADV_MODES = ("none", "wasserstein", "linf", "ibp")


def build_objective(adv_cfg, noise_cfg, steps_per_epoch: int = 1):
    """The objective for `adv` (and `noise`, which only standard training takes)."""
    name = str(adv_cfg.name)
    noise_name = str(noise_cfg.name) if noise_cfg is not None else "none"
    if name not in ADV_MODES:
        raise ConfigError(f"unknown adv {name!r}; choose from: {', '.join(ADV_MODES)}")
    if noise_name != "none" and name != "none":
        raise ConfigError(
            f"noise={noise_name} trains a smoothing base model; "
            f"it cannot be combined with adv={name}"
        )
    if name == "none":
        return Standard(_noise(noise_cfg) if noise_name != "none" else None)
    if name == "ibp":
        return IntervalBound(
            float(adv_cfg.eps),
            float(adv_cfg.kappa),
            _steps(adv_cfg.warmup_epochs, steps_per_epoch),
            _steps(adv_cfg.ramp_epochs, steps_per_epoch),
        )
    factory = WassersteinAdversary if name == "wasserstein" else LinfAdversary
    settings = {k: v for k, v in adv_cfg.items() if k != "name"}
    accepted = inspect.signature(factory).parameters
    unknown = sorted(set(settings) - set(accepted))
    if unknown:
        raise ConfigError(f"adv={name} does not take {unknown}; it takes: {', '.join(accepted)}")
    return Adversarial(factory(**settings))


def _noise(noise_cfg) -> NoiseTransform:
    return NoiseTransform(
        build_noise(str(noise_cfg.name), noise_cfg.sigma), bool(noise_cfg.get("per_batch", False))
    )


def _steps(epochs, steps_per_epoch: int) -> int:
    """Epochs (possibly fractional) as a whole number of batches."""
    return round(float(epochs) * steps_per_epoch)


def build_probe(probe_cfg, eval_data: ImageData | None) -> RobustProbe | None:
    """The held-out robustness probe, or None when disabled or there is no eval split."""
    if probe_cfg is None or int(probe_cfg.every) <= 0 or eval_data is None:
        return None
    subset = eval_data.select(_first(len(eval_data), int(probe_cfg.size)))
    return RobustProbe(
        subset, int(probe_cfg.every), float(probe_cfg.radius), int(probe_cfg.max_iter)
    )


def _first(n: int, size: int) -> torch.Tensor:
    if size <= 0:
        raise ConfigError(f"train.robust_eval.size must be positive, got {size}")
    return torch.arange(min(n, size))
