"""Shared fixtures: the optional ../shared material, Hydra composition and the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from wsattack.data import synthetic_images
from wsattack.models import build_model, save_checkpoint
from wsattack.paths import shared_dir
from wsattack.run import compose_config
from wsattack.train import Trainer

REPO = Path(__file__).resolve().parent.parent
# As the CLI does (cpu_threads=1): small tensor ops run fastest, and steadiest, on one thread.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def shared() -> Path:
    """../shared (or $WSATTACK_SHARED); tests that need it skip cleanly when it is absent."""
    path = shared_dir()
    if not (path / "data" / "MNIST" / "raw").is_dir():
        pytest.skip(f"shared reference material not found at {path}")
    return path


@pytest.fixture
def compose():
    """compose(task, overrides) -> DictConfig, through Hydra's compose API as the CLI does."""

    def _compose(task: str, overrides: list[str] | tuple = ()):
        return compose_config(task, list(overrides))

    return _compose


def run_cli(
    *args: str, cwd: Path | None = None, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run `wsattack ARGS` in a subprocess, as a user would."""
    code = "from wsattack.run import cli; cli()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd or REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def train_tiny_classifier(run_dir: Path, size: int = 16, epochs: int = 5, transform=None):
    """A mnist_cnn trained in seconds on 600 synthetic size x size images (seed 0), saved as
    run_dir/model.pt, returned in eval mode with parameter gradients off."""
    torch.manual_seed(0)
    model = build_model(
        OmegaConf.create({"name": "mnist_cnn", "checkpoint": None}), (1, size, size)
    )
    cfg = OmegaConf.create(
        {
            "epochs": epochs,
            "batch_size": 32,
            "optimizer": "adam",
            "lr": 0.003,
            "weight_decay": 0.0,
            "scheduler": "none",
            "resume": False,
        }
    )
    data = synthetic_images(600, height=size, width=size, seed=0)
    Trainer(model, data, None, cfg, torch.device("cpu"), run_dir, transform=transform).fit()
    save_checkpoint(run_dir / "model.pt", model, "synthetic")
    model.zero_grad(set_to_none=True)
    return model.eval().requires_grad_(False)


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """A tiny mnist_cnn trained on synthetic blobs, for tests that need some trained weights."""
    run = tmp_path_factory.mktemp("model")
    train_tiny_classifier(run)
    return run / "model.pt"
