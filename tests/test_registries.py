"""Every named choice is a `Registry`, and every registry refuses an unknown name the same way:
"unknown KIND 'NAME'; choose from: A, B, ..."."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import wsattack
from wsattack.attacks.losses import LOSSES
from wsattack.attacks.registry import ATTACKS
from wsattack.attacks.schedules import SCHEDULES
from wsattack.attacks.steps import STEPS
from wsattack.data.datasets import DATASETS
from wsattack.errors import ConfigError
from wsattack.models.binarize import BINARIZE_AT
from wsattack.models.registry import MODELS
from wsattack.ot.cost import METRICS
from wsattack.registry import Registry
from wsattack.smoothing.noise import NOISE
from wsattack.tasks.registry import TASKS
from wsattack.train.build import OBJECTIVES
from wsattack.train.optim import OPTIMIZERS, SCHEDULERS

REGISTRIES = {
    "attack": ATTACKS,
    "schedule": SCHEDULES,
    "step": STEPS,
    "attack loss": LOSSES,
    "metric": METRICS,
    "adv": OBJECTIVES,
    "train.optimizer": OPTIMIZERS,
    "train.scheduler": SCHEDULERS,
    "model": MODELS,
    "dataset": DATASETS,
    "noise model": NOISE,
    "task": TASKS,
    "model.binarize_at": BINARIZE_AT,
}


@pytest.mark.parametrize("kind", sorted(REGISTRIES))
def test_unknown_names_get_the_same_message(kind):
    registry = REGISTRIES[kind]
    assert registry.kind == kind and registry.names() == sorted(registry.names())
    assert len(registry.names()) >= 2
    choices = ", ".join(registry.names())
    with pytest.raises(ConfigError) as caught:
        registry.get("nope")
    assert str(caught.value) == f"unknown {kind} 'nope'; choose from: {choices}"
    for name in registry.names():
        assert name in registry and registry.get(name) is not None


def test_every_registry_in_the_package_is_tested_here():
    found = set()
    for module in pkgutil.walk_packages(wsattack.__path__, "wsattack."):
        for value in vars(importlib.import_module(module.name)).values():
            if isinstance(value, Registry):
                found.add(id(value))
    assert found == {id(r) for r in REGISTRIES.values()}


def test_a_name_is_registered_once():
    registry = Registry("thing")
    registry.register("a")(object)
    with pytest.raises(ValueError, match="thing 'a' is registered twice"):
        registry.register("a")(object)
