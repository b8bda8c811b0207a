"""The CLI's error paths: one line naming the valid choices, exit code 2, no traceback."""

from __future__ import annotations

import pytest
from conftest import run_cli

from wsattack.tasks import TASKS


def _one_line_error(result) -> str:
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_help_lists_every_task():
    result = run_cli("--help")
    assert result.returncode == 0
    for name in TASKS.names():
        assert name in result.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["fly"], "unknown task 'fly'; choose from: " + ", ".join(TASKS.names())),
        (["eval", "dataset=imagenet"], "unknown dataset 'imagenet'; choose from: cifar10, demo"),
        (["eval", "model=vgg"], "unknown model 'vgg'; choose from: demo, mnist_cnn, resnet18"),
        (
            ["eval", "train.epochz=3"],
            "unknown config option 'train.epochz'; valid keys under 'train': augment",
        ),
        (["eval", "sed=1"], "unknown config option 'sed'"),
        (
            ["eval", "dataset=synthetic", "model.checkpoint=zoo:nope"],
            "unknown zoo model 'nope'; choose from:",
        ),
        (["eval", "device=tpu"], "unknown device 'tpu'"),
        (
            ["eval", "dataset.split=valid", "dataset=synthetic"],
            "unknown dataset.split 'valid'; choose from: train, test",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, expected, tmp_path):
    line = _one_line_error(run_cli(*args, f"hydra.run.dir={tmp_path}"))
    assert expected in line


def test_missing_data_is_one_clear_line(tmp_path):
    line = _one_line_error(
        run_cli("eval", "dataset=mnist", f"dataset.root={tmp_path}", f"hydra.run.dir={tmp_path}")
    )
    assert "dataset.download=true" in line and str(tmp_path) in line


def test_task_help_shows_hydra_help():
    result = run_cli("train", "--help")
    assert (
        result.returncode == 0
        and "Configuration groups" in result.stdout
        and "dataset" in result.stdout
    )
