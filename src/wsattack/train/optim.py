"""Optimizer and learning-rate schedule from the `train` config, each chosen by name."""

from __future__ import annotations

import torch

from wsattack.errors import ConfigError
from wsattack.registry import Registry

# name -> (params, train cfg) -> optimizer
OPTIMIZERS: Registry = Registry("train.optimizer")
# name -> (optimizer, train cfg, total steps, steps per epoch) -> scheduler
SCHEDULERS: Registry = Registry("train.scheduler")


@OPTIMIZERS.register("adam")
def _adam(params, cfg) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


@OPTIMIZERS.register("sgd")
def _sgd(params, cfg) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


@SCHEDULERS.register("cosine")
def _cosine(optimizer, cfg, total: int, steps_per_epoch: int):
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)


@SCHEDULERS.register("step")
def _step(optimizer, cfg, total: int, steps_per_epoch: int):
    return torch.optim.lr_scheduler.StepLR(
        optimizer, step_size=int(cfg.step_size) * steps_per_epoch, gamma=cfg.gamma
    )


@SCHEDULERS.register("none")
def _constant(optimizer, cfg, total: int, steps_per_epoch: int):
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)


def build_optimizer(params, cfg) -> torch.optim.Optimizer:
    factory = OPTIMIZERS.get(str(cfg.optimizer))
    if cfg.lr <= 0:
        raise ConfigError(f"train.lr must be positive, got {cfg.lr}")
    return factory(params, cfg)


def build_scheduler(optimizer, cfg, steps_per_epoch: int):
    """Stepped once per batch, so schedules are exact under mid-epoch resumption."""
    total = max(1, int(cfg.epochs) * steps_per_epoch)
    return SCHEDULERS.get(str(cfg.scheduler))(optimizer, cfg, total, steps_per_epoch)
