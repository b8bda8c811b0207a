"""Radius schedules: which ball radius each PGD iteration projects onto."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from wsattack.errors import ConfigError
from wsattack.registry import Registry

SCHEDULES: Registry[Callable[..., list[Stage]]] = Registry("schedule")


@dataclass(frozen=True)
class Stage:
    """`iterations` PGD steps whose t-th step uses radius `radius(t)`."""

    radius: Callable[[int], float]
    iterations: int


@SCHEDULES.register("geometric")
def geometric(
    eps0: float = 0.3, growth: float = 1.1, every: int = 10, max_iter: int = 200
) -> list[Stage]:
    """The paper's schedule (section 5): start at eps0 and multiply the radius of the examples not
    yet fooled by `growth` every `every` iterations, until fooled or `max_iter` iterations."""
    _positive(eps0=eps0, every=every, max_iter=max_iter)
    if growth < 1:
        raise ConfigError(f"schedule.growth must be >= 1, got {growth}")
    return [Stage(lambda t: eps0 * growth ** (t // every), int(max_iter))]


@SCHEDULES.register("fixed")
def fixed(radii=(0.1, 0.3, 0.5, 1.0), max_iter: int = 100) -> list[Stage]:
    """Each radius attacked in turn, smallest first, with `max_iter` steps; an example broken at a
    smaller radius is not attacked again (a smaller ball lies inside every larger one)."""
    radii = sorted(float(r) for r in radii)
    if not radii:
        raise ConfigError("schedule.radii must list at least one radius")
    _positive(max_iter=max_iter, **{f"radii[{i}]": r for i, r in enumerate(radii)})
    return [Stage(lambda t, r=r: r, int(max_iter)) for r in radii]


@SCHEDULES.register("ramp")
def ramp(eps0: float = 0.01, step: float = 0.01, max_iter: int = 200) -> list[Stage]:
    """Hu et al. 2020's additive schedule: radius eps0 + step * t at iteration t (t = 0, 1, ...)
    for the examples not yet fooled, until fooled or `max_iter` iterations. Their defaults:
    eps0 = step = 0.01 for 200 iterations on MNIST, 0.001 for 400 on CIFAR-10."""
    _positive(eps0=eps0, step=step, max_iter=max_iter)
    return [Stage(lambda t: eps0 + step * t, int(max_iter))]


class Schedule(list):
    """The stages of a named schedule; its repr is the call that built it."""

    def __init__(self, name: str, stages: list[Stage], settings: dict):
        super().__init__(stages)
        self.name, self.settings = name, settings

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.settings.items())
        return f"{self.name}({args})"


def build_schedule(name: str, **kwargs) -> Schedule:
    """The schedule `name` built from `kwargs` (its own settings only)."""
    return Schedule(name, SCHEDULES.get(name)(**kwargs), kwargs)


def schedule_from(
    name: str, eps0: float, growth: float, every: int, max_iter: int, radii, ramp_step: float
) -> Schedule:
    """The named schedule from an attack's flat arguments, each schedule taking its own: an
    attack offers every schedule's settings, so that `schedule=` alone switches between them
    (`ramp_step` is the ramp's `step`, named apart from the Wasserstein attack's ascent step)."""
    if name == "fixed":
        return build_schedule("fixed", radii=tuple(radii), max_iter=max_iter)
    if name == "ramp":
        return build_schedule("ramp", eps0=eps0, step=ramp_step, max_iter=max_iter)
    return build_schedule(name, eps0=eps0, growth=growth, every=every, max_iter=max_iter)


def _positive(**values) -> None:
    for key, value in values.items():
        if value <= 0:
            raise ConfigError(f"schedule.{key} must be positive, got {value}")
