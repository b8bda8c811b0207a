"""Training as a SLURM job step with two tasks (what the submitit_slurm launcher starts with
tasks_per_node=2): torch.distributed set up from SLURM's environment, simulated here with two
processes on gloo, trains the model one process trains, and resumes mid-epoch to the same."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import torch
from test_ddp import MODES, train

MODE = "none"
WORKER = textwrap.dedent(
    f"""
    import sys
    from pathlib import Path

    import torch

    sys.path.insert(0, {str(Path(__file__).parent)!r})
    from test_ddp import MODES, train
    from wsattack.train import distributed

    out = Path(sys.argv[1])
    ctx = distributed.from_env()
    distributed.start(ctx, torch.device("cpu"))
    full = train(out / "full", MODES[{MODE!r}], ctx=ctx)
    try:
        train(out / "cut", MODES[{MODE!r}], ctx=ctx, crash_after=6)
    except RuntimeError:
        pass
    resumed = train(out / "cut", MODES[{MODE!r}], ctx=ctx, resume=True)
    if ctx.is_main:
        saved = {{"full": full, "resumed": resumed, "world": ctx.world_size}}
        torch.save(saved, out / "weights.pt")
    distributed.stop(ctx)
    """
)


def _slurm_env(rank: int) -> dict[str, str]:
    """What SLURM sets for task `rank` of a two-task step on one node (no torchrun variables)."""
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env.update(
        SLURM_JOB_ID="4242",
        SLURM_NTASKS="2",
        SLURM_JOB_NUM_NODES="1",
        SLURM_NODEID="0",
        SLURM_PROCID=str(rank),
        SLURM_LOCALID=str(rank),
        SLURM_JOB_NODELIST="localhost",
    )
    return env


@pytest.fixture(scope="module")
def slurm_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("slurm")
    (out / "worker.py").write_text(WORKER)
    tasks = [
        subprocess.Popen(
            [sys.executable, str(out / "worker.py"), str(out)],
            env=_slurm_env(rank),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in range(2)
    ]
    for task in tasks:
        _, err = task.communicate(timeout=300)
        assert task.returncode == 0, err[-3000:]
    return out


def test_two_slurm_tasks_match_one_process(slurm_run, tmp_path):
    weights = torch.load(slurm_run / "weights.pt", weights_only=True)
    assert weights["world"] == 2
    single = train(tmp_path, MODES[MODE])
    assert all(torch.allclose(single[k], weights["full"][k], atol=1e-5) for k in single)
    logs = [
        pd.read_csv(d / "train_log.csv").drop(columns=["time_s", "attack_time_s"])
        for d in (tmp_path, slurm_run / "full")
    ]
    pd.testing.assert_frame_equal(*logs, atol=1e-5)


def test_slurm_resume_mid_epoch_matches_the_uninterrupted_run(slurm_run):
    weights = torch.load(slurm_run / "weights.pt", weights_only=True)
    assert all(torch.equal(weights["full"][k], weights["resumed"][k]) for k in weights["full"])
