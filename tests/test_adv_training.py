"""Adversarial and IBP training on small synthetic images: each mode lowers its own loss, the
inner attack leaves the model untouched, and bad settings are one-line config errors."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from wsattack.data import synthetic_images
from wsattack.errors import ConfigError
from wsattack.models import Classifier, build_model, read_checkpoint
from wsattack.run import cli, compose_config
from wsattack.train import Trainer
from wsattack.train.adversaries import LinfAdversary, WassersteinAdversary
from wsattack.train.build import build_objective
from wsattack.train.trainer import LOG_COLUMNS

SIZE = 16
CHEAP = {
    "none": [],
    "wasserstein": ["adv.max_iter=4", "adv.every=2", "adv.sinkhorn_iters=20"],
    "linf": ["adv.eps=0.05", "adv.steps=4", "adv.alpha=0.02"],
    "ibp": ["adv.eps=0.05", "adv.ramp_epochs=1"],
}
FAST = [
    "dataset=synthetic",
    f"dataset.height={SIZE}",
    f"dataset.width={SIZE}",
    "dataset.train_size=192",
    "dataset.test_size=32",
    "train.batch_size=32",
    "train.epochs=1",
    "device=cpu",
    "train.robust_eval.every=0",
]


def _objective_loss(objective, model, images, labels, step):
    model.train()
    loss = objective(objective.network(model), model, images, labels, step).loss.item()
    model.eval()
    return loss


@pytest.mark.parametrize("adv", ["none", "wasserstein", "linf", "ibp"])
def test_one_epoch_of_each_mode_lowers_its_loss(adv, tmp_path):
    cfg = compose_config(
        "train",
        [
            *FAST,
            f"adv={adv}",
            *CHEAP[adv],
            "train.optimizer=adam",
            "train.lr=0.01",
            "train.scheduler=none",
        ],
    )
    torch.manual_seed(0)
    train = synthetic_images(192, height=SIZE, width=SIZE, seed=0)
    model = build_model(cfg.model, (1, SIZE, SIZE))
    objective = build_objective(cfg.adv, cfg.noise, steps_per_epoch=6)
    probe_x, probe_y = train.images[:64], train.labels[:64]
    # Judge IBP at its final eps (the step after the ramp), the others at any step.
    before = _objective_loss(objective, model, probe_x, probe_y, step=10)
    Trainer(model, train, None, cfg.train, torch.device("cpu"), tmp_path, objective=objective).fit()
    after = _objective_loss(objective, model, probe_x, probe_y, step=10)
    assert after < before - 0.05, (adv, before, after)


@pytest.mark.parametrize(
    "adversary",
    [
        WassersteinAdversary(eps0=0.2, growth=1.5, every=2, max_iter=4, sinkhorn_iters=20),
        LinfAdversary(eps=0.1, alpha=0.02, steps=4),
    ],
)
def test_inner_attack_never_changes_parameters_or_batchnorm_statistics(adversary):
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4 * SIZE * SIZE, 10),
    )
    model = Classifier(net, "bn_net").train()
    model.net[0].weight.requires_grad_(False)  # a frozen layer must stay frozen
    images, labels = synthetic_images(16, height=SIZE, width=SIZE).images, torch.randint(10, (16,))
    model(images)  # non-trivial running statistics
    before = {k: v.clone() for k, v in model.state_dict().items()}
    flags = [p.requires_grad for p in model.parameters()]
    adv, stats = adversary(model, images, labels)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert model.training and [p.requires_grad for p in model.parameters()] == flags
    assert all(p.grad is None for p in model.parameters())
    assert adv.shape == images.shape and not adv.requires_grad
    assert set(stats) == {"adv_broken", "adv_radius", "attack_time_s"}


def test_wasserstein_adversary_trains_on_first_example_found():
    torch.manual_seed(0)
    model = build_model(
        OmegaConf.create({"name": "mnist_cnn", "checkpoint": None}), (1, SIZE, SIZE)
    )
    images = synthetic_images(16, height=SIZE, width=SIZE).images
    with torch.no_grad():
        labels = model(images).argmax(1)  # every image starts correct
    adv, stats = WassersteinAdversary(eps0=0.5, growth=1.5, every=2, max_iter=6, sinkhorn_iters=20)(
        model, images, labels
    )
    with torch.no_grad():
        broken = model(adv).argmax(1) != labels
    assert stats["adv_broken"] == broken.sum().item()
    assert adv.min() >= 0 and adv.max() <= 1
    # Mass moves but is not created (clamping may only remove some).
    assert (adv.sum(dim=(1, 2, 3)) <= images.sum(dim=(1, 2, 3)) + 1e-3).all()


def test_log_columns_are_the_same_in_every_mode(tmp_path):
    for adv in ("none", "ibp"):
        cli(
            [
                "train",
                *FAST,
                f"adv={adv}",
                *CHEAP[adv],
                "train.robust_eval.every=1",
                "train.robust_eval.size=8",
                "train.robust_eval.max_iter=2",
                f"hydra.run.dir={tmp_path / adv}",
            ]
        )
        log = pd.read_csv(tmp_path / adv / "train_log.csv")
        assert list(log.columns) == LOG_COLUMNS
        assert 0 <= log["heldout_adv_acc"].iloc[0] <= log["heldout_clean_acc"].iloc[0] <= 1
    assert pd.isna(pd.read_csv(tmp_path / "none" / "train_log.csv")["adv_loss"].iloc[0])
    assert pd.read_csv(tmp_path / "ibp" / "train_log.csv")["adv_loss"].iloc[0] > 0


def test_binarized_baseline_trains_and_keeps_its_binarization(tmp_path):
    cli(["train", *FAST, "model.binarize=true", f"hydra.run.dir={tmp_path}"])
    assert read_checkpoint(tmp_path / "model.pt")[1]["preprocessing"]["binarize"] is True


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["adv=wasserstein", "adv.eps0=0"], "adv.eps0 must be positive"),
        (["adv=wasserstein", "adv.eps0=-0.1"], "adv.eps0 must be positive"),
        (["adv=linf", "adv.eps=0"], "adv.eps must be positive"),
        (["adv=ibp", "adv.kappa=2"], "kappa in [0, 1]"),
        (["adv=wasserstein", "+adv.radius=3"], "does not take ['radius']"),
        (["adv.name=pgd"], "unknown adv 'pgd'"),
        (["adv=pgd"], "adv"),
        (["noise=laplace", "adv=linf"], "cannot be combined"),
    ],
)
def test_bad_values_are_one_line_errors(overrides, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli(["train", *FAST, *overrides, f"hydra.run.dir={tmp_path}"])
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines


def test_builder_rejects_unknown_mode_directly():
    with pytest.raises(ConfigError, match="choose from: ibp, linf, none, wasserstein"):
        build_objective(OmegaConf.create({"name": "trades"}), OmegaConf.create({"name": "none"}))
