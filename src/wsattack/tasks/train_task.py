"""`wsattack train`: standard training (other modes plug a batch transform into the same loop)."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from wsattack.models import save_checkpoint
from wsattack.tasks.registry import register_task
from wsattack.tasks.setup import load_data, load_model, prepare
from wsattack.train import Trainer
from wsattack.train.augment import wants_augmentation

log = logging.getLogger("wsattack")


@register_task("train", "train a model (train_log.csv, checkpoints/, model.pt)")
def run_train(cfg, run_dir: Path) -> None:
    device = prepare(cfg)
    train_data = load_data(cfg, cfg.train.split)
    eval_data = _eval_data(cfg)
    model = load_model(cfg, train_data, device)
    trainer = Trainer(
        model,
        train_data,
        eval_data,
        cfg.train,
        device,
        run_dir,
        seed=int(cfg.seed),
        augment=wants_augmentation(cfg.train.augment, train_data.name),
    )
    metrics = trainer.fit()
    save_checkpoint(run_dir / "model.pt", model, train_data.name, metrics)
    log.info("final: %s", metrics)
    print(f"trained {cfg.model.name} on {train_data.name}: test accuracy {metrics.get('test_acc')}; weights in {run_dir / 'model.pt'}")


def _eval_data(cfg):
    if not cfg.train.eval_split:
        return None
    data = load_data(cfg, cfg.train.eval_split)
    limit = cfg.train.eval_limit
    return data.select(torch.arange(min(int(limit), len(data)))) if limit else data
