"""`wsattack eval`: clean accuracy of a model on a dataset split, and with
`eval.verify_linf_eps=EPS` the accuracy verified by interval bounds in the l_inf ball of radius
EPS (for IBP-trained models; any sequential Conv/Linear/ReLU network can be checked)."""

from __future__ import annotations

import logging
from pathlib import Path

from wsattack.results import ResultTable
from wsattack.tasks.registry import register_task
from wsattack.tasks.setup import setup
from wsattack.tasks.sharding import refuse_shard
from wsattack.train.evaluate import accuracy
from wsattack.train.ibp import verified_accuracy

log = logging.getLogger("wsattack")
METRIC_COLUMNS = [
    "model",
    "checkpoint",
    "dataset",
    "split",
    "n",
    "accuracy",
    "verify_linf_eps",
    "verified_accuracy",
]


@register_task(
    "eval", "clean (and IBP-verified l_inf) accuracy of a model on a dataset split (metrics.csv)"
)
def run_eval(cfg, run_dir: Path) -> None:
    refuse_shard(cfg)
    device, data, model = setup(cfg)
    batch_size = int(cfg.eval.batch_size)
    acc = accuracy(model, data, batch_size, device)
    eps = cfg.eval.get("verify_linf_eps")
    verified = (
        verified_accuracy(model, data.images, data.labels, float(eps), batch_size)
        if eps is not None
        else None
    )
    row = {
        "model": cfg.model.name,
        "checkpoint": cfg.model.checkpoint or "",
        "dataset": data.name,
        "split": cfg.dataset.split,
        "n": len(data),
        "accuracy": round(acc, 6),
        "verify_linf_eps": "" if eps is None else float(eps),
        "verified_accuracy": "" if verified is None else round(verified, 6),
    }
    ResultTable(run_dir / "metrics.csv", METRIC_COLUMNS).replace([row])
    log.info("accuracy %.4f on %d images", acc, len(data))
    print(f"accuracy: {acc:.4f} ({data.name} {cfg.dataset.split}, n={len(data)})")
    if verified is not None:
        print(f"verified l_inf accuracy at eps {float(eps)}: {verified:.4f}")
