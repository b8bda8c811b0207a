"""DDP from the command line: `launcher=ddp` and a bare torchrun each leave one output directory,
written by rank 0 alone."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd

from wsattack.run import cli

FAST = [
    "dataset=synthetic",
    "dataset.height=16",
    "dataset.width=16",
    "dataset.train_size=64",
    "dataset.test_size=16",
    "train.batch_size=16",
    "train.epochs=1",
    "device=cpu",
    "train.robust_eval.every=0",
]


def _check_run(run_dir):
    log = pd.read_csv(run_dir / "train_log.csv")
    assert log["epoch"].tolist() == [1]
    assert (run_dir / "model.pt").is_file() and (run_dir / "checkpoints" / "epoch_001.pt").is_file()


def test_launcher_ddp_shortcut_starts_two_processes_in_one_directory(tmp_path):
    cli(
        [
            "train",
            *FAST,
            "launcher=ddp",
            "launcher.nproc_per_node=2",
            f"hydra.run.dir={tmp_path / 'run'}",
        ]
    )
    _check_run(tmp_path / "run")
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_bare_torchrun_resolves_the_output_directory_once(tmp_path):
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "wsattack.run",
        "train",
        *FAST,
    ]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = list((tmp_path / "outputs" / "train").iterdir())
    assert len(runs) == 1
    _check_run(runs[0])
