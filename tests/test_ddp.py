"""Two CPU processes (gloo) against one: the same global batch gives the same model, only rank 0
writes, and a DDP run interrupted mid-epoch resumes to the uninterrupted result."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pandas as pd
import pytest
import torch

from wsattack.data import synthetic_images
from wsattack.models import build_model
from wsattack.run import compose_config
from wsattack.train import Trainer
from wsattack.train.build import build_objective

SIZE = 16
N, BATCH = 64, 16
MODES = {"none": [], "ibp": ["adv=ibp", "adv.eps=0.05", "adv.ramp_epochs=1"]}
BASE = [
    "dataset=synthetic",
    f"train.batch_size={BATCH}",
    "train.epochs=2",
    "train.checkpoint_every=2",
    "device=cpu",
    "train.optimizer=sgd",
    "train.lr=0.05",
]

# Trains every mode (full run; run interrupted at global step 6; resumed run) under torchrun.
WORKER = textwrap.dedent(
    f"""
    import sys
    from pathlib import Path

    import torch

    sys.path.insert(0, {str(__file__.rsplit("/", 1)[0])!r})
    from test_ddp import MODES, train
    from wsattack.train import distributed

    out = Path(sys.argv[1])
    ctx = distributed.from_env()
    distributed.start(ctx, torch.device("cpu"))
    for mode, overrides in MODES.items():
        full = train(out / mode / "full", overrides, ctx=ctx)
        try:
            train(out / mode / "cut", overrides, ctx=ctx, crash_after=6)
        except RuntimeError:
            pass
        resumed = train(out / mode / "cut", overrides, ctx=ctx, resume=True)
        if ctx.is_main:
            torch.save({{"full": full, "resumed": resumed}}, out / mode / "weights.pt")
    distributed.stop(ctx)
    """
)


def train(run_dir, overrides, ctx=None, resume=False, crash_after=None):
    """mnist_cnn trained on synthetic 16x16 images; after `crash_after` steps, RuntimeError."""
    cfg = compose_config("train", [*BASE, *overrides, f"train.resume={str(resume).lower()}"])
    torch.manual_seed(0)
    data = synthetic_images(N, height=SIZE, width=SIZE, seed=0)
    model = build_model(cfg.model, (1, SIZE, SIZE))
    trainer = Trainer(
        model,
        data,
        data.select(torch.arange(16)),
        cfg.train,
        torch.device("cpu"),
        run_dir,
        objective=build_objective(cfg.adv, cfg.noise, steps_per_epoch=N // BATCH),
        dist=ctx,
    )
    if crash_after is not None:
        step, calls = trainer._step, []

        def failing_step(*args):
            if len(calls) == crash_after:
                raise RuntimeError("interrupted")
            calls.append(1)
            step(*args)

        trainer._step = failing_step
    trainer.fit()
    return {k: v.clone() for k, v in model.net.state_dict().items()}


@pytest.fixture(scope="module")
def ddp_runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    (out / "worker.py").write_text(WORKER)
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        str(out / "worker.py"),
        str(out),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return out


@pytest.mark.parametrize("mode", list(MODES))
def test_two_processes_match_one_with_the_same_global_batch(mode, ddp_runs, tmp_path):
    single = train(tmp_path, MODES[mode])
    ddp = torch.load(ddp_runs / mode / "weights.pt", weights_only=True)["full"]
    assert all(torch.allclose(single[k], ddp[k], atol=1e-5) for k in single)
    logs = [
        pd.read_csv(d / "train_log.csv").drop(columns=["time_s", "attack_time_s"])
        for d in (tmp_path, ddp_runs / mode / "full")
    ]
    pd.testing.assert_frame_equal(*logs, atol=1e-5)


@pytest.mark.parametrize("mode", list(MODES))
def test_ddp_resume_mid_epoch_matches_the_uninterrupted_ddp_run(mode, ddp_runs):
    weights = torch.load(ddp_runs / mode / "weights.pt", weights_only=True)
    assert all(torch.equal(weights["full"][k], weights["resumed"][k]) for k in weights["full"])
    logs = [
        pd.read_csv(ddp_runs / mode / d / "train_log.csv").drop(columns=["time_s", "attack_time_s"])
        for d in ("full", "cut")
    ]
    pd.testing.assert_frame_equal(*logs)
    assert (
        len(pd.read_csv(ddp_runs / mode / "full" / "train_log.csv")) == 2
    )  # one row per epoch: rank 0 alone writes
