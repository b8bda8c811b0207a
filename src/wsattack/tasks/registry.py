"""The registry of CLI tasks: `wsattack <task> [overrides]` runs
`TASKS.get(task).run(cfg, run_dir)`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

from wsattack.registry import Registry


@dataclass(frozen=True)
class Task:
    name: str
    summary: str
    run: Callable[[DictConfig, Path], None]


TASKS: Registry[Task] = Registry("task")


def register_task(name: str, summary: str):
    """Decorator for `run(cfg, run_dir)`; also needs a `configs/task/<name>.yaml`."""

    def add(run: Callable[[DictConfig, Path], None]):
        TASKS.register(name)(Task(name, summary, run))
        return run

    return add
