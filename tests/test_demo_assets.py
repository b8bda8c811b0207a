"""The packaged demo (make demo-assets): real Fashion-MNIST test images and a trained model."""

from __future__ import annotations

import torch

from wsattack.data.datasets import DEMO_SAMPLE
from wsattack.models.zoo import fetch, zoo_entry
from wsattack.paths import ASSETS_DIR
from wsattack.train import accuracy


def test_assets_are_small_and_load_without_pickled_code():
    sample = torch.load(DEMO_SAMPLE, weights_only=True)
    assert sample["images"].dtype == torch.uint8 and sample["images"].shape[1:] == (1, 28, 28)
    assert len(sample["images"]) == len(sample["labels"]) == len(sample["indices"]) >= 100
    assert sample["labels"].dtype == sample["indices"].dtype == torch.long
    assert sample["indices"].unique().numel() == len(sample["indices"])
    assert set(sample["labels"].tolist()) == set(range(10))
    assert sum(p.stat().st_size for p in ASSETS_DIR.glob("*.pt")) < 1_000_000
    torch.load(fetch(zoo_entry("demo_fashion_mnist_cnn")), weights_only=True)


def test_demo_model_is_accurate_on_the_demo_sample(compose):
    from wsattack.tasks.setup import load_data, load_model

    cfg = compose("attack", ["device=cpu"])
    data = load_data(cfg)
    model = load_model(cfg, data, torch.device("cpu"))
    assert data.name == "demo" and data.images.max() <= 1.0
    assert accuracy(model, data, 500, torch.device("cpu")) > 0.8
