"""Tiny attack and certify runs on synthetic data, for the shard, merge and sweep tests."""

from __future__ import annotations

from pathlib import Path

from wsattack.run import cli

SIZE = 16
SYNTH = [
    "dataset=synthetic",
    f"dataset.height={SIZE}",
    f"dataset.width={SIZE}",
    "dataset.test_size=24",
    "device=cpu",
    "model=mnist_cnn",
]
ATTACK = [
    "attack=wasserstein",
    "schedule=geometric",
    "schedule.eps0=0.05",
    "schedule.growth=1.3",
    "schedule.every=3",
    "schedule.max_iter=15",
    "attack.params.p=2",
    "attack.batch_size=8",
]
# Sample counts small enough for a second a run; the cut follows attack.batch_size (8).
CERTIFY = [
    "sigma=0.02",
    "smoothing.n0=20",
    "smoothing.n=60",
    "smoothing.n_predict=60",
    "smoothing.batch_size=60",
    "certify.chunk=5",
    "attack.batch_size=8",
]


def runner(task: str, checkpoint: Path):
    """run(run_dir, *overrides): `wsattack TASK` on the tiny setting, in this process."""
    settings = ATTACK if task == "attack" else CERTIFY

    def run(run_dir: Path, *extra: str) -> Path:
        cli(
            [
                task,
                *SYNTH,
                f"model.checkpoint={checkpoint}",
                *settings,
                f"hydra.run.dir={run_dir}",
                *extra,
            ]
        )
        return run_dir

    return run
