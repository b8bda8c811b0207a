"""`wsattack attack`: attack a model batch by batch, verify every example, write CSVs and plots.

examples.csv columns: idx, label, clean_pred, adv_pred, clean_correct (1/0), success (1/0),
eps_found (0 when the clean image is already misclassified, inf when never fooled), eps_failed
(the largest radius at which the attack ran on the example and failed; 0 if none, and 0 for an
attack that does not track it), found_by (the attack that found eps_found: the sub-attack of an
ensemble, else attack.name), iterations,
exact_cost (exact distance of adv to the clean image in the ball's units; for the Wasserstein
ball the exact local transport cost per unit clean mass, of the mass adv keeps after clamping),
verified (1: exact_cost within the recorded radius, 0: outside it, -1: attack.verify=false),
mass_change (relative change of total mass, from clamping to [0,1]), linf, l2, time_s (attack and
verification time per image), target (-1 when untargeted).

Accuracy at r counts the examples with eps_found > r; one is backed at r only when the attack ran
at a radius >= r and failed (eps_failed >= r). summary.csv's unmeasured@r and the `unmeasured`
column of accuracy_vs_eps.csv count the examples counted but not backed: the accuracy there is
an upper bound by that many (a warning says so).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from wsattack.attacks.balls import WassersteinBall
from wsattack.attacks.build import build_attack
from wsattack.attacks.verify import verify
from wsattack.data import ImageData
from wsattack.errors import ConfigError
from wsattack.models.binarize import binarize_at
from wsattack.results import ResultTable
from wsattack.results.plots import plot_curves, plot_examples
from wsattack.results.robustness import (
    accuracy_at,
    unmeasured_at,
    unmeasured_curve,
    unmeasured_stretches,
)
from wsattack.smoothing import SmoothedClassifier
from wsattack.smoothing.attackable import smoothed_target
from wsattack.tasks.attack_parts import merge_parts, recover_parts, save_part
from wsattack.tasks.registry import register_task
from wsattack.tasks.setup import setup
from wsattack.tasks.sharding import attack_block, shard_range

log = logging.getLogger("wsattack")
UNTARGETED = -1
EXAMPLE_COLUMNS = [
    "idx",
    "label",
    "clean_pred",
    "adv_pred",
    "clean_correct",
    "success",
    "eps_found",
    "eps_failed",
    "found_by",
    "iterations",
    "exact_cost",
    "verified",
    "mass_change",
    "linf",
    "l2",
    "time_s",
    "target",
]
ADDED_COLUMNS = ("eps_failed", "found_by")  # absent from examples.csv of older versions


@register_task(
    "attack",
    "adversarial attack (examples.csv, accuracy_vs_eps.csv/png, examples.png, adversarial.pt)",
)
def run_attack(cfg, run_dir: Path) -> None:
    _, data, model = setup(cfg)
    model, data = binarize_at(str(cfg.model.binarize_at), model, data)
    model.requires_grad_(False)
    target, judge = _attacked_model(model, cfg, data.num_classes)
    attack = build_attack(target, cfg.attack, cfg.get("schedule"), judge)
    jobs = _jobs(data, cfg.attack.get("target"))
    shard = shard_range(cfg, len(jobs["row"]), _shard_block(cfg.attack, data.num_classes))
    _upgrade_examples(run_dir / "examples.csv", str(cfg.attack.name))
    table = ResultTable(run_dir / "examples.csv", EXAMPLE_COLUMNS)
    _attack_remaining(attack, data, jobs, shard, table, run_dir, cfg.attack, int(cfg.seed))
    finish_attack(table.read(), run_dir, cfg, attack)


def _shard_block(attack_cfg, num_classes: int) -> int:
    """Shards cut the job list on whole batches (so each batch, and the noise seeded by its
    first job, is the unsharded run's) and on whole images."""
    per_image = num_classes - 1 if str(attack_cfg.get("target")) == "all" else 1
    return attack_block(int(attack_cfg.batch_size), per_image)


def _upgrade_examples(path: Path, attack_name: str) -> None:
    """Resuming a run begun before examples.csv had eps_failed and found_by: add them to its rows
    (eps_failed 0, i.e. not tracked, so those rows count as unmeasured at every radius > 0)."""
    if not path.is_file():
        return
    frame = pd.read_csv(path, keep_default_na=False, na_values=[])
    if list(frame.columns) != [c for c in EXAMPLE_COLUMNS if c not in ADDED_COLUMNS]:
        return  # current, or foreign (ResultTable names the mismatch)
    frame["eps_failed"] = 0.0
    frame["found_by"] = attack_name
    tmp = path.with_name(f".{path.name}.upgrade")
    tmp.unlink(missing_ok=True)
    ResultTable(tmp, EXAMPLE_COLUMNS).replace(frame[EXAMPLE_COLUMNS].to_dict("records"))
    tmp.replace(path)
    log.warning(
        "%s predates eps_failed: its %d rows get eps_failed=0 (unmeasured above radius 0)",
        path,
        len(frame),
    )


def _attacked_model(model, cfg, num_classes: int):
    """The model and success judge: the network itself, or with `model.smoothing` the smoothed
    classifier (gradient of the average softmax, success by its hard vote, abstention = broken)."""
    noise_name = cfg.model.get("smoothing")
    if not noise_name:
        return model, None
    s = cfg.smoothing
    smoothed = SmoothedClassifier(model, num_classes, noise_name, float(cfg.sigma))
    samples = int(cfg.model.smoothing_samples)
    return smoothed_target(smoothed, samples, int(s.n_predict), float(s.alpha), int(s.batch_size))


def _jobs(data: ImageData, target) -> dict[str, torch.Tensor]:
    """(image row, target) pairs: one per image, or one per (image, other class) for target=all."""
    rows = torch.arange(len(data))
    if target is None:
        return {"row": rows, "target": torch.full_like(rows, UNTARGETED)}
    if str(target) == "all":
        classes = torch.arange(data.num_classes)
        pairs = [(r, c) for r in rows.tolist() for c in classes.tolist() if c != data.labels[r]]
        return {
            "row": torch.tensor([p[0] for p in pairs]),
            "target": torch.tensor([p[1] for p in pairs]),
        }
    if not (isinstance(target, int) and 0 <= target < data.num_classes):
        raise ConfigError(
            "attack.target must be null, all, or a class in "
            f"[0, {data.num_classes - 1}], got {target!r}"
        )
    keep = data.labels != target
    return {"row": rows[keep], "target": torch.full((int(keep.sum()),), target)}


def _attack_remaining(
    attack,
    data: ImageData,
    jobs,
    shard: range,
    table: ResultTable,
    run_dir: Path,
    attack_cfg,
    seed: int,
) -> None:
    """Attack the (image, target) jobs at the `shard` positions of the job list not yet in
    examples.csv, one batch at a time."""
    keys = list(zip(data.indices[jobs["row"]].tolist(), jobs["target"].tolist(), strict=True))
    recover_parts(run_dir, table, {key: j for j, key in enumerate(keys)})
    done = {tuple(k) for k in table.read()[["idx", "target"]].itertuples(index=False)}
    pending = torch.tensor([j for j in shard if keys[j] not in done], dtype=torch.long)
    if len(done):
        log.info("resuming: %d of %d examples already in %s", len(done), len(shard), table.path)
    batch_size = int(attack_cfg.batch_size)
    if batch_size <= 0:
        raise ConfigError(f"attack.batch_size must be positive, got {batch_size}")
    frame = table.read()
    fooled, seen = int(frame["success"].sum()), len(frame)
    bar = tqdm(
        total=len(shard), initial=len(shard) - len(pending), desc="attack", unit="img", disable=None
    )
    for start in range(0, len(pending), batch_size):
        chosen = pending[start : start + batch_size]
        # Seeded by the batch's first job, so a resumed run draws the same noise as a whole one.
        torch.manual_seed(seed * 1_000_003 + int(chosen[0]))
        rows = _attack_batch(
            attack,
            data,
            jobs["row"][chosen],
            jobs["target"][chosen],
            run_dir,
            attack_cfg.verify,
            str(attack_cfg.name),
        )
        table.append(rows)
        fooled, seen = fooled + sum(r["success"] for r in rows), seen + len(rows)
        bar.update(len(rows))
        bar.set_postfix(success=f"{fooled / seen:.1%}")
    bar.close()


def _attack_batch(
    attack,
    data: ImageData,
    rows: torch.Tensor,
    targets: torch.Tensor,
    run_dir: Path,
    check: bool,
    name: str,
):
    start = time.perf_counter()
    images, labels = data.images[rows], data.labels[rows]
    targeted = bool((targets != UNTARGETED).any())
    result = attack(images, labels, targets if targeted else None)
    checked = verify(attack.ball, images, result, exact=check)
    per_image = (time.perf_counter() - start) / len(rows)
    # 0: the attack does not say where it failed (every example then counts as unmeasured).
    failed = torch.zeros(len(rows)) if result.eps_failed is None else result.eps_failed.cpu()
    found_by = result.found_by or [name] * len(rows)
    table_rows = [
        {
            "idx": int(data.indices[r]),
            "label": int(labels[i]),
            "clean_pred": int(result.clean_pred[i]),
            "adv_pred": int(result.adv_pred[i]),
            "clean_correct": int(result.clean_pred[i] == labels[i]),
            "success": int(result.success[i]),
            "eps_found": float(result.eps_found[i]),
            "eps_failed": float(failed[i]),
            "found_by": str(found_by[i] or name),
            "iterations": int(result.iterations[i]),
            "exact_cost": float(checked.exact_cost[i]),
            "verified": int(checked.verified[i]),
            "mass_change": float(checked.mass_change[i]),
            "linf": float(checked.linf[i]),
            "l2": float(checked.l2[i]),
            "time_s": round(per_image, 5),
            "target": int(targets[i]),
        }
        for i, r in enumerate(rows.tolist())
    ]
    # The part, rows included, is on disk before the rows reach examples.csv (see attack_parts).
    part = {
        "idx": data.indices[rows].clone(),
        "target": targets.clone(),
        "label": labels.clone(),
        "clean": images.clone(),
        "adv": result.adv.cpu().float(),
        "eps_found": result.eps_found.cpu(),
    }
    save_part(run_dir, part, table_rows)
    return table_rows


def finish_attack(frame, run_dir: Path, cfg, attack) -> None:
    """adversarial.pt, accuracy_vs_eps.csv/png, examples.png and summary.csv of the examples
    in `frame` (examples.csv's rows); `attack` gives only its ball and radius schedule."""
    merged = merge_parts(
        run_dir, list(zip(frame["idx"].tolist(), frame["target"].tolist(), strict=True))
    )
    radii = list(cfg.attack.report_radii)
    eps, failed = _eps(frame)
    grid, acc, unmeasured = unmeasured_curve(eps, failed, radii)
    # Recomputed from scratch: an older file in this directory may lack the unmeasured column.
    (run_dir / "accuracy_vs_eps.csv").unlink(missing_ok=True)
    ResultTable(run_dir / "accuracy_vs_eps.csv", ["eps", "accuracy", "unmeasured"]).replace(
        {"eps": float(r), "accuracy": float(a), "unmeasured": int(u)}
        for r, a, u in zip(grid, acc, unmeasured, strict=True)
    )
    plot_curves(
        {cfg.model.name: (grid, acc, unmeasured_stretches(grid, eps, failed))},
        run_dir / "accuracy_vs_eps.png",
        "Wasserstein radius" if _is_wasserstein(attack) else "radius",
        "adversarial accuracy",
    )
    if merged:
        _plot_examples(merged, frame, run_dir / "examples.png")
    summary = _summary(frame, radii, cfg)
    _warn_unmeasured(eps, failed, radii, _schedule_start(attack), _search_rtol(attack))
    (run_dir / "summary.csv").unlink(missing_ok=True)  # other report_radii, other columns
    ResultTable(run_dir / "summary.csv", list(summary)).replace([summary])
    print(" ".join(f"{k}={v}" for k, v in summary.items()))


def _eps(frame) -> tuple[np.ndarray, np.ndarray]:
    return frame["eps_found"].to_numpy(dtype=float), frame["eps_failed"].to_numpy(dtype=float)


def _is_wasserstein(attack) -> bool:
    """Every Wasserstein attack (its ball says so), not only the one named `wasserstein`."""
    return isinstance(attack.ball, WassersteinBall)


def _schedule_start(attack) -> float | None:
    """The first radius the attack's schedule tries (None for attacks without a schedule)."""
    stages = getattr(attack, "schedule", None)
    return float(stages[0].radius(0)) if stages else None


def _search_rtol(attack) -> float | None:
    """The relative precision of the attack's per-example radius search (None without one)."""
    search = getattr(attack, "search", None)
    return None if search is None else float(search.rtol)


def _warn_unmeasured(eps, failed, radii, start: float | None, rtol: float | None = None) -> None:
    """One line when a reported accuracy counts examples the attack never ran at that radius or
    beyond, with what would measure them: a lower start (radii below the schedule's first), a
    schedule running further (examples never broken that stopped below r), or r on the schedule
    (examples broken above r after failing only below it: the schedule stepped over r); for a
    radius search (`rtol`), such an example's radius is bracketed around r to that precision."""
    clauses, advice = [], []
    for r in map(float, radii):
        unbacked = (eps > r) & (failed < r)
        if not unbacked.any():
            continue
        clauses.append(
            f"acc@{r:g} counts {int(unbacked.sum())} of {len(eps)} examples never attacked at "
            f"radius >= {r:g}"
        )
        if start is not None and r < start:
            advice.append("start the schedule lower")
            continue
        if (unbacked & np.isinf(eps)).any():
            advice.append("let the schedule run to larger radii")
        if (unbacked & np.isfinite(eps)).any():
            advice.append(
                "put the reported radii on the schedule (schedule=fixed)"
                if rtol is None
                else f"their radii are bracketed around it to rtol={rtol:g} (attack.params.rtol)"
            )
    if not clauses:
        return
    where = f" (the schedule starts at {start:g})" if start is not None else ""
    bound = "it is an upper bound" if len(clauses) == 1 else "they are upper bounds"
    advice = " and ".join(dict.fromkeys(advice)) or "attack at those radii"
    log.warning("%s%s: %s; %s", ", ".join(clauses), where, bound, advice)


def _plot_examples(merged, frame, path: Path, count: int = 6) -> None:
    chosen = [
        i for i in range(len(merged["idx"])) if 0 < float(merged["eps_found"][i]) < float("inf")
    ][:count]
    if not chosen:
        return
    preds = frame.set_index(["idx", "target"])
    captions = []
    for i in chosen:
        row = preds.loc[(int(merged["idx"][i]), int(merged["target"][i]))]
        captions.append(
            (
                f"clean: pred {int(row['clean_pred'])}",
                f"adv (eps {row['eps_found']:.3g}): pred {int(row['adv_pred'])}",
            )
        )
    sel = torch.tensor(chosen)
    plot_examples(merged["clean"][sel].numpy(), merged["adv"][sel].numpy(), captions, path)


def _summary(frame, radii, cfg) -> dict:
    eps, failed = _eps(frame)
    summary = {
        "attack": cfg.attack.name,
        "model": str(cfg.model.checkpoint or cfg.model.name),
        "dataset": cfg.dataset.name,
        "n": len(frame),
        "clean_accuracy": round(float(frame["clean_correct"].mean()), 6) if len(frame) else 0.0,
        "success_rate": round(float(frame["success"].mean()), 6) if len(frame) else 0.0,
        "median_eps_found": float(np.median(eps)) if len(frame) else 0.0,
        "unverified": int((frame["verified"] == 0).sum()),
        "mean_time_s": round(float(frame["time_s"].mean()), 5) if len(frame) else 0.0,
    }
    accuracy, unmeasured = accuracy_at(eps, radii), unmeasured_at(eps, failed, radii)
    for r, a, u in zip(radii, accuracy, unmeasured, strict=True):
        summary[f"acc@{r:g}"] = round(float(a), 6)
        summary[f"unmeasured@{r:g}"] = int(u)
    return summary
