"""`wsattack eval`: clean accuracy of a model on a dataset split."""

from __future__ import annotations

import logging
from pathlib import Path

from wsattack.results import ResultTable
from wsattack.tasks.registry import register_task
from wsattack.tasks.setup import load_data, load_model, prepare
from wsattack.train.evaluate import accuracy

log = logging.getLogger("wsattack")
METRIC_COLUMNS = ["model", "checkpoint", "dataset", "split", "n", "accuracy"]


@register_task("eval", "clean accuracy of a model on a dataset split (metrics.csv)")
def run_eval(cfg, run_dir: Path) -> None:
    device = prepare(cfg)
    data = load_data(cfg)
    model = load_model(cfg, data, device)
    acc = accuracy(model, data, int(cfg.eval.batch_size), device)
    row = {
        "model": cfg.model.name,
        "checkpoint": cfg.model.checkpoint or "",
        "dataset": data.name,
        "split": cfg.dataset.split,
        "n": len(data),
        "accuracy": round(acc, 6),
    }
    ResultTable(run_dir / "metrics.csv", METRIC_COLUMNS).replace([row])
    log.info("accuracy %.4f on %d images", acc, len(data))
    print(f"accuracy: {acc:.4f} ({data.name} {cfg.dataset.split}, n={len(data)})")
