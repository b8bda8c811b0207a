"""Hydra multirun sweeps on disk: a sweep directory (multirun.yaml) holds one directory per job,
each with the overrides that made it (.hydra/overrides.yaml) and its summary.csv."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

SWEEP_MARK = "multirun.yaml"
OVERRIDES = Path(".hydra") / "overrides.yaml"


def is_sweep(path: Path) -> bool:
    return (path / SWEEP_MARK).is_file()


def sweep_jobs(path: Path) -> list[Path]:
    """The job directories of the sweep at `path`, in job order (Hydra numbers them)."""
    jobs = [d for d in path.iterdir() if (d / OVERRIDES).is_file()]
    return sorted(
        jobs, key=lambda d: (not d.name.isdigit(), int(d.name) if d.name.isdigit() else 0, d.name)
    )


def job_overrides(job: Path) -> dict[str, str]:
    """{key: value} of the command-line overrides of one job."""
    pairs = (str(o).partition("=") for o in yaml.safe_load((job / OVERRIDES).read_text()) or [])
    return {key: value for key, _, value in pairs}


def defining_overrides(jobs: list[Path]) -> list[dict[str, str]]:
    """Per job, the overrides whose values differ between the jobs: what tells them apart."""
    every = [job_overrides(job) for job in jobs]
    keys = list(dict.fromkeys(k for overrides in every for k in overrides))
    varying = [k for k in keys if len({overrides.get(k) for overrides in every}) > 1]
    return [{k: overrides.get(k, "") for k in varying} for overrides in every]


def sweep_summary(jobs: list[Path]) -> pd.DataFrame:
    """One row per job: its directory, its defining overrides, then its summary.csv row (empty
    for a job without one, e.g. one still running or failed)."""
    rows = []
    for job, overrides in zip(jobs, defining_overrides(jobs), strict=True):
        summary = job / "summary.csv"
        records = pd.read_csv(summary).to_dict("records") if summary.is_file() else []
        rows.append({"job": str(job), **overrides, **(records[0] if records else {})})
    return pd.DataFrame(rows)
