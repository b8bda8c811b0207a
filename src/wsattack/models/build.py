"""Build a classifier from a `model` config: the Hydra adapter of `load_model`."""

from __future__ import annotations

from pathlib import Path

from wsattack.models.load import ZOO_PREFIX, load_model
from wsattack.models.wrappers import Classifier


def build_model(cfg, image_shape=(1, 28, 28), num_classes: int = 10, zoo_dir=None) -> Classifier:
    """The network `cfg.name`, wrapped with binarize/normalize, weights from `cfg.checkpoint`
    (`PATH` or `zoo:NAME`, whose architecture must be `cfg.name`); see `load_model`."""
    checkpoint = str(cfg.get("checkpoint") or "")
    if checkpoint and not checkpoint.startswith(ZOO_PREFIX):
        checkpoint = Path(checkpoint)  # a file, even when it reads like an architecture name
    return load_model(
        checkpoint or cfg.name,
        architecture=cfg.name,
        image_shape=tuple(image_shape),
        num_classes=num_classes,
        binarize=bool(cfg.get("binarize", False)),
        normalize=cfg.get("normalize"),
        zoo_dir=zoo_dir,
    )
