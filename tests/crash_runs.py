"""Real `wsattack` processes for the crash-safety and determinism tests: tiny configs of the
attack, certify and train tasks, runs to the end, runs killed with SIGKILL, and their CSVs
compared with the time columns left out."""

from __future__ import annotations

import csv
import io
import multiprocessing
import os
import signal
import time
from pathlib import Path

import crash_hook
import pandas as pd

from wsattack.run import cli

TIMEOUT = 300


_FORK = multiprocessing.get_context("fork")
# Per task: its overrides (a checkpoint is added for attack and certify), the CSV it appends
# to, and that CSV's key columns.
SYNTH = ["dataset=synthetic", "dataset.height=16", "dataset.width=16", "device=cpu"]
TASKS = {
    "attack": {
        "args": [
            *SYNTH,
            "dataset.test_size=8",
            "model=mnist_cnn",
            "attack=wasserstein",
            "attack.batch_size=2",
            "attack.params.p=2",
            "attack.params.eps0=0.05",
            "attack.params.growth=1.3",
            "attack.params.every=3",
            "attack.params.max_iter=20",
        ],
        "csv": "examples.csv",
        "keys": ["idx", "target"],
    },
    "certify": {
        "args": [
            *SYNTH,
            "dataset.test_size=12",
            "model=mnist_cnn",
            "smoothing.n0=10",
            "smoothing.n=50",
            "smoothing.n_predict=50",
            "smoothing.batch_size=50",
            "certify.chunk=2",
        ],
        "csv": "certify.csv",
        "keys": ["idx"],
    },
    "train": {
        "args": [
            *SYNTH,
            "dataset.train_size=96",
            "dataset.test_size=16",
            "train.batch_size=16",
            "train.epochs=4",
            "train.checkpoint_every=2",
            "train.optimizer=sgd",
            "train.lr=0.05",
            "train.robust_eval.every=0",
            "train.resume=true",
        ],
        "csv": "train_log.csv",
        "keys": ["epoch"],
    },
}


def task_args(task: str, run_dir: Path, checkpoint: Path | None, *extra: str) -> list[str]:
    """The command-line arguments of a tiny run of `task` writing into `run_dir`."""
    model = [f"model.checkpoint={checkpoint}"] if checkpoint is not None else []
    return [task, *TASKS[task]["args"], *model, f"hydra.run.dir={run_dir}", *extra]


def start(args: list[str], crash: tuple[int, float] | None = None):
    """A process running `wsattack ARGS`, forked from this one (a real process, without the
    seconds of imports a fresh interpreter pays); with crash=(n, fraction) it kills itself
    with SIGKILL inside its n-th CSV append, after writing that fraction of its bytes."""
    proc = _FORK.Process(target=_child, args=(args, crash))
    proc.start()
    return proc


def _child(args: list[str], crash: tuple[int, float] | None) -> None:
    if crash is not None:
        crash_hook.arm(*crash)
    cli(args)


def run_to_end(args: list[str]) -> None:
    proc = start(args)
    proc.join(TIMEOUT)
    assert proc.exitcode == 0, f"wsattack {' '.join(args)} exited with {proc.exitcode}"


def run_crashing(args: list[str], crash: tuple[int, float]) -> bool:
    """Run until the armed crash; True when it happened (the run did not finish first)."""
    proc = start(args, crash)
    proc.join(TIMEOUT)
    assert proc.exitcode in (0, -signal.SIGKILL), proc.exitcode
    return proc.exitcode == -signal.SIGKILL


def run_killed(args: list[str], delay: float) -> bool:
    """SIGKILL the run `delay` seconds after it starts; True when it was killed, False when it
    had finished by then."""
    proc = start(args)
    proc.join(delay)
    if proc.is_alive():
        os.kill(proc.pid, signal.SIGKILL)
    proc.join(TIMEOUT)
    assert proc.exitcode in (0, -signal.SIGKILL), proc.exitcode
    return proc.exitcode == -signal.SIGKILL


def timed_run(args: list[str]) -> float:
    """Seconds a whole run takes (the span kill instants are drawn from)."""
    begin = time.monotonic()
    run_to_end(args)
    return time.monotonic() - begin


def without_time(path: Path) -> str:
    """The CSV's text without its time columns (`*time_s`), all else byte for byte."""
    rows = list(csv.reader(io.StringIO(path.read_text())))
    drop = {i for i, name in enumerate(rows[0]) if name.endswith("time_s")}
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(
        [v for i, v in enumerate(row) if i not in drop] for row in rows
    )
    return out.getvalue()


def keys(path: Path, task: str) -> list[tuple]:
    frame = pd.read_csv(path)
    return list(frame[TASKS[task]["keys"]].itertuples(index=False, name=None))
