"""Where wsattack finds its configs, shipped assets and the optional shared reference material."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
ASSETS_DIR = PACKAGE_DIR / "assets"


def config_dir() -> Path:
    """The Hydra config directory: inside an installed wheel, else the source tree's `configs/`."""
    packaged = PACKAGE_DIR / "configs"
    if packaged.is_dir():
        return packaged
    source_tree = PACKAGE_DIR.parent.parent / "configs"
    if source_tree.is_dir():
        return source_tree
    raise FileNotFoundError(f"wsattack configs not found in {packaged} or {source_tree}")


def shared_dir() -> Path:
    """Reference material (papers, MNIST test split, upstream checkpoints); may not exist."""
    return Path(os.environ.get("WSATTACK_SHARED", PACKAGE_DIR.parent.parent.parent / "shared"))
