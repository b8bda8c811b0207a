"""What every task starts with: device, seed, data and model from the config."""

from __future__ import annotations

import logging

import torch
from omegaconf import OmegaConf

from wsattack.data import ImageData, build_dataset
from wsattack.errors import ConfigError
from wsattack.models import Classifier, build_model
from wsattack.runtime import resolve_device, seed_everything

log = logging.getLogger("wsattack")
RANDOM_WEIGHTS = "none"  # model.checkpoint=none: randomly initialized weights, on purpose


def prepare(cfg) -> torch.device:
    seed_everything(int(cfg.seed))
    device = resolve_device(str(cfg.device))
    if cfg.cpu_threads:
        torch.set_num_threads(int(cfg.cpu_threads))
    log.info("device %s, seed %s", device, cfg.seed)
    return device


def setup(cfg) -> tuple[torch.device, ImageData, Classifier]:
    """The start of every task that evaluates a trained model (eval, attack, certify): device
    and seed, the data of `cfg.dataset`, and the model of `cfg.model` on that device."""
    device = prepare(cfg)
    data = load_data(cfg)
    return device, data, load_model(cfg, data, device)


def load_data(cfg, split: str | None = None) -> ImageData:
    data = build_dataset(cfg.dataset, split)
    log.info(
        "dataset %s (%s): %d images of shape %s",
        data.name,
        split or cfg.dataset.split,
        len(data),
        tuple(data.images.shape[1:]),
    )
    return data


def load_model(cfg, data: ImageData, device: torch.device, trained: bool = True) -> Classifier:
    """The model of `cfg.model` on `device`, in eval mode.

    trained: refuse a model without weights (`model.checkpoint` null) with a one-line
    `ConfigError`, since attacking or certifying random weights gives meaningless results that
    look real; `model.checkpoint=none` asks for random weights explicitly.
    """
    model_cfg, spec = cfg.model, cfg.model.checkpoint
    if isinstance(spec, str) and spec.lower() == RANDOM_WEIGHTS:
        model_cfg = OmegaConf.merge(model_cfg, {"checkpoint": None})
    elif trained and not spec:
        raise ConfigError(
            f"model {model_cfg.name} has no checkpoint, so its weights would be random; fix: "
            f"model.checkpoint=PATH or zoo:NAME, or model.checkpoint={RANDOM_WEIGHTS} to use "
            "random weights on purpose"
        )
    model = build_model(model_cfg, tuple(data.images.shape[1:]), data.num_classes, cfg.zoo.dir)
    return model.to(device).eval()
