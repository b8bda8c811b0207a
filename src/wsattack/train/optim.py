"""Optimizer and learning-rate schedule from the `train` config."""

from __future__ import annotations

import torch

from wsattack.errors import ConfigError

OPTIMIZERS = ("adam", "sgd")
SCHEDULERS = ("cosine", "step", "none")


def build_optimizer(params, cfg) -> torch.optim.Optimizer:
    if cfg.lr <= 0:
        raise ConfigError(f"train.lr must be positive, got {cfg.lr}")
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
        )
    raise ConfigError(
        f"unknown train.optimizer {cfg.optimizer!r}; choose from: {', '.join(OPTIMIZERS)}"
    )


def build_scheduler(optimizer, cfg, steps_per_epoch: int):
    """Stepped once per batch, so schedules are exact under mid-epoch resumption."""
    total = max(1, int(cfg.epochs) * steps_per_epoch)
    if cfg.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
    if cfg.scheduler == "step":
        return torch.optim.lr_scheduler.StepLR(
            optimizer, step_size=int(cfg.step_size) * steps_per_epoch, gamma=cfg.gamma
        )
    if cfg.scheduler == "none":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    raise ConfigError(
        f"unknown train.scheduler {cfg.scheduler!r}; choose from: {', '.join(SCHEDULERS)}"
    )
