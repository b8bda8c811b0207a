"""Build an attack from the `attack` and `schedule` config groups."""

from __future__ import annotations

import inspect

from omegaconf import OmegaConf

from wsattack.attacks.registry import ATTACKS
from wsattack.errors import ConfigError


def build_attack(model, attack_cfg, schedule_cfg=None, judge=None):
    """`ATTACKS[attack.name](model, **attack.params, judge=)`: the attack with its own settings,
    its own radius schedule included.

    `schedule_cfg`, the `schedule` group when the user selected one (`schedule=NAME`), replaces
    the attack's schedule: `schedule=schedule.name` and the group's settings win over
    `attack.params`. Attacks without a schedule (the plan-space attacks search each example's
    radius themselves) refuse it. Unknown parameters are a ConfigError naming the ones the
    attack takes.
    """
    factory = ATTACKS.get(attack_cfg.name)
    kwargs = (
        OmegaConf.to_container(attack_cfg.params, resolve=True) if attack_cfg.get("params") else {}
    )
    accepted = accepted_parameters(factory)
    if schedule_cfg is not None:
        if "schedule" not in accepted:
            raise ConfigError(
                f"attack {attack_cfg.name!r} has no radius schedule (it searches each example's "
                "radius itself): drop the schedule= override"
            )
        schedule = OmegaConf.to_container(schedule_cfg, resolve=True)
        kwargs.update(schedule=schedule.pop("name"), **schedule)
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        valid = ", ".join(k for k in accepted if k not in ("model", "judge"))
        raise ConfigError(f"attack {attack_cfg.name!r} does not take {unknown}; it takes: {valid}")
    return factory(model, **kwargs, judge=judge)


def accepted_parameters(factory) -> list[str]:
    """The keyword arguments `factory` takes, following `**kwargs` to the class that receives
    them: `factory.forwards_to` if set, else its base class."""
    params = inspect.signature(factory).parameters
    names = [n for n, p in params.items() if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
    if any(p.kind is p.VAR_KEYWORD for p in params.values()) and isinstance(factory, type):
        target = getattr(factory, "forwards_to", None) or factory.__mro__[1]
        names += [n for n in accepted_parameters(target) if n not in names and n != "model"]
    return names
