"""`wsattack report runs=[DIR,...]`: compare attack runs (the paper's Figure 4).

Reads each run's examples.csv and writes, in the report's own run directory:
- accuracy_vs_eps.png: the runs' adversarial-accuracy curves overlaid, dashed where the accuracy
  counts examples the attack never ran (and failed) at that radius (an upper bound there);
- report.csv: one row per run: label, run, n, clean_accuracy, success_rate, then for each R in
  `radii` acc@R, the fraction of examples whose eps_found exceeds R (eps_found is 0 for an image
  misclassified to begin with and inf for one never fooled, as in the attack task), and
  unmeasured@R, how many of those the attack never ran at a radius >= R and failed (eps_failed
  < R; -1 for a run whose examples.csv predates eps_failed).
- sweep_summary.csv, when a run given is a Hydra sweep directory (`wsattack <task> -m ...`, it
  stands for all its jobs): one row per job, its directory, the overrides that set it apart
  from the sweep's other jobs, then its summary.csv.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from wsattack.errors import ConfigError
from wsattack.results import ResultTable
from wsattack.results.plots import plot_curves
from wsattack.results.robustness import (
    accuracy_at,
    accuracy_curve,
    unmeasured_at,
    unmeasured_curve,
    unmeasured_stretches,
)
from wsattack.results.sweeps import defining_overrides, is_sweep, sweep_jobs, sweep_summary
from wsattack.tasks.registry import register_task

log = logging.getLogger("wsattack")
EXAMPLES = "examples.csv"
SWEEP_SUMMARY = "sweep_summary.csv"
# What the report reads from examples.csv (eps_failed is optional: older runs lack it).
REQUIRED_COLUMNS = ("clean_correct", "success", "eps_found")


@register_task(
    "report", "overlay accuracy-vs-eps curves of attack runs (report.csv, accuracy_vs_eps.png)"
)
def run_report(cfg, run_dir: Path) -> None:
    listed, names, swept = _expand_sweeps(cfg.runs, run_dir)
    if swept and not any((Path(run) / EXAMPLES).is_file() for run in listed):
        return  # a sweep of certify or train runs: sweep_summary.csv is its report
    runs = _run_dirs(listed)
    labels = _labels(cfg.labels if cfg.labels is not None else names, runs)
    radii = _radii(cfg.radii)
    frames = {label: _examples(run) for label, run in zip(labels, runs, strict=True)}
    curves = {label: _curve(frame, radii) for label, frame in frames.items()}
    plot_curves(
        curves, run_dir / "accuracy_vs_eps.png", cfg.xlabel, "adversarial accuracy", cfg.title or ""
    )
    rows = [_row(label, run, frames[label], radii) for label, run in zip(labels, runs, strict=True)]
    # Recomputed from scratch: an older report.csv in this directory may have other radii.
    (run_dir / "report.csv").unlink(missing_ok=True)
    ResultTable(run_dir / "report.csv", list(rows[0])).replace(rows)
    print(pd.DataFrame(rows).drop(columns="run").to_string(index=False))
    log.info("report of %d runs in %s", len(runs), run_dir)


def _expand_sweeps(runs, run_dir: Path) -> tuple[list[str], list[str], bool]:
    """The runs with each sweep directory replaced by its jobs, a default label for each (a
    job's: its sweep and the overrides that set it apart), and whether a sweep was among them
    (then sweep_summary.csv is written)."""
    runs = [runs] if isinstance(runs, str) else list(runs or [])
    listed, names, summaries = [], [], []
    for run in map(Path, runs):
        if not is_sweep(run):
            listed.append(str(run))
            names.append(run.name)
            continue
        jobs = sweep_jobs(run)
        listed += [str(job) for job in jobs]
        names += [
            f"{run.name}/{job.name}: " + " ".join(f"{k}={v}" for k, v in overrides.items())
            for job, overrides in zip(jobs, defining_overrides(jobs), strict=True)
        ]
        summaries.append(sweep_summary(jobs))
    if summaries:
        table = pd.concat(summaries, ignore_index=True)
        (run_dir / SWEEP_SUMMARY).unlink(missing_ok=True)  # another sweep, other columns
        ResultTable(run_dir / SWEEP_SUMMARY, list(table.columns)).replace(table.to_dict("records"))
        log.info("%s: %d jobs", run_dir / SWEEP_SUMMARY, len(table))
    return listed, names, bool(summaries)


def _run_dirs(runs) -> list[Path]:
    """The run directories, each checked to exist and to hold an examples.csv."""
    runs = [runs] if isinstance(runs, str) else list(runs or [])
    if not runs:
        raise ConfigError(
            "report needs attack runs: runs=[DIR,DIR,...] (each an attack task's run directory)"
        )
    for run in map(Path, runs):
        if not run.is_dir():
            raise ConfigError(f"run directory {run} does not exist")
        if not (run / EXAMPLES).is_file():
            raise ConfigError(
                f"{run} holds no {EXAMPLES}: is it the run directory of `wsattack attack`?"
            )
    return [Path(r) for r in runs]


def _labels(labels, runs: list[Path]) -> list[str]:
    """One label per run; the directory name when none are given."""
    if labels is None:
        return [run.name for run in runs]
    labels = [str(label) for label in labels]
    if len(labels) != len(runs):
        raise ConfigError(
            f"labels has {len(labels)} entries but runs has {len(runs)}; give one label per run"
        )
    if len(set(labels)) != len(labels):
        raise ConfigError(f"labels must be distinct, got {labels}")
    return labels


def _radii(radii) -> list[float]:
    radii = sorted(float(r) for r in (radii or []))
    if not radii or radii[0] < 0:
        raise ConfigError(f"radii must be a non-empty list of radii >= 0, got {radii}")
    return radii


def _examples(run: Path) -> pd.DataFrame:
    try:
        frame = pd.read_csv(run / EXAMPLES, keep_default_na=False, na_values=[])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ConfigError(
            f"{run / EXAMPLES} is not a readable CSV ({type(err).__name__}); fix: runs= the run "
            "directories of `wsattack attack`"
        ) from err
    missing = [c for c in REQUIRED_COLUMNS if c not in frame]
    if missing:
        raise ConfigError(
            f"{run / EXAMPLES} lacks the columns {missing} of an attack's examples.csv; fix: runs= "
            "the run directories of `wsattack attack`"
        )
    numeric = [c for c in (*REQUIRED_COLUMNS, "eps_failed") if c in frame]
    bad = [c for c in numeric if pd.to_numeric(frame[c], errors="coerce").isna().any()]
    if bad:
        raise ConfigError(
            f"{run / EXAMPLES} has non-numbers in columns {bad}; fix: rerun that attack into a "
            "new directory"
        )
    if frame.empty:
        raise ConfigError(f"{run / EXAMPLES} has no rows yet: finish (or resume) that attack first")
    return frame


def _eps(frame: pd.DataFrame):
    return frame["eps_found"].to_numpy(dtype=float)


def _failed(frame: pd.DataFrame):
    """eps_failed, or None for an examples.csv written before the attack task recorded it."""
    return frame["eps_failed"].to_numpy(dtype=float) if "eps_failed" in frame else None


def _curve(frame: pd.DataFrame, radii):
    """(radii, accuracy, dashed steps) of one run; nothing dashed when eps_failed is unknown."""
    failed = _failed(frame)
    if failed is None:
        grid, accuracy = accuracy_curve(_eps(frame), radii)
        return grid, accuracy, np.zeros(len(grid), dtype=bool)
    grid, accuracy, _ = unmeasured_curve(_eps(frame), failed, radii)
    return grid, accuracy, unmeasured_stretches(grid, _eps(frame), failed)


def _row(label: str, run: Path, frame: pd.DataFrame, radii: list[float]) -> dict:
    row = {
        "label": label,
        "run": str(run),
        "n": len(frame),
        "clean_accuracy": round(float(frame["clean_correct"].mean()), 6),
        "success_rate": round(float(frame["success"].mean()), 6),
    }
    accuracy = accuracy_at(_eps(frame), radii)
    failed = _failed(frame)
    unmeasured = [-1] * len(radii) if failed is None else unmeasured_at(_eps(frame), failed, radii)
    for r, a, u in zip(radii, accuracy, unmeasured, strict=True):
        row[f"acc@{r:g}"] = round(float(a), 6)
        row[f"unmeasured@{r:g}"] = int(u)
    return row
