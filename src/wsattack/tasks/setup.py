"""What every task starts with: device, seed, data and model from the config."""

from __future__ import annotations

import logging

import torch

from wsattack.data import ImageData, build_dataset
from wsattack.models import Classifier, build_model
from wsattack.runtime import resolve_device, seed_everything

log = logging.getLogger("wsattack")


def prepare(cfg) -> torch.device:
    seed_everything(int(cfg.seed))
    device = resolve_device(str(cfg.device))
    if cfg.cpu_threads:
        torch.set_num_threads(int(cfg.cpu_threads))
    log.info("device %s, seed %s", device, cfg.seed)
    return device


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


def load_model(cfg, data: ImageData, device: torch.device) -> Classifier:
    model = build_model(cfg.model, tuple(data.images.shape[1:]), data.num_classes, cfg.zoo.dir)
    return model.to(device).eval()
