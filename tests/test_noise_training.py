"""Training base models of randomized smoothing: `noise=wasserstein|laplace sigma=...`, independent
noise per image by default, one noise sample per minibatch with `noise.per_batch=true`."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from wsattack.data import synthetic_images
from wsattack.run import cli, compose_config
from wsattack.smoothing import LaplaceNoise, WassersteinNoise
from wsattack.train.noise import NoiseTransform

SIZE = 16
FAST = [
    "dataset=synthetic",
    f"dataset.height={SIZE}",
    f"dataset.width={SIZE}",
    "dataset.train_size=96",
    "dataset.test_size=32",
    "train.batch_size=32",
    "train.epochs=1",
    "device=cpu",
    "train.robust_eval.every=0",
]


def _images(n=8):
    return synthetic_images(n, height=SIZE, width=SIZE, seed=0).images


def _unit_noise(noisy, images):
    """The noise of each image per unit of its mass: what the noise model drew."""
    return (noisy - images) / images.sum(dim=(1, 2, 3), keepdim=True)


@pytest.mark.parametrize("noise", [WassersteinNoise(0.05), LaplaceNoise(0.05)])
def test_per_sample_noise_differs_between_images(noise):
    images = _images()
    unit = _unit_noise(NoiseTransform(noise)(None, images, None), images)
    assert not torch.allclose(unit[0], unit[1], atol=1e-6)


@pytest.mark.parametrize("noise", [WassersteinNoise(0.05), LaplaceNoise(0.05)])
def test_per_batch_noise_is_one_sample_scaled_by_each_mass(noise):
    images = _images()
    unit = _unit_noise(NoiseTransform(noise, per_batch=True)(None, images, None), images)
    assert torch.allclose(unit, unit[:1].expand_as(unit), atol=1e-5)
    assert unit.std() > 0.01


def test_flow_noise_keeps_each_images_mass_in_both_modes():
    images = _images()
    for per_batch in (False, True):
        noisy = NoiseTransform(WassersteinNoise(0.1), per_batch=per_batch)(None, images, None)
        assert torch.allclose(noisy.sum(dim=(1, 2, 3)), images.sum(dim=(1, 2, 3)), rtol=1e-4)


def test_noise_configs_share_the_top_level_sigma():
    cfg = compose_config("train", ["noise=wasserstein", "sigma=0.02"])
    assert (
        cfg.noise.sigma == 0.02 and cfg.noise.name == "wasserstein" and cfg.noise.per_batch is False
    )
    assert (
        compose_config("train", ["noise=laplace", "noise.per_batch=true"]).noise.per_batch is True
    )


@pytest.mark.parametrize(
    "overrides", [["noise=wasserstein", "sigma=0.02"], ["noise=laplace", "noise.per_batch=true"]]
)
def test_noise_training_runs_from_the_cli(overrides, tmp_path):
    cli(["train", *FAST, *overrides, f"hydra.run.dir={tmp_path}"])
    log = pd.read_csv(tmp_path / "train_log.csv")
    assert log["epoch"].tolist() == [1] and (tmp_path / "model.pt").is_file()


def test_nonpositive_sigma_is_a_one_line_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli(["train", *FAST, "noise=laplace", "sigma=0", f"hydra.run.dir={tmp_path}"])
    assert exit_info.value.code == 2
    assert "sigma" in capsys.readouterr().err
