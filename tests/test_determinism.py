"""Same seed, same results: `attack`, `certify` and `train` on CPU give byte-identical CSVs
(time columns aside) when run twice, and when stopped after a write and resumed."""

from __future__ import annotations

import pytest
import torch
from crash_runs import (
    TASKS,
    run_crashing,
    run_to_end,
    task_args,
)
from crash_runs import without_time as text

from wsattack.models import read_checkpoint


@pytest.mark.parametrize("task", list(TASKS))
def test_same_seed_twice_and_resumed_give_identical_results(task, tmp_path, tiny_checkpoint):
    weights = None if task == "train" else tiny_checkpoint
    runs = [tmp_path / "first", tmp_path / "second", tmp_path / "resumed"]
    for run in runs[:2]:
        run_to_end(task_args(task, run, weights))
    # Stopped (SIGKILL) right after its second append is on disk, then resumed.
    assert run_crashing(task_args(task, runs[2], weights), (2, 1.0))
    run_to_end(task_args(task, runs[2], weights))
    tables = sorted(p.name for p in runs[0].glob("*.csv"))
    assert TASKS[task]["csv"] in tables
    for run in runs[1:]:
        assert sorted(p.name for p in run.glob("*.csv")) == tables
        for name in tables:
            assert text(run / name) == text(runs[0] / name), (run.name, name)
        _same_tensors(task, runs[0], run)


def _same_tensors(task: str, a, b) -> None:
    """The adversarial examples (attack) or the weights (train) are equal too."""
    if task == "attack":
        x, y = (torch.load(d / "adversarial.pt", weights_only=True) for d in (a, b))
        assert x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)
    if task == "train":
        x, y = (read_checkpoint(d / "model.pt")[0] for d in (a, b))
        assert all(torch.equal(x[k], y[k]) for k in x)
