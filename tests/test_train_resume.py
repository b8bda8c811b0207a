"""Mid-epoch resumption: a run interrupted between two batches and resumed with train.resume=true
ends with the same weights and log as the uninterrupted run, RNG-driven training included."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from wsattack.data import synthetic_images
from wsattack.models import build_model
from wsattack.run import compose_config
from wsattack.train import Trainer
from wsattack.train.build import build_objective

SIZE = 16
BASE = [
    "dataset=synthetic",
    "train.batch_size=16",
    "train.epochs=2",
    "train.checkpoint_every=2",
    "device=cpu",
    "train.optimizer=sgd",
    "train.lr=0.05",
]
MODES = {
    "linf": ["adv=linf", "adv.steps=2", "adv.alpha=0.05"],  # random starts use the RNG
    "noise_per_sample": ["noise=laplace", "sigma=0.1"],
    "ibp": ["adv=ibp", "adv.ramp_epochs=1.5"],  # schedule by global step
}


class Interrupted(Exception):
    pass


def _train(run_dir, overrides, resume=False, crash_after=None):
    cfg = compose_config("train", [*BASE, *overrides, f"train.resume={str(resume).lower()}"])
    torch.manual_seed(0)
    data = synthetic_images(80, height=SIZE, width=SIZE, seed=0)
    model = build_model(cfg.model, (1, SIZE, SIZE))
    trainer = Trainer(
        model,
        data,
        data.select(torch.arange(16)),
        cfg.train,
        torch.device("cpu"),
        run_dir,
        objective=build_objective(cfg.adv, cfg.noise, steps_per_epoch=5),
    )
    if crash_after is not None:
        step, calls = trainer._step, []

        def failing_step(*args):
            if len(calls) == crash_after:
                raise Interrupted
            calls.append(1)
            step(*args)

        trainer._step = failing_step
    trainer.fit()
    return model.net.state_dict()


@pytest.mark.parametrize("mode", list(MODES))
def test_resume_mid_epoch_repeats_the_uninterrupted_run(mode, tmp_path):
    full = _train(tmp_path / "full", MODES[mode])
    cut = tmp_path / "cut"
    with pytest.raises(Interrupted):
        _train(
            cut, MODES[mode], crash_after=8
        )  # epoch 2, batch 4 of 5; last checkpoint after batch 2
    assert not (cut / "checkpoints" / "epoch_002.pt").exists()
    resumed = _train(cut, MODES[mode], resume=True)
    assert all(torch.equal(full[k], resumed[k]) for k in full), mode
    logs = [
        pd.read_csv(d / "train_log.csv").drop(columns=["time_s", "attack_time_s"])
        for d in (tmp_path / "full", cut)
    ]
    pd.testing.assert_frame_equal(*logs)


def test_resume_without_a_checkpoint_starts_from_scratch(tmp_path):
    fresh = _train(tmp_path / "a", MODES["linf"])
    resumed = _train(tmp_path / "b", MODES["linf"], resume=True)
    assert all(torch.equal(fresh[k], resumed[k]) for k in fresh)
