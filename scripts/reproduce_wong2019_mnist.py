"""Reproduce Wong, Schmidt & Kolter (2019), Figure 4: the Wasserstein attack on four MNIST models.

Attacks zoo:wong2019_mnist_{vanilla,binarize,robust,adv_training} over the first N MNIST test
images, one job per model of one `wsattack attack -m` sweep (on joblib with --jobs parallel
jobs, or on --launcher, e.g. slurm_gpu), with one preset (default wong2019_mnist_code: the
authors' attack_mnist.py, p=2, 7x7, eps0 0.7, which produced the numbers of their README;
wong2019_mnist is the paper's text), then overlays the accuracy-vs-radius curves with `wsattack
report` and tabulates the accuracy at eps 1.0 beside the authors' (4 / 14 / 48 / 86%). The
binarized model is attacked under both protocols (`model.binarize_at`): binarized inside the
model (the defense as deployed) and the authors' (the clean images binarized once, the plain
network attacked: their 14 %). A model that cannot be had (adv_training is not in ../shared, and
there may be no network) is reported as unavailable and left out of the sweep.

Resumable: OUT/<preset>/ is the sweep directory and each row's attack runs in
OUT/<preset>/<row>/; a rerun continues after the last finished batch (finished runs only
rewrite their CSVs and plots). Writes OUT/<preset>/report/ (report.csv, accuracy_vs_eps.png)
and OUT/<preset>/table_eps1.{csv,md}.

    python scripts/reproduce_wong2019_mnist.py --n 500 [--data DIR] [--zoo-dir DIR] \
        [--jobs 4 | --launcher slurm_gpu] [HYDRA_OVERRIDE ...]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pandas as pd

from wsattack.errors import ConfigError
from wsattack.models.zoo import fetch, zoo_entry
from wsattack.results.row_sweep import add_sweep_arguments, launcher_overrides, row_sweep

# The authors' README: MNIST accuracy (%) at eps 1.0.
AUTHORS = {"vanilla": 4, "binarize": 14, "robust": 48, "adv_training": 86}
# The rows: label -> (zoo model, where a binarized model's binarization happens).
ROWS = {
    "vanilla": ("vanilla", "model"),
    "binarize": ("binarize", "model"),
    "binarize_authors_protocol": ("binarize", "input"),
    "robust": ("robust", "model"),
    "adv_training": ("adv_training", "model"),
}
PROTOCOL = {"model": "binarized inside the model", "input": "clean image binarized once"}
RADII = [0.5, 1.0, 1.5, 2.0]
RADIUS = 1.0
# The authors' figures are over the whole MNIST test set; only a run over all of it can say
# whether a figure is reproduced (the first N images are no random sample: the second half of
# the test set is the harder one).
MNIST_TEST_SIZE = 10_000


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_sweep_arguments(parser, "outputs/reproduce_wong2019_mnist", "models attacked")
    parser.add_argument(
        "--preset", default="wong2019_mnist_code", choices=["wong2019_mnist_code", "wong2019_mnist"]
    )
    parser.add_argument(
        "--rows",
        type=lambda s: s.split(","),
        default=list(ROWS),
        help=f"the rows to attack, comma-separated (default all: {','.join(ROWS)}); rows in "
        "separate invocations share the sweep directory, and a last run of all rows resumes "
        "them and tabulates",
    )
    return parser.parse_args()


def wsattack(*args: str) -> None:
    """`wsattack ARGS` in a child process, as a user would run it; stops here if it fails."""
    result = subprocess.run([sys.executable, "-m", "wsattack.run", *args])
    if result.returncode != 0:
        sys.exit(f"wsattack {args[0]} failed (exit {result.returncode}): wsattack {' '.join(args)}")


def available(model: str, zoo_dir: str) -> str | None:
    """None when the zoo model's weights can be had (mirror, cache or download), else why not."""
    try:
        fetch(zoo_entry(f"wong2019_mnist_{model}"), zoo_dir)
    except ConfigError as err:
        return str(err)
    return None


def attack(labels: list[str], args, out: Path) -> dict[str, Path]:
    """Attack the rows `labels` as the jobs of one `wsattack attack -m` sweep with its sweep
    directory `out`; {label: its run directory}. Stops here if the sweep fails."""
    rows = {
        label: [
            f"model.checkpoint=zoo:wong2019_mnist_{ROWS[label][0]}",
            f"model.binarize_at={ROWS[label][1]}",
        ]
        for label in labels
    }
    print(f"== attacking {', '.join(rows)} ({args.preset}, first {args.n} images) -> {out}")
    common = [
        f"experiment={args.preset}",
        f"dataset.root={args.data}",
        f"dataset.limit={args.n}",
        f"zoo.dir={args.zoo_dir}",
        *args.overrides,
    ]
    status = row_sweep("attack", out, rows, launcher_overrides(args.launcher, args.jobs), common)
    if status != 0:
        sys.exit(f"the wsattack attack sweep failed (exit {status}); see the run.log of its jobs")
    return {label: out / label for label in labels}


def report(runs: dict[str, Path], out: Path, preset: str) -> pd.DataFrame:
    """Figure 4 (the curves overlaid) and report.csv, by `wsattack report`."""
    wsattack(
        "report",
        f"runs=[{','.join(str(r) for r in runs.values())}]",
        f"labels=[{','.join(runs)}]",
        f"radii=[{','.join(map(str, RADII))}]",
        # Quoted: Hydra's override grammar does not take spaces or parentheses bare.
        f"title='Wong et al. 2019, Figure 4 ({preset})'",
        f"hydra.run.dir={out}",
    )
    return pd.read_csv(out / "report.csv")


def table(measured: pd.DataFrame, missing: dict[str, str], labels: list[str]) -> pd.DataFrame:
    """Accuracy at eps 1.0, ours beside the authors', one row per model and protocol attacked
    (`labels`) or unavailable."""
    rows = []
    for label, (model, where) in ROWS.items():
        if label not in labels and model not in missing:
            continue
        row = {
            "model": f"wong2019_mnist_{model}",
            "binarization": PROTOCOL[where] if model == "binarize" else "",
            "authors_acc_pct": AUTHORS[model],
        }
        if model in missing:
            row.update(n=0, clean_acc_pct="", measured_acc_pct="", status="unavailable")
        else:
            ours = measured.set_index("label").loc[label]
            row.update(
                n=int(ours["n"]),
                clean_acc_pct=round(100 * ours["clean_accuracy"], 1),
                measured_acc_pct=round(100 * ours[f"acc@{RADIUS:g}"], 1),
                status="ok",
            )
        row["readme_reproduced"] = "" if model in missing else _reproduced(row)
        rows.append(row)
    columns = ["model", "binarization", "n", "clean_acc_pct", "measured_acc_pct"]
    columns += ["authors_acc_pct", "readme_reproduced", "status"]
    return pd.DataFrame(rows, columns=columns)


def _reproduced(row: dict) -> str:
    """Over the whole test set: "yes" when the measured accuracy is within half a point of the whole
    percent the authors state, else "no"; on fewer images "" (it cannot say)."""
    if row["n"] < MNIST_TEST_SIZE:
        return ""
    return "yes" if abs(row["measured_acc_pct"] - row["authors_acc_pct"]) <= 0.5 else "no"


def write_markdown(frame: pd.DataFrame, path: Path, preset: str, missing: dict[str, str]) -> None:
    header = "| " + " | ".join(frame.columns) + " |\n|" + "---|" * len(frame.columns) + "\n"
    body = "".join(
        "| " + " | ".join(str(v) for v in row) + " |\n" for row in frame.itertuples(index=False)
    )
    intro = (
        f"MNIST adversarial accuracy (%) at Wasserstein radius {RADIUS:g}, preset `{preset}`. "
        "The binarized model under both protocols: binarized inside the model (the defense as "
        "deployed; adversarial images are judged binarized) and the authors' attack_mnist.py "
        "protocol (the clean image binarized once, the plain network attacked; adversarial "
        "images are not binarized), which their 14 % measures. readme_reproduced (whole test set "
        "only) says whether the measured figure is the one their README states."
    )
    if preset == "wong2019_mnist_code":
        intro += (
            " This preset gives the per-image radii of the authors' attack_mnist.py itself, so "
            "over the whole test set the measured column is what that script produces."
        )
    intro += "\n\n"
    notes = "".join(f"\n- {model}: {why}" for model, why in missing.items())
    path.write_text(intro + header + body + (f"\nUnavailable models:{notes}\n" if notes else ""))


def main() -> None:
    args = parse_args()
    unknown = sorted(set(args.rows) - set(ROWS))
    if unknown:
        sys.exit(f"unknown rows {unknown}; choose from: {', '.join(ROWS)}")
    out = args.out / args.preset
    labels, missing = [], {}
    for label, (model, _) in ROWS.items():
        if label not in args.rows:
            continue
        why = missing.get(model) or available(model, args.zoo_dir)
        if why is not None:
            if model not in missing:
                print(f"== wong2019_mnist_{model} is unavailable, skipped: {why}", flush=True)
            missing[model] = why
            continue
        labels.append(label)
    if not labels:
        sys.exit(
            "no model of the zoo is available: set --zoo-dir to a mirror of ../shared/checkpoints"
        )
    runs = attack(labels, args, out)
    result = table(report(runs, out / "report", args.preset), missing, labels)
    result.to_csv(out / "table_eps1.csv", index=False)
    write_markdown(result, out / "table_eps1.md", args.preset, missing)
    print(result.drop(columns="status").to_string(index=False))
    print(f"Figure 4: {out / 'report' / 'accuracy_vs_eps.png'}; table: {out / 'table_eps1.md'}")


if __name__ == "__main__":
    main()
