"""`wsattack certify`: randomized-smoothing certificates (Levine & Feizi 2020) for each image.

certify.csv columns: idx, label, predict (the certified class, or -1 = ABSTAIN), correct (1 when
predict == label; an abstention is never correct), radius (certified 1-Wasserstein radius with
the L2 ground metric, per unit mass; 0 on abstention), p_lower (Clopper-Pearson lower bound of the
guessed class's probability), abstain (1/0), time_s; then vote (hard-vote prediction from
smoothing.n_predict samples, -1 = abstain), vote_correct, top (the most frequent class among those
samples, never -1: the classification the paper's median certified robustness counts),
noise_accuracy (fraction of those noisy samples the base classifier gets right). With
`smoothing.radii`, one certified@r column per radius (1 when certified correct at radius >= r).
With `smoothing.sequential=true`, also samples (noise samples drawn to certify: selection plus
estimation) and predict_samples (drawn for the vote); with radii too, radius is the largest
requested radius certified and p_lower its threshold probability (`smoothing.radius_tests`).
Noise for image idx comes from a generator seeded by (seed, idx), so a run, a resumed run and a
rerun with the same seed give the same CSV.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from wsattack.data import ImageData
from wsattack.errors import ConfigError
from wsattack.results import ResultTable
from wsattack.results.certified import certified_accuracy, certified_column, table_row
from wsattack.results.plots import plot_curves
from wsattack.smoothing import ABSTAIN, SequentialSmoothedClassifier, SmoothedClassifier
from wsattack.tasks.registry import register_task
from wsattack.tasks.setup import setup
from wsattack.tasks.sharding import shard_range

log = logging.getLogger("wsattack")
CERTIFY_COLUMNS = [
    "idx",
    "label",
    "predict",
    "correct",
    "radius",
    "p_lower",
    "abstain",
    "time_s",
    "vote",
    "vote_correct",
    "top",
    "noise_accuracy",
]
SEQUENTIAL_COLUMNS = ["samples", "predict_samples"]


@register_task(
    "certify",
    "randomized-smoothing certificates (certify.csv, summary.csv, certified_accuracy.png)",
)
def run_certify(cfg, run_dir: Path) -> None:
    device, data, model = setup(cfg)
    s = cfg.smoothing
    _check_sample_counts(s)
    smoothed = _smoothed(model, data.num_classes, s)
    table = ResultTable(run_dir / "certify.csv", _columns(s))
    done = table.done("idx")
    # Cut as the attack cuts untargeted jobs, so shard I/N of both covers the same images.
    shard = shard_range(cfg, len(data), int(cfg.attack.batch_size))
    pending = [i for i in shard if int(data.indices[i]) not in done]
    chunk = int(cfg.certify.chunk)
    bar = tqdm(
        total=len(shard),
        initial=len(shard) - len(pending),
        desc="certify",
        unit="img",
        disable=None,
    )
    drawn = []
    for start in range(0, len(pending), chunk):
        rows = [
            _certify_one(smoothed, data, i, s, int(cfg.seed), device)
            for i in pending[start : start + chunk]
        ]
        table.append(rows)
        bar.update(len(rows))
        if s.sequential:
            drawn += [row["samples"] for row in rows]
            bar.set_postfix(samples=f"{np.mean(drawn):.0f}")
    bar.close()
    finish_certify(table, {int(data.indices[i]) for i in shard}, run_dir, s)


def _check_sample_counts(s) -> None:
    if int(s.n0) > int(s.n):
        raise ConfigError(f"smoothing.n0 must be <= smoothing.n, got {s.n0} > {s.n}")
    if not 0 < float(s.alpha) < 1:
        raise ConfigError(f"smoothing.alpha must be in (0, 1), got {s.alpha}")


def _smoothed(model, num_classes: int, s) -> SmoothedClassifier:
    if not s.sequential:
        return SmoothedClassifier(model, num_classes, s.name, float(s.sigma))
    return SequentialSmoothedClassifier(
        model,
        num_classes,
        s.name,
        float(s.sigma),
        checkpoints=list(s.checkpoints),
        radii=list(s.radii),
        radius_tol=float(s.radius_tol),
        futility=float(s.futility),
        first_share=float(s.first_share),
    )


def _columns(s) -> list[str]:
    extra = SEQUENTIAL_COLUMNS if s.sequential else []
    return CERTIFY_COLUMNS + extra + [certified_column(r) for r in s.radii]


def _certify_one(
    smoothed: SmoothedClassifier, data: ImageData, i: int, s, seed: int, device
) -> dict:
    start = time.perf_counter()
    idx, label, x = int(data.indices[i]), int(data.labels[i]), data.images[i].to(device)
    gen = torch.Generator(device=device).manual_seed(seed * 1_000_003 + idx)
    cert = smoothed.certify(x, int(s.n0), int(s.n), float(s.alpha), int(s.batch_size), gen)
    voted, counts = smoothed.vote_counts(
        x, int(s.n_predict), float(s.alpha), int(s.batch_size), gen
    )
    correct = cert.prediction == label
    return {
        "idx": idx,
        "label": label,
        "predict": cert.prediction,
        "correct": int(correct),
        "radius": float(cert.radius),
        "p_lower": float(cert.p_lower),
        "abstain": int(cert.prediction == ABSTAIN),
        "time_s": round(time.perf_counter() - start, 4),
        "vote": voted,
        "vote_correct": int(voted == label),
        "top": int(counts.argmax()),
        "noise_accuracy": float(counts[label]) / int(counts.sum()),
        "samples": cert.samples,
        "predict_samples": int(counts.sum()),
        **{certified_column(r): int(correct and cert.radius >= r) for r in s.radii},
    }


def finish_certify(table: ResultTable, indices: set[int], run_dir: Path, s) -> None:
    """summary.csv and certified_accuracy.png of the rows of `table` whose idx is in `indices`,
    for the `smoothing` settings `s`."""
    # Only this run's images: a rerun with a smaller dataset.limit must not count earlier rows.
    frame = table.read()
    frame = frame[frame["idx"].isin(indices)]
    row = {"smoothing": s.name, "sigma": float(s.sigma), **table_row(frame, list(s.radii))}
    ResultTable(run_dir / "summary.csv", list(row)).replace([row])
    finite = frame["radius"].to_numpy(dtype=float)
    grid = np.unique(np.concatenate([[0.0], finite[np.isfinite(finite)]]))
    plot_curves(
        {f"{s.name} sigma={s.sigma}": (grid, certified_accuracy(frame, grid))},
        run_dir / "certified_accuracy.png",
        "Wasserstein radius",
        "certified accuracy",
    )
    print(" ".join(f"{k}={v}" for k, v in row.items()))
