"""The training objective and the robustness probe named by a config (`adv`, `noise`, `train`)."""

from __future__ import annotations

import torch

from wsattack.attacks.build import accepted_parameters
from wsattack.data import ImageData
from wsattack.errors import ConfigError
from wsattack.registry import Registry
from wsattack.smoothing import build_noise
from wsattack.train.adversaries import LinfAdversary, WassersteinAdversary
from wsattack.train.noise import NoiseTransform
from wsattack.train.objectives import Adversarial, IntervalBound, Standard
from wsattack.train.probe import RobustProbe

# The training modes (`adv=`): name -> builder (adv_cfg, noise, steps_per_epoch) -> objective;
# only standard training takes noise (a NoiseTransform, or None).
OBJECTIVES: Registry = Registry("adv")


def build_objective(adv_cfg, noise_cfg, steps_per_epoch: int = 1):
    """The objective for `adv` (and `noise`, which only standard training takes)."""
    name = str(adv_cfg.name)
    builder = OBJECTIVES.get(name)
    noise_name = str(noise_cfg.name) if noise_cfg is not None else "none"
    if noise_name != "none" and name != "none":
        raise ConfigError(
            f"noise={noise_name} trains a smoothing base model; "
            f"it cannot be combined with adv={name}"
        )
    noise = _noise(noise_cfg) if noise_name != "none" else None
    return builder(adv_cfg, noise, steps_per_epoch)


@OBJECTIVES.register("none")
def _standard(adv_cfg, noise, steps_per_epoch: int) -> Standard:
    return Standard(noise)


@OBJECTIVES.register("ibp")
def _interval_bound(adv_cfg, noise, steps_per_epoch: int) -> IntervalBound:
    return IntervalBound(
        float(adv_cfg.eps),
        float(adv_cfg.kappa),
        _steps(adv_cfg.warmup_epochs, steps_per_epoch),
        _steps(adv_cfg.ramp_epochs, steps_per_epoch),
    )


def _adversarial(factory):
    """The builder of adversarial training with `factory(**adv settings)` as inner attack."""

    def build(adv_cfg, noise, steps_per_epoch: int) -> Adversarial:
        settings = {k: v for k, v in adv_cfg.items() if k != "name"}
        accepted = accepted_parameters(factory)
        unknown = sorted(set(settings) - set(accepted))
        if unknown:
            raise ConfigError(
                f"adv={adv_cfg.name} does not take {unknown}; it takes: {', '.join(accepted)}"
            )
        return Adversarial(factory(**settings))

    return build


OBJECTIVES.register("wasserstein")(_adversarial(WassersteinAdversary))
OBJECTIVES.register("linf")(_adversarial(LinfAdversary))


def _noise(noise_cfg) -> NoiseTransform:
    return NoiseTransform(
        build_noise(str(noise_cfg.name), noise_cfg.sigma), bool(noise_cfg.get("per_batch", False))
    )


def _steps(epochs, steps_per_epoch: int) -> int:
    """Epochs (possibly fractional) as a whole number of batches."""
    return round(float(epochs) * steps_per_epoch)


def build_probe(probe_cfg, eval_data: ImageData | None, objective=None) -> RobustProbe | None:
    """The held-out robustness probe, or None when disabled or there is no eval split. It
    attacks in the Wasserstein ball the objective trains against (`adv=wasserstein`: its
    threat model, step and step size), else in the default one."""
    if probe_cfg is None or int(probe_cfg.every) <= 0 or eval_data is None:
        return None
    subset = eval_data.select(_first(len(eval_data), int(probe_cfg.size)))
    adversary = getattr(objective, "adversary", None)
    ball = {}
    if isinstance(adversary, WassersteinAdversary):
        ball = {"threat": adversary.threat, "step": adversary.step, "alpha": adversary.alpha}
    return RobustProbe(
        subset, int(probe_cfg.every), float(probe_cfg.radius), int(probe_cfg.max_iter), **ball
    )


def _first(n: int, size: int) -> torch.Tensor:
    if size <= 0:
        raise ConfigError(f"train.robust_eval.size must be positive, got {size}")
    return torch.arange(min(n, size))
