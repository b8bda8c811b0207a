"""Reproduce Levine & Feizi (2020), Table 1: Wasserstein and Laplace smoothing on MNIST.

Certifies the first N MNIST test images with each of the 14 zoo base models
(zoo:levine2020_mnist_{wasserstein,laplace}_sigma_S, S from the `levine2020` grid of the
levine2020_mnist preset), one job per model of one `wsattack certify -m experiment=levine2020_mnist`
sweep (on joblib with --jobs parallel jobs, or on --launcher, e.g. slurm_cpu), then writes
Table 1's columns (classification accuracy with the percent abstained, median certified
robustness, base classifier accuracy under noise) beside the paper's numbers. A model that
cannot be had is reported as unavailable and left out of the sweep; a job that fails is
reported and skipped.

With --sequential, every model is also certified with `smoothing.sequential=true` (job
<noise>_sigma_<S>_sequential), and the table shows its numbers and mean noise samples per image
beside the fixed-budget ones.

Resumable: OUT is the sweep directory and each job runs in OUT/<noise>_sigma_<S>/. A run whose
summary.csv already covers N images is not swept again; an interrupted one continues after its
last finished chunk. Writes OUT/table1.csv and OUT/table1.md.

    python scripts/reproduce_levine2020_mnist.py --n 500 [--data DIR] [--zoo-dir DIR] \
        [--jobs 4 | --launcher slurm_cpu] [HYDRA_OVERRIDE ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from wsattack.errors import ConfigError
from wsattack.models.zoo import fetch, zoo_entry
from wsattack.results.row_sweep import add_sweep_arguments, launcher_overrides, row_sweep
from wsattack.run import compose_config

PRESET = "levine2020_mnist"
NA = "N/A"
# Table 1 of the paper: sigma -> (accuracy %, abstained %, median certified robustness, base
# classifier accuracy %).
PAPER = {
    "wasserstein": {
        0.005: (98.71, 0.04, 0.0101, 97.94),
        0.01: (97.98, 0.19, 0.0132, 94.95),
        0.02: (93.99, 0.58, 0.0095, 79.72),
        0.05: (74.22, 3.95, 0, 43.67),
        0.1: (49.41, 1.29, 0, 30.26),
        0.2: (31.80, 8.40, NA, 25.13),
        0.5: (22.58, 0.84, NA, 22.67),
    },
    "laplace": {
        0.005: (98.87, 0.06, 0.0062, 97.47),
        0.01: (97.44, 0.19, 0.0053, 89.32),
        0.02: (91.11, 1.29, 0.0030, 67.08),
        0.05: (61.44, 7.45, 0, 33.80),
        0.1: (34.92, 9.36, NA, 25.56),
        0.2: (24.02, 5.67, NA, 22.85),
        0.5: (22.57, 1.05, NA, 22.70),
    },
}
TITLES = {"wasserstein": "Wasserstein smoothing", "laplace": "Laplace smoothing"}
COLUMNS = [
    "noise",
    "sigma",
    "n",
    "accuracy_pct",
    "abstained_pct",
    "paper_accuracy_pct",
    "paper_abstained_pct",
    "median_radius",
    "paper_median_radius",
    "base_accuracy_pct",
    "paper_base_accuracy_pct",
    "status",
]
# With --sequential: the same run with smoothing.sequential=true, and its mean samples per image.
SEQUENTIAL = "sequential"
SEQUENTIAL_COLUMNS = [
    "seq_accuracy_pct",
    "seq_abstained_pct",
    "seq_median_radius",
    "seq_base_accuracy_pct",
    "seq_mean_samples",
]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_sweep_arguments(parser, "outputs/reproduce_levine2020_mnist", "models certified")
    parser.add_argument(
        "--sequential",
        action="store_true",
        help="also certify with smoothing.sequential=true and show it beside the fixed budget",
    )
    return parser.parse_args()


def grid() -> list[tuple[str, float]]:
    """(noise, sigma) for every row of Table 1, read from the preset so the two cannot differ."""
    spec = compose_config("certify", [f"experiment={PRESET}"]).levine2020
    return [(str(noise), float(sigma)) for noise in spec.noises for sigma in spec.sigmas]


def model_name(noise: str, sigma: float) -> str:
    # str(float) spells the sigmas as the zoo names do (0.005, 0.01, ..., 0.5).
    return f"levine2020_mnist_{noise}_sigma_{sigma}"


def unavailable(name: str, zoo_dir: str) -> str | None:
    """None when the zoo model's weights can be had (mirror, cache or download), else why not."""
    try:
        fetch(zoo_entry(name), zoo_dir)
    except ConfigError as err:
        return str(err)
    return None


def finished(run_dir: Path, n: int) -> bool:
    """Whether a previous run already certified all n images (its summary covers them)."""
    summary = run_dir / "summary.csv"
    return summary.is_file() and int(pd.read_csv(summary)["n"].iloc[0]) == n


def run_name(noise: str, sigma: float, sequential: bool) -> str:
    """The sweep job (and its directory under OUT) of one row and mode."""
    return f"{noise}_sigma_{sigma}{'_' + SEQUENTIAL if sequential else ''}"


def sweep(todo: list[tuple[str, float, bool]], args) -> None:
    """Certify `todo` (noise, sigma, sequential) as the jobs of one `wsattack certify -m` sweep
    with its sweep directory args.out."""
    rows = {
        run_name(noise, sigma, sequential): [
            f"smoothing={noise}",
            f"sigma={sigma}",
            *(["smoothing.sequential=true"] if sequential else []),
        ]
        for noise, sigma, sequential in todo
    }
    print(f"== certifying {', '.join(rows)} (first {args.n} images) -> {args.out}", flush=True)
    common = [
        f"experiment={PRESET}",
        f"zoo.dir={args.zoo_dir}",
        # None: left to the dataset config (synthetic data, overridden in, has no root).
        *([f"dataset.root={args.data}"] if args.data else []),
        f"dataset.limit={args.n}",
        *args.overrides,
    ]
    launcher = launcher_overrides(args.launcher, args.jobs)
    status = row_sweep("certify", args.out, rows, launcher, common)
    if status != 0:
        print(f"== the sweep failed (exit {status}); its unfinished jobs are skipped", flush=True)


def measured_row(run_dir: Path) -> dict:
    """The measured columns from a finished run's summary.csv, in percent as in the paper."""
    summary = pd.read_csv(run_dir / "summary.csv", keep_default_na=False).iloc[0]
    median = summary["median_certified_radius"]
    return {
        "n": int(summary["n"]),
        "accuracy_pct": round(100 * float(summary["smoothed_accuracy"]), 2),
        "abstained_pct": round(100 * float(summary["abstained"]), 2),
        "median_radius": median if median == NA else round(float(median), 4),
        "base_accuracy_pct": round(100 * float(summary["base_accuracy_under_noise"]), 2),
        "status": "ok",
    }


def sequential_row(run_dir: Path) -> dict:
    """The sequential run's columns, beside the fixed-budget ones."""
    summary = pd.read_csv(run_dir / "summary.csv").iloc[0]
    row = {f"seq_{k}": v for k, v in measured_row(run_dir).items() if k not in ("n", "status")}
    return {**row, "seq_mean_samples": float(summary["mean_samples"])}


def paper_row(noise: str, sigma: float) -> dict:
    accuracy, abstained, median, base = PAPER[noise][sigma]
    return {
        "paper_accuracy_pct": accuracy,
        "paper_abstained_pct": abstained,
        "paper_median_radius": median,
        "paper_base_accuracy_pct": base,
    }


def run_all(args) -> pd.DataFrame:
    """Certify with every available model of the grid (finished runs left out) in one sweep;
    one table row per model."""
    modes = [False, True] if args.sequential else [False]
    why = {
        (noise, sigma): unavailable(model_name(noise, sigma), args.zoo_dir)
        for noise, sigma in grid()
    }
    todo = [
        (noise, sigma, sequential)
        for noise, sigma in grid()
        for sequential in modes
        if why[(noise, sigma)] is None
        and not finished(run_dir(args, noise, sigma, sequential), args.n)
    ]
    if todo:
        sweep(todo, args)
    rows = []
    for noise, sigma in grid():
        row = {"noise": noise, "sigma": sigma, **paper_row(noise, sigma)}
        runs = [run_dir(args, noise, sigma, sequential) for sequential in modes]
        if why[(noise, sigma)] is None and not all(finished(r, args.n) for r in runs):
            why[(noise, sigma)] = "wsattack certify failed (see its run.log)"
        if why[(noise, sigma)] is None:
            row.update(measured_row(runs[0]))
            if args.sequential:
                row.update(sequential_row(runs[1]))
        else:
            print(f"== {model_name(noise, sigma)} skipped: {why[(noise, sigma)]}", flush=True)
            row.update(n=0, status=f"unavailable: {why[(noise, sigma)]}")
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS + (SEQUENTIAL_COLUMNS if args.sequential else []))


def run_dir(args, noise: str, sigma: float, sequential: bool) -> Path:
    return args.out / run_name(noise, sigma, sequential)


def _accuracy(accuracy, abstained) -> str:
    """The paper's spelling: 98.71(00.04)."""
    if accuracy == "" or pd.isna(accuracy):
        return ""
    return f"{float(accuracy):.2f}({float(abstained):05.2f})"


def _radius(value) -> str:
    """As the paper prints it: 0.0095, 0 or N/A."""
    if value == "" or pd.isna(value):
        return ""
    if value == NA:
        return NA
    return "0" if float(value) == 0 else f"{float(value):.4f}"


def _base(value) -> str:
    return "" if value == "" or pd.isna(value) else f"{float(value):.2f}"


def _sequential_cells(row) -> list[str]:
    samples = row.seq_mean_samples
    return [
        _accuracy(row.seq_accuracy_pct, row.seq_abstained_pct),
        _radius(row.seq_median_radius),
        "" if pd.isna(samples) else f"{float(samples):.0f}",
    ]


def markdown(table: pd.DataFrame, n: int) -> str:
    """Table 1's layout: one block per noise model, measured beside the paper's numbers."""
    lines = [
        "# Levine & Feizi (2020), Table 1: certified Wasserstein accuracy on MNIST\n",
        f"Measured on the first {n} MNIST test images (paper: all 10,000). Accuracy: smoothed "
        "classification accuracy % (percent abstained); median: median certified robustness "
        "(1-Wasserstein radius, L2 ground metric); base: base classifier accuracy % under noise.\n",
    ]
    sequential = "seq_mean_samples" in table
    extra = " sequential: accuracy (abstained) | median | samples per image |" if sequential else ""
    if sequential:
        lines.append(
            "Sequential: the same with smoothing.sequential=true; samples: mean noise samples "
            "per image to certify (the fixed budget draws 11,000).\n"
        )
    for noise, block in table.groupby("noise", sort=False):
        lines += [
            f"## {TITLES.get(noise, noise)}\n",
            "| sigma | accuracy (abstained) | paper | median certified robustness | paper "
            "| base classifier accuracy | paper |" + extra + " status |",
            "|---|---|---|---|---|---|---|" + "---|---|---|" * sequential + "---|",
        ]
        for row in block.itertuples(index=False):
            cells = [
                f"{row.sigma:g}",
                _accuracy(row.accuracy_pct, row.abstained_pct),
                _accuracy(row.paper_accuracy_pct, row.paper_abstained_pct),
                _radius(row.median_radius),
                _radius(row.paper_median_radius),
                _base(row.base_accuracy_pct),
                _base(row.paper_base_accuracy_pct),
                *(_sequential_cells(row) if sequential else []),
                row.status,
            ]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    args = parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    table = run_all(args)
    if (table["status"] != "ok").all():
        sys.exit("no model could be certified: set --zoo-dir to a mirror of ../shared/checkpoints")
    table.to_csv(args.out / "table1.csv", index=False)
    (args.out / "table1.md").write_text(markdown(table, args.n))
    print(markdown(table, args.n))
    print(f"table: {args.out / 'table1.md'}, {args.out / 'table1.csv'}")


if __name__ == "__main__":
    main()
