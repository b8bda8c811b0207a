"""Build a classifier from a `model` config: architecture, preprocessing and optional weights."""

from __future__ import annotations

from pathlib import Path

from wsattack.errors import ConfigError
from wsattack.models.checkpoint import load_weights, read_checkpoint
from wsattack.models.registry import MODELS
from wsattack.models.wrappers import Classifier
from wsattack.models.zoo import fetch, zoo_entry

ZOO_PREFIX = "zoo:"


def build_model(cfg, image_shape=(1, 28, 28), num_classes: int = 10, zoo_dir=None) -> Classifier:
    """The network `cfg.name`, wrapped with binarize/normalize, weights from `cfg.checkpoint`.

    Preprocessing is the union of the config's and the checkpoint's (a zoo entry or the project's
    own metadata), so a binarized model is never evaluated without its binarization.
    """
    binarize, normalize = bool(cfg.get("binarize", False)), cfg.get("normalize")
    state, source = None, None
    if cfg.get("checkpoint"):
        source, entry_binarize = resolve_checkpoint(str(cfg.checkpoint), cfg.name, zoo_dir)
        state, meta = read_checkpoint(source)
        pre = meta.get("preprocessing") or {}
        binarize = binarize or entry_binarize or bool(pre.get("binarize"))
        normalize = normalize or pre.get("normalize")
    channels, height, width = image_shape
    net = MODELS.get(cfg.name)(channels, num_classes, (height, width))
    if state is not None:
        load_weights(net, state, source)
    if normalize is not None:
        normalize = {"mean": list(normalize["mean"]), "std": list(normalize["std"])}
    return Classifier(net, cfg.name, binarize=binarize, normalize=normalize)


def resolve_checkpoint(spec: str, model_name: str, zoo_dir=None) -> tuple[Path, bool]:
    """A local path for `PATH` or `zoo:NAME`, and whether the zoo entry asks for binarization."""
    if not spec.startswith(ZOO_PREFIX):
        return Path(spec), False
    entry = zoo_entry(spec[len(ZOO_PREFIX) :])
    if entry.model != model_name:
        raise ConfigError(f"zoo model {entry.name} is a {entry.model}; use model={entry.model}")
    return fetch(entry, zoo_dir), entry.binarize
