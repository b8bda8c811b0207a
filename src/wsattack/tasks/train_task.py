"""`wsattack train`: standard, noisy, adversarial (Wasserstein, l_inf) or IBP training, in one
process, under torchrun, or with `launcher=ddp` starting torchrun itself."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from hydra.core.hydra_config import HydraConfig

from wsattack.models import save_checkpoint
from wsattack.runtime import seed_everything
from wsattack.tasks.registry import register_task
from wsattack.tasks.setup import load_data, load_model, prepare
from wsattack.tasks.sharding import refuse_shard
from wsattack.train import Trainer, distributed
from wsattack.train.augment import wants_augmentation
from wsattack.train.build import build_objective, build_probe
from wsattack.train.trainer import steps_per_epoch

log = logging.getLogger("wsattack")


@register_task(
    "train", "train a model (train_log.csv, checkpoints/, model.pt); adv=, noise=, launcher=ddp"
)
def run_train(cfg, run_dir: Path) -> None:
    refuse_shard(cfg)
    ctx = distributed.from_env()
    if cfg.launcher.name == "ddp" and not ctx.active:
        distributed.launch_torchrun(
            cfg.launcher.nproc_per_node, list(HydraConfig.get().overrides.task), run_dir
        )
        return
    device = distributed.start(ctx, prepare(cfg))
    run_dir = distributed.shared_run_dir(ctx, run_dir)
    train_data = load_data(cfg, cfg.train.split)
    eval_data = _eval_data(cfg)
    model = load_model(cfg, train_data, device, trained=False)
    if ctx.rank > 0:
        # Identical weights come from rank 0 anyway; noise and random starts must differ per rank.
        seed_everything(int(cfg.seed) + ctx.rank)
    steps = steps_per_epoch(len(train_data), int(cfg.train.batch_size), ctx.world_size)
    objective = build_objective(cfg.adv, cfg.noise, steps)
    trainer = Trainer(
        model,
        train_data,
        eval_data,
        cfg.train,
        device,
        run_dir,
        seed=int(cfg.seed),
        augment=wants_augmentation(cfg.train.augment, train_data.name),
        objective=objective,
        probe=build_probe(cfg.train.get("robust_eval"), eval_data, objective),
        dist=ctx,
    )
    metrics = trainer.fit()
    if ctx.is_main:
        save_checkpoint(run_dir / "model.pt", model, train_data.name, metrics)
        log.info("final: %s", metrics)
        print(
            f"trained {cfg.model.name} on {train_data.name} "
            f"(adv={cfg.adv.name}, noise={cfg.noise.name}): "
            f"test accuracy {metrics.get('test_acc')}; weights in {run_dir / 'model.pt'}"
        )
    distributed.stop(ctx)


def _eval_data(cfg):
    if not cfg.train.eval_split:
        return None
    data = load_data(cfg, cfg.train.eval_split)
    limit = cfg.train.eval_limit
    return data.select(torch.arange(min(int(limit), len(data)))) if limit else data
