"""Every config group member and preset composes through Hydra's compose API."""

from __future__ import annotations

import pytest

from wsattack.paths import config_dir
from wsattack.tasks import TASKS

GROUPS = [
    p.name for p in config_dir().iterdir() if p.is_dir() and p.name not in ("task", "experiment")
]


def _members(group: str) -> list[str]:
    return sorted(p.stem for p in (config_dir() / group).glob("*.yaml"))


@pytest.mark.parametrize("task", TASKS.names())
def test_every_task_has_a_config(task, compose):
    cfg = compose(task)
    assert cfg.task_name == task


@pytest.mark.parametrize(("group", "member"), [(g, m) for g in GROUPS for m in _members(g)])
def test_every_group_member_composes(group, member, compose):
    cfg = compose("eval", [f"{group}={member}"])
    assert cfg.hydra.runtime.choices[group] == member


@pytest.mark.parametrize("preset", _members("experiment"))
def test_every_experiment_preset_composes(preset, compose):
    cfg = compose("eval", [f"experiment={preset}"])
    assert cfg.hydra.runtime.choices.experiment == preset


def test_command_line_overrides_win(compose):
    cfg = compose("train", ["dataset=synthetic", "train.epochs=3", "seed=7"])
    assert cfg.dataset.name == "synthetic" and cfg.train.epochs == 3 and cfg.seed == 7


def test_output_dir_is_per_task(compose):
    cfg = compose("eval")
    assert cfg.hydra.run.dir.startswith("outputs/${task_name}/") or "outputs/eval" in str(
        cfg.hydra.run.dir
    )
