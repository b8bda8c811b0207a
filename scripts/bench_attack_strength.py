"""Attack strength: adversarial accuracy of each attack on each model at fixed Wasserstein radii.

The issue's yardstick (a benchmark, not a test): the first N (default 100) MNIST test images,
Euclidean cost (p=1), 5x5 plans, radii 0.05 0.1 0.2 0.3 0.5 1.0 2.0, one CPU thread. For each
model (default zoo:wong2019_mnist_robust; more with --model NAME=CHECKPOINT[@DATASET], e.g.
fmnist_adv=outputs/strength/fmnist_adv/model.pt@fashion_mnist) and each attack (default
wasserstein, hu2020, wasserstein_pgd, wasserstein_fw, auto), runs `wsattack attack` in a child
process into OUT/MODEL/ATTACK; the old `wasserstein` attack runs the issue's baseline
(schedule=fixed at those radii, 50 iterations each), and `hu2020` is it with the capacity
constraint, the additive radius ramp and the mass-scaled step of Hu et al. 2020 (their code's
defaults: alpha 0.06, radius 0.01 + 0.01 t for 200 steps). Then tabulates, per (model,
attack): acc@r at each radius (and unmeasured@r, the examples counted robust at r that the
attack never ran at r or beyond), seconds per image (mean time_s), unverified examples, the
largest and smallest adversarial pixel and the largest |mass_change|; prints the table,
writes OUT/strength.{json,csv}, and overlays each model's curves with `wsattack report`
(OUT/MODEL/report/).

    python scripts/bench_attack_strength.py [--n 100] [--data DIR] [--zoo-dir DIR]
        [--attacks wasserstein,auto] [--model NAME=CHECKPOINT[@DATASET]]... [--out DIR]
        [--skip-existing]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import torch
from omegaconf import OmegaConf

from wsattack.data import build_dataset
from wsattack.errors import ConfigError
from wsattack.models.checkpoint import read_checkpoint
from wsattack.models.load import ZOO_PREFIX
from wsattack.models.zoo import fetch, zoo_entry
from wsattack.paths import config_dir

RADII = [0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0]
ATTACKS = ["wasserstein", "hu2020", "wasserstein_pgd", "wasserstein_fw", "auto"]
DEFAULT_MODEL = ("wong2019_mnist_robust", "zoo:wong2019_mnist_robust", "mnist")
# Benchmark entries that are an attack config with settings: `auto` with its runner-up stage (not
# run by default), the baseline for the
# original attack (every radius in turn, 50 PGD steps each), and Hu et al. 2020's attack (the
# same projected-Sinkhorn PGD with the capacity constraint, their additive radius ramp and their
# step, alpha 0.06 x the image's mass along the gradient scaled to max |g| = 1).
VARIANTS = {
    "wasserstein": (
        "wasserstein",
        ["schedule=fixed", f"schedule.radii=[{','.join(map(str, RADII))}]", "schedule.max_iter=50"],
    ),
    "auto_runner_up": ("auto", ["attack.params.runner_up=1"]),
    "hu2020": (
        "wasserstein",
        [
            "schedule=ramp",
            "attack.params.capacity=true",
            "attack.params.step=mass",
            "attack.params.alpha=0.06",
        ],
    ),
}
# The threat model every attack is run under, where its config has the parameter.
THREAT = {"p": 1, "kernel_size": 5, "metric": "euclidean"}
NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
USAGE_ERROR = 2


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100, help="first N test images")
    parser.add_argument("--data", default="../shared/data", help="dataset.root (holds MNIST)")
    parser.add_argument("--zoo-dir", default="../shared/checkpoints", help="local zoo mirror")
    parser.add_argument(
        "--attacks", default=",".join(ATTACKS), help="comma-separated attack config names"
    )
    parser.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME=CHECKPOINT[@DATASET]",
        help="another model (repeatable); DATASET defaults to mnist",
    )
    parser.add_argument("--out", type=Path, default=Path("outputs/bench/strength"))
    parser.add_argument("--device", default="cpu", help="the attack's device (default cpu)")
    parser.add_argument(
        "--skip-existing",
        action="store_true",
        help="reuse finished runs and resume unfinished ones (default: rerun from scratch)",
    )
    parser.add_argument(
        "--no-default-model",
        action="store_true",
        help=f"attack only the --model models, not {DEFAULT_MODEL[1]}",
    )
    return parser.parse_args(argv)


def fail(message: str, code: int = USAGE_ERROR) -> None:
    print(f"bench_attack_strength: {message}", file=sys.stderr)
    sys.exit(code)


def models(args) -> list[tuple[str, str, str]]:
    """(name, checkpoint, dataset) of the default model (unless --no-default-model) and each
    --model."""
    chosen = [] if args.no_default_model else [DEFAULT_MODEL]
    for spec in args.model:
        name, sep, rest = spec.partition("=")
        checkpoint, _, dataset = rest.partition("@")
        if not sep or not name or not checkpoint:
            fail(f"--model takes NAME=CHECKPOINT[@DATASET], got {spec!r}")
        if not NAME.match(name):
            fail(f"--model name {name!r}: use letters, digits, _ . - only")
        chosen.append((name, checkpoint, dataset or "mnist"))
    if not chosen:
        fail("no model to attack: give --model NAME=CHECKPOINT or drop --no-default-model")
    names = [m[0] for m in chosen]
    if len(set(names)) != len(names):
        fail(f"model names must be distinct, got {names}")
    return chosen


def attacks(args) -> list[str]:
    names = [a.strip() for a in args.attacks.split(",") if a.strip()]
    known = sorted({p.stem for p in (config_dir() / "attack").glob("*.yaml")} | set(VARIANTS))
    missing = [a for a in names if a not in known]
    if not names or missing:
        fail(f"unknown attack(s) {missing or names}; configs/attack has: {', '.join(known)}")
    return names


def architecture(checkpoint: str, zoo_dir: str) -> str:
    """The model config (mnist_cnn, resnet18, ...) of a zoo entry or wsattack checkpoint; checks
    that its weights can be had: a clear line and exit 2 when not."""
    try:
        if checkpoint.startswith(ZOO_PREFIX):
            if not Path(zoo_dir).is_dir():
                fail(f"zoo directory {zoo_dir} not found; set --zoo-dir to a mirror of the zoo")
            entry = zoo_entry(checkpoint[len(ZOO_PREFIX) :])
            fetch(entry, zoo_dir)
            return entry.model
        _, meta = read_checkpoint(Path(checkpoint))
    except ConfigError as err:
        fail(str(err))
    return str(meta.get("model") or "mnist_cnn")


def check_data(dataset: str, root: str, n: int) -> int:
    """How many images the runs attack (N, or fewer in a smaller test split); a clear line and
    exit 2 when the dataset is not there."""
    path = config_dir() / "dataset" / f"{dataset}.yaml"
    if not path.is_file():
        fail(f"unknown dataset {dataset!r} (no {path})")
    cfg = OmegaConf.load(path)
    cfg.root, cfg.limit = root, n
    try:
        return len(build_dataset(cfg))
    except ConfigError as err:
        fail(f"{err} (here: --data DIR sets dataset.root)")


def threat_overrides(attack: str) -> list[str]:
    params = OmegaConf.load(config_dir() / "attack" / f"{attack}.yaml").get("params") or {}
    return [f"attack.params.{k}={v}" for k, v in THREAT.items() if k in params]


def finished(run_dir: Path, n: int) -> bool:
    summary, examples = run_dir / "summary.csv", run_dir / "examples.csv"
    if not (summary.is_file() and examples.is_file() and (run_dir / "adversarial.pt").is_file()):
        return False
    rows = len(pd.read_csv(examples, keep_default_na=False, na_values=[]))
    return rows == n and int(pd.read_csv(summary)["n"].iloc[0]) == n


def wsattack(*args: str) -> None:
    """`wsattack ARGS` in a child process, as a user would run it; stops here if it fails."""
    result = subprocess.run([sys.executable, "-m", "wsattack.run", *args])
    if result.returncode != 0:
        fail(f"wsattack {args[0]} failed (exit {result.returncode}): wsattack {' '.join(args)}", 1)


def run_attack(model, attack: str, args, arch: str, run_dir: Path, n: int) -> None:
    name, checkpoint, dataset = model
    if args.skip_existing and finished(run_dir, n):
        print(f"== {name} / {attack}: reusing {run_dir}", flush=True)
        return
    if not args.skip_existing and run_dir.exists():
        shutil.rmtree(run_dir)  # a fresh run: its time_s is this machine's now
    print(f"== {name} / {attack}: first {args.n} {dataset} test images -> {run_dir}", flush=True)
    config, settings = VARIANTS.get(attack, (attack, []))
    wsattack(
        "attack",
        f"attack={config}",
        f"dataset={dataset}",
        f"dataset.root={args.data}",
        f"dataset.limit={args.n}",
        f"model={arch}",
        f"model.checkpoint={checkpoint}",
        f"zoo.dir={args.zoo_dir}",
        f"attack.report_radii=[{','.join(map(str, RADII))}]",
        *threat_overrides(config),
        *settings,
        "cpu_threads=1",
        f"device={args.device}",
        f"hydra.run.dir={run_dir}",
    )


def row(model: str, attack: str, run_dir: Path) -> dict:
    examples = pd.read_csv(run_dir / "examples.csv", keep_default_na=False, na_values=[])
    summary = pd.read_csv(run_dir / "summary.csv").iloc[0]
    adv = torch.load(run_dir / "adversarial.pt", weights_only=True)["adv"]
    out = {"model": model, "attack": attack, "n": len(examples)}
    out["clean_accuracy"] = round(float(examples["clean_correct"].mean()), 4)
    for r in RADII:
        out[f"acc@{r:g}"] = round(float(summary[f"acc@{r:g}"]), 4)
    for r in RADII:
        key = f"unmeasured@{r:g}"
        out[key] = int(summary[key]) if key in summary else -1
    out["s_per_image"] = round(float(examples["time_s"].mean()), 4)
    out["unverified"] = int((examples["verified"] == 0).sum())
    out["max_pixel"] = round(float(adv.max()), 6)
    out["min_pixel"] = round(float(adv.min()), 6)
    out["max_abs_mass_change"] = float(examples["mass_change"].abs().max())
    return out


def report(model: str, runs: dict[str, Path], out: Path) -> None:
    """The model's curves overlaid (dashed where unmeasured), by `wsattack report`."""
    wsattack(
        "report",
        f"runs=[{','.join(str(r) for r in runs.values())}]",
        f"labels=[{','.join(runs)}]",
        f"radii=[{','.join(map(str, RADII))}]",
        f"title='attack strength, {model}'",
        f"hydra.run.dir={out}",
    )


def printable(table: pd.DataFrame) -> pd.DataFrame:
    """The table with the unmeasured counts folded into one column (radius:count, '-' if none)."""
    counts = [f"unmeasured@{r:g}" for r in RADII]
    shown = table.drop(columns=counts)
    shown["unmeasured"] = [
        " ".join(f"{r:g}:{row[c]}" for r, c in zip(RADII, counts, strict=True) if row[c] != 0)
        or "-"
        for _, row in table.iterrows()
    ]
    return shown


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.n <= 0:
        fail(f"--n must be positive, got {args.n}")
    chosen, names = models(args), attacks(args)
    sizes = {d: check_data(d, args.data, args.n) for d in sorted({m[2] for m in chosen})}
    archs = {m[0]: architecture(m[1], args.zoo_dir) for m in chosen}
    rows = []
    for model in chosen:
        runs = {attack: args.out / model[0] / attack for attack in names}
        for attack, run_dir in runs.items():
            run_attack(model, attack, args, archs[model[0]], run_dir, sizes[model[2]])
            rows.append(row(model[0], attack, run_dir))
        report(model[0], runs, args.out / model[0] / "report")
    table = pd.DataFrame(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "strength.csv", index=False)
    payload = {
        "n": args.n,
        "radii": RADII,
        "cost": "euclidean, p=1, 5x5 plans",
        "threads": 1,
        "device": args.device,
        "torch": torch.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "rows": rows,
    }
    (args.out / "strength.json").write_text(json.dumps(payload, indent=2) + "\n")
    with pd.option_context("display.width", 250, "display.max_columns", 50):
        print(printable(table).to_string(index=False))
    print(f"saved {args.out / 'strength.json'}, {args.out / 'strength.csv'}; curves in")
    for model in chosen:
        print(f"  {args.out / model[0] / 'report' / 'accuracy_vs_eps.png'}")


if __name__ == "__main__":
    main()
