"""The `smoothing` config group: every member names a noise model and valid certifier arguments,
and the sequential settings match the sequential certifier's own defaults."""

from __future__ import annotations

import pytest
import torch

from wsattack.smoothing import NOISE, SmoothedClassifier
from wsattack.smoothing.sequential_certifier import (
    DEFAULT_CHECKPOINTS,
    DEFAULT_FIRST_SHARE,
    DEFAULT_FUTILITY,
    DEFAULT_RADIUS_TOL,
)


def toy_classifier(batch: torch.Tensor) -> torch.Tensor:
    """Class 1 when the left pixel is heavier than the right one."""
    margin = batch[..., 0] - batch[..., 1]
    return torch.stack([-margin, margin], dim=-1).flatten(1)


@pytest.mark.parametrize("name", NOISE.names())
def test_each_noise_model_has_a_config(name: str, compose) -> None:
    smoothing = compose("certify", [f"smoothing={name}", "sigma=0.1"]).smoothing
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


def test_sequential_settings_default_to_the_certifiers_own(compose) -> None:
    smoothing = compose("certify", []).smoothing
    assert not smoothing.sequential and list(smoothing.radii) == []
    assert tuple(smoothing.checkpoints) == DEFAULT_CHECKPOINTS
    assert (smoothing.radius_tol, smoothing.futility) == (DEFAULT_RADIUS_TOL, DEFAULT_FUTILITY)
    assert smoothing.first_share == DEFAULT_FIRST_SHARE
