"""Interval bound propagation: sound bounds, exact at eps 0, verified accuracy, supported layers."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from wsattack.errors import ConfigError
from wsattack.models import Classifier, build_model, save_checkpoint
from wsattack.run import cli
from wsattack.train.ibp import (
    interval_forward,
    layers_of,
    margin_lower_bounds,
    verified,
    verified_accuracy,
)


def _model(binarize=False, normalize=None, seed=0) -> Classifier:
    torch.manual_seed(seed)
    cfg = OmegaConf.create(
        {"name": "mnist_cnn", "checkpoint": None, "binarize": binarize, "normalize": normalize}
    )
    return build_model(cfg, (1, 16, 16)).eval()


@pytest.mark.parametrize("normalize", [None, {"mean": [0.3], "std": [0.5]}])
def test_bounds_contain_random_perturbations(normalize):
    model = _model(normalize=normalize)
    x, eps = torch.rand(8, 1, 16, 16), 0.05
    layers = layers_of(model)
    lower, upper = interval_forward(layers, (x - eps).clamp(0, 1), (x + eps).clamp(0, 1))
    labels = torch.randint(10, (8,))
    margins = margin_lower_bounds(model, x, labels, eps)
    with torch.no_grad():
        for _ in range(200):
            z = model((x + torch.empty_like(x).uniform_(-eps, eps)).clamp(0, 1))
            assert (z >= lower - 1e-5).all() and (z <= upper + 1e-5).all()
            true_margin = z.gather(1, labels[:, None]) - z
            assert (true_margin >= margins - 1e-5).all()


def test_bounds_are_exact_at_eps_zero_and_widen_with_eps():
    model = _model()
    x, labels = torch.rand(4, 1, 16, 16), torch.arange(4)
    with torch.no_grad():
        z = model(x)
        exact = z.gather(1, labels[:, None]) - z
        assert torch.allclose(margin_lower_bounds(model, x, labels, 0.0), exact, atol=1e-5)
        assert (
            margin_lower_bounds(model, x, labels, 0.1)
            <= margin_lower_bounds(model, x, labels, 0.01) + 1e-6
        ).all()


def test_binarized_model_bounds_are_sound():
    model = _model(binarize=True)
    x = torch.rand(4, 1, 16, 16)
    lower, upper = interval_forward(layers_of(model), (x - 0.1).clamp(0, 1), (x + 0.1).clamp(0, 1))
    with torch.no_grad():
        for _ in range(50):
            z = model((x + torch.empty_like(x).uniform_(-0.1, 0.1)).clamp(0, 1))
            assert (z >= lower - 1e-5).all() and (z <= upper + 1e-5).all()


def test_verified_needs_every_other_margin_positive():
    margins = torch.tensor([[0.0, 1.0, 2.0], [0.5, 0.0, -0.1]])
    assert verified(margins, torch.tensor([0, 1])).tolist() == [True, False]


def test_verified_accuracy_is_clean_accuracy_at_zero_and_falls_with_eps():
    model = _model()
    x = torch.rand(32, 1, 16, 16)
    with torch.no_grad():
        labels = model(x).argmax(1)
    assert verified_accuracy(model, x, labels, 0.0) == 1.0
    assert verified_accuracy(model, x, labels, 0.5) < 1.0
    with pytest.raises(ConfigError):
        verified_accuracy(model, x, labels, -0.1)


def test_unsupported_networks_are_config_errors():
    with pytest.raises(ConfigError, match="sequential"):
        layers_of(
            build_model(OmegaConf.create({"name": "resnet_small", "checkpoint": None}), (3, 16, 16))
        )
    with pytest.raises(ConfigError, match="BatchNorm"):
        layers_of(Classifier(nn.Sequential(nn.Flatten(), nn.BatchNorm1d(4), nn.Linear(4, 2)), "bn"))


def test_eval_reports_verified_accuracy(tmp_path):
    model = build_model(OmegaConf.create({"name": "mnist_cnn", "checkpoint": None}), (1, 16, 16))
    save_checkpoint(tmp_path / "model.pt", model, "synthetic")
    data = ["dataset=synthetic", "dataset.height=16", "dataset.width=16", "dataset.test_size=64"]
    for eps in (0.0, 0.3):
        run = [f"eval.verify_linf_eps={eps}", "device=cpu", f"hydra.run.dir={tmp_path / str(eps)}"]
        cli(["eval", *data, f"model.checkpoint={tmp_path / 'model.pt'}", *run])
    exact, loose = (pd.read_csv(tmp_path / str(eps) / "metrics.csv").iloc[0] for eps in (0.0, 0.3))
    assert exact["verified_accuracy"] == exact["accuracy"] and exact["verify_linf_eps"] == 0.0
    assert loose["verified_accuracy"] <= loose["accuracy"]
