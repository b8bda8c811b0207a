"""Shared fixtures: the optional ../shared material, Hydra composition and the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from wsattack.paths import shared_dir
from wsattack.run import compose_config

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
