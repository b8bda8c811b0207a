"""Build an attack from the `attack` and `schedule` config groups."""

from __future__ import annotations

import inspect

from omegaconf import OmegaConf

from wsattack.attacks.registry import ATTACKS
from wsattack.errors import ConfigError


def build_attack(model, attack_cfg, schedule_cfg, judge=None):
    """`ATTACKS[attack.name](model, **attack.params, schedule=schedule.name, **schedule, judge=)`

    Unknown parameters are a ConfigError naming the ones the attack takes.
    """
    factory = ATTACKS.get(attack_cfg.name)
    kwargs = (
        OmegaConf.to_container(attack_cfg.params, resolve=True) if attack_cfg.get("params") else {}
    )
    schedule = OmegaConf.to_container(schedule_cfg, resolve=True)
    kwargs.update(schedule=schedule.pop("name"), **schedule)
    accepted = inspect.signature(factory).parameters
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        valid = ", ".join(k for k in accepted if k not in ("model", "judge"))
        raise ConfigError(f"attack {attack_cfg.name!r} does not take {unknown}; it takes: {valid}")
    return factory(model, **kwargs, judge=judge)
