"""Standard training on synthetic data: the loss falls, resume continues exactly, seeds repeat."""

from __future__ import annotations

import pandas as pd
import torch

from wsattack.models import read_checkpoint
from wsattack.run import cli

FAST = [
    "dataset=synthetic",
    "dataset.train_size=256",
    "dataset.test_size=64",
    "train.batch_size=32",
    "device=cpu",
]


def _train(run_dir, *overrides):
    cli(["train", *FAST, f"hydra.run.dir={run_dir}", *overrides])


def _weights(run_dir):
    return read_checkpoint(run_dir / "model.pt")[0]


def test_loss_falls_and_outputs_exist(tmp_path):
    _train(tmp_path, "train.epochs=4")
    log = pd.read_csv(tmp_path / "train_log.csv")
    assert log["epoch"].tolist() == [1, 2, 3, 4]
    assert log["train_loss"].iloc[-1] < 0.7 * log["train_loss"].iloc[0]
    assert log["test_acc"].iloc[-1] > 0.5
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir())[:4] == [
        f"epoch_00{i}.pt" for i in range(1, 5)
    ]
    assert (tmp_path / "config.yaml").is_file() and (tmp_path / "model.pt").is_file()


def test_same_seed_same_weights(tmp_path):
    _train(tmp_path / "a", "train.epochs=1", "seed=3")
    _train(tmp_path / "b", "train.epochs=1", "seed=3")
    _train(tmp_path / "c", "train.epochs=1", "seed=4")
    a, b, c = _weights(tmp_path / "a"), _weights(tmp_path / "b"), _weights(tmp_path / "c")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_resume_continues_at_the_right_epoch_and_matches(tmp_path):
    _train(tmp_path / "full", "train.epochs=3")
    _train(tmp_path / "cut", "train.epochs=3")
    # Simulate an interruption after epoch 1: roll the run back to its epoch-1 checkpoint.
    cut = tmp_path / "cut"
    (cut / "checkpoints" / "last.pt").write_bytes(
        (cut / "checkpoints" / "epoch_001.pt").read_bytes()
    )
    (cut / "model.pt").unlink()
    _train(cut, "train.epochs=3", "train.resume=true")
    log = pd.read_csv(cut / "train_log.csv")
    assert log["epoch"].tolist() == [1, 2, 3]
    full, resumed = _weights(tmp_path / "full"), _weights(cut)
    assert all(torch.allclose(full[k], resumed[k], atol=1e-6) for k in full)
    pd.testing.assert_frame_equal(
        log.drop(columns="time_s"),
        pd.read_csv(tmp_path / "full" / "train_log.csv").drop(columns="time_s"),
    )
