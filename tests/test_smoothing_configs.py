"""The `smoothing` config group: every file names a noise model and valid certifier arguments."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from wsattack.smoothing import NOISE, SmoothedClassifier

GROUP = Path(__file__).resolve().parent.parent / "configs" / "smoothing"


def toy_classifier(batch: torch.Tensor) -> torch.Tensor:
    """Class 1 when the left pixel is heavier than the right one."""
    margin = batch[..., 0] - batch[..., 1]
    return torch.stack([-margin, margin], dim=-1).flatten(1)


@pytest.mark.parametrize("name", NOISE.names())
def test_each_noise_model_has_a_config(name: str) -> None:
    # The top-level `sigma` is shared with training noise; supply it as the root config does.
    cfg = OmegaConf.create({"sigma": 0.1, "smoothing": OmegaConf.load(GROUP / f"{name}.yaml")})
    smoothing = cfg.smoothing
    assert smoothing.name == name and smoothing.sigma == 0.1
    assert (smoothing.n0, smoothing.n, smoothing.n_predict, smoothing.alpha) == (
        1000,
        10000,
        10000,
        0.05,
    )
    smooth = SmoothedClassifier(toy_classifier, 2, smoothing.name, smoothing.sigma)
    x = torch.tensor([[[0.9, 0.1]]])
    gen = torch.Generator().manual_seed(0)
    cert = smooth.certify(x, smoothing.n0, smoothing.n, smoothing.alpha, smoothing.batch_size, gen)
    assert cert.prediction == 1 and cert.radius > 0
    assert smooth.predict(x, smoothing.n_predict, smoothing.alpha, smoothing.batch_size, gen) == 1
