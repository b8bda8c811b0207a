"""Per-image cost of every paper protocol on one CPU thread (or a GPU), and what a full run costs.

Runs each protocol through `wsattack` on a few images (or training examples), reads the time
each row records, and scales it to the protocol's full size: Wong 2019's MNIST attack (the
authors' standard model), its CIFAR-10 attack (ResNet-18; random weights on synthetic 32x32
images, since no CIFAR-10 data or model is available offline: the cost of an attack step does
not depend on the weights, and the worst case runs all 400 steps), Levine 2020's MNIST and
CIFAR-10 certification (fixed budget and sequential), and Wasserstein adversarial training of
the MNIST network (one epoch on Fashion-MNIST, the MNIST training split being unavailable).
Prints a markdown table and writes it with the raw figures to --out (JSON and Markdown).
`--device cuda` times the protocols on a GPU (give --n 100 or more, so that the attack's and the
certifier's batches fill it); `--only TEXT` keeps the protocols whose name contains TEXT.

    python scripts/bench_scale.py [--data DIR] [--zoo-dir DIR] [--device cuda --n 100] [--only ...]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from wsattack.run import cli

CIFAR_SYNTHETIC = [
    "dataset=synthetic",
    "dataset.channels=3",
    "dataset.height=32",
    "dataset.width=32",
    "model.checkpoint=none",
]
# A ResNet-18 classifies a few hundred noisy copies a second on one thread: a tenth of the
# paper's samples, and ten times the time (the cost is linear in them).
TENTH_OF_THE_SAMPLES = ["smoothing.n0=100", "smoothing.n=1000", "smoothing.n_predict=1000"]


class Protocol(NamedTuple):
    """A paper protocol: its task and overrides, images in a full run, runs in the paper's table;
    `time_scale` multiplies the measured time (a run on a fraction of the samples), and
    `worst_case_steps` asks for the cost of that many attack steps on every image."""

    task: str
    overrides: list[str]
    images: int
    runs: int
    time_scale: float = 1.0
    worst_case_steps: int | None = None


PROTOCOLS = {
    "Wong 2019 MNIST attack": Protocol(
        "attack",
        ["experiment=wong2019_mnist", "model.checkpoint=zoo:wong2019_mnist_vanilla"],
        10_000,
        4,
    ),
    "Wong 2019 CIFAR-10 attack (all 400 steps)": Protocol(
        "attack",
        ["experiment=wong2019_cifar10", *CIFAR_SYNTHETIC],
        10_000,
        3,
        worst_case_steps=400,
    ),
    "Levine 2020 MNIST certification, fixed": Protocol(
        "certify", ["experiment=levine2020_mnist"], 10_000, 14
    ),
    "Levine 2020 MNIST certification, sequential (radii 0.005 / 0.01 / 0.015)": Protocol(
        "certify",
        [
            "experiment=levine2020_mnist",
            "smoothing.sequential=true",
            "smoothing.radii=[0.005,0.01,0.015]",
        ],
        10_000,
        14,
    ),
    "Levine 2020 CIFAR-10 certification, fixed (scaled from 1/10 of the samples)": Protocol(
        "certify",
        ["experiment=levine2020_cifar10", *CIFAR_SYNTHETIC, *TENTH_OF_THE_SAMPLES],
        1_000,
        5,
        time_scale=10.0,
    ),
    "Wasserstein adversarial training, MNIST network (per epoch)": Protocol(
        "train",
        ["experiment=wong2019_mnist_adv_training", "dataset=fashion_mnist", "train.epochs=1"],
        60_000,
        1,
    ),
}

TRAIN_BATCH = 32


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=8, help="images (training: batches) per protocol")
    parser.add_argument("--data", default="../shared/data", help="dataset.root holding MNIST")
    parser.add_argument("--zoo-dir", default="../shared/checkpoints", help="local zoo mirror")
    parser.add_argument("--out", type=Path, default=Path("outputs/bench/scale"))
    parser.add_argument("--device", default="cpu", help="cpu (one thread) or cuda[:N]")
    parser.add_argument("--only", nargs="+", default=[], metavar="TEXT", help="protocol filter")
    return parser.parse_args()


def seconds_per_item(protocol: Protocol, run_dir: Path, items: int) -> float:
    """Seconds per image (training: per example) from what the run wrote."""
    if protocol.task == "train":
        return float(pd.read_csv(run_dir / "train_log.csv")["time_s"].iloc[-1]) / items
    rows = pd.read_csv(run_dir / ("examples.csv" if protocol.task == "attack" else "certify.csv"))
    if protocol.worst_case_steps:
        # Random weights break early; the worst case is every step on every image. One batch
        # steps until its last example is done, so its time per step is over its longest run.
        steps = max(int(rows["iterations"].max()), 1)
        return float(rows["time_s"].sum()) / (len(rows) * steps) * protocol.worst_case_steps
    return float(rows["time_s"].sum()) / len(rows) * protocol.time_scale


def measure(name: str, args: argparse.Namespace) -> dict:
    protocol = PROTOCOLS[name]
    task, overrides = protocol.task, protocol.overrides
    run_dir = args.out / name.split(" (")[0].replace(" ", "_").replace(",", "")
    items = args.n * TRAIN_BATCH if task == "train" else args.n
    size = [f"dataset.limit={items}"]
    if task == "train":
        size += [
            f"train.batch_size={TRAIN_BATCH}",
            "train.robust_eval.every=0",
            "train.eval_limit=1",
        ]
    common = [f"zoo.dir={args.zoo_dir}", f"hydra.run.dir={run_dir}"]
    if "dataset=synthetic" not in overrides:
        common.append(f"dataset.root={args.data}")
    cli([task, *overrides, *size, "cpu_threads=1", f"device={args.device}", *common])
    per_item = seconds_per_item(protocol, run_dir, items)
    total_hours = per_item * protocol.images * protocol.runs / 3600
    return {
        "protocol": name,
        "seconds_per_item": round(per_item, 3),
        "items": protocol.images,
        "runs": protocol.runs,
        "hours_full": round(total_hours, 1),
    }


def markdown(rows: list[dict], device: str) -> str:
    where = "one thread" if device == "cpu" else device
    unit = "CPU" if device == "cpu" else "GPU"
    lines = [
        f"| protocol | s per image ({where}) | full run | {unit} hours |",
        "|---|---|---|---|",
    ]
    for r in rows:
        size = f"{r['items']:,} images x {r['runs']} runs"
        lines.append(
            f"| {r['protocol']} | {r['seconds_per_item']} | {size} | {r['hours_full']:,} |"
        )
    return "\n".join(lines)


def main() -> None:
    args = parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    names = [name for name in PROTOCOLS if not args.only or any(t in name for t in args.only)]
    rows = [measure(name, args) for name in names]
    table = markdown(rows, args.device)
    meta = {"load_average": os.getloadavg(), "n": args.n, "device": args.device}
    (args.out / "scale.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    (args.out / "scale.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
