"""`wsattack report runs=[DIR,...]`: compare attack runs (the paper's Figure 4).

Reads each run's examples.csv and writes, in the report's own run directory:
- accuracy_vs_eps.png: the runs' adversarial-accuracy curves overlaid, dashed where the accuracy
  counts examples the attack never ran (and failed) at that radius (an upper bound there);
- report.csv: one row per run: label, run, n, clean_accuracy, success_rate, then for each R in
  `radii` acc@R, the fraction of examples whose eps_found exceeds R (eps_found is 0 for an image
  misclassified to begin with and inf for one never fooled, as in the attack task), and
  unmeasured@R, how many of those the attack never ran at a radius >= R and failed (eps_failed
  < R; -1 for a run whose examples.csv predates eps_failed).
"""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from wsattack.errors import ConfigError  # noqa: E402
from wsattack.results import ResultTable  # noqa: E402
from wsattack.results.robustness import (  # noqa: E402
    accuracy_at,
    accuracy_curve,
    unmeasured_at,
    unmeasured_curve,
    unmeasured_stretches,
)
from wsattack.tasks.registry import register_task

log = logging.getLogger("wsattack")
EXAMPLES = "examples.csv"


@register_task(
    "report", "overlay accuracy-vs-eps curves of attack runs (report.csv, accuracy_vs_eps.png)"
)
def run_report(cfg, run_dir: Path) -> None:
    runs = _run_dirs(cfg.runs)
    labels = _labels(cfg.labels, runs)
    radii = _radii(cfg.radii)
    frames = {label: _examples(run) for label, run in zip(labels, runs, strict=True)}
    curves = {label: _curve(frame, radii) for label, frame in frames.items()}
    plot_runs(
        curves, run_dir / "accuracy_vs_eps.png", cfg.xlabel, "adversarial accuracy", cfg.title or ""
    )
    rows = [_row(label, run, frames[label], radii) for label, run in zip(labels, runs, strict=True)]
    # Recomputed from scratch: an older report.csv in this directory may have other radii.
    (run_dir / "report.csv").unlink(missing_ok=True)
    ResultTable(run_dir / "report.csv", list(rows[0])).replace(rows)
    print(pd.DataFrame(rows).drop(columns="run").to_string(index=False))
    log.info("report of %d runs in %s", len(runs), run_dir)


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
    frame = pd.read_csv(run / EXAMPLES, keep_default_na=False, na_values=[])
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


def plot_runs(curves: dict, path: Path, xlabel: str, ylabel: str, title: str = "") -> None:
    """One step curve per label from (x, y, dashed): y drops at each x, and step i (from x[i] to
    x[i+1] at height y[i]) is dashed where dashed[i] (an accuracy not backed by the attack)."""
    fig, ax = plt.subplots(figsize=(5.5, 4))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    any_dashed = False
    for k, (label, (x, y, dashed)) in enumerate(curves.items()):
        x, y, dashed = np.asarray(x, float), np.asarray(y, float), np.asarray(dashed, bool)
        color = colors[k % len(colors)]
        flat = [((x[i], y[i]), (x[i + 1], y[i])) for i in range(len(x) - 1)]
        drops = [((x[i + 1], y[i]), (x[i + 1], y[i + 1])) for i in range(len(x) - 1)]
        styles = ["--" if dashed[i] else "-" for i in range(len(flat))]
        any_dashed |= bool(dashed[: len(flat)].any())
        ax.add_collection(
            LineCollection(flat + drops, colors=color, linestyles=styles + ["-"] * len(drops))
        )
        ax.plot(x[:1], y[:1], color=color, label=label)  # the legend entry (and a lone point)
    ax.autoscale_view()
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    handles, labels = ax.get_legend_handles_labels()
    if any_dashed:
        handles.append(Line2D([], [], color="gray", linestyle="--"))
        labels.append("upper bound: not attacked there")
    if len(handles) > 1:
        ax.legend(handles, labels)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


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
