"""Tune sequential certification on recorded votes: how the settings trade samples for accuracy.

Certifying an image sequentially depends on the base model only through the top-class
frequencies under noise. This script records them once (`record`: n0 + n votes per image with
the fixed certifier's sampler, as JSON) and then replays the shipped staged selection and radius
tests (`simulate`) on Bernoulli and multinomial draws from those frequencies, for any settings,
in seconds: the loss in certified accuracy against the fixed certifier on the same recorded
votes, and the mean samples per image. The defaults of `smoothing.checkpoints`, `futility` and
`first_share` were chosen this way on MNIST test images 500 to 2,499, disjoint from the
benchmark's first 500 (`make bench-sequential` measures the real thing).

    python scripts/simulate_sequential_certify.py record --offset 500 --n 2000 --out votes.json
    python scripts/simulate_sequential_certify.py simulate votes.json --futility 0.05 0.1 0.2
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from wsattack import load_dataset, load_model
from wsattack.errors import ConfigError
from wsattack.smoothing import SequentialSmoothedClassifier, SmoothedClassifier
from wsattack.smoothing.certifier import DEFAULT_BATCH_SIZE
from wsattack.smoothing.sequential import Schedule, staged_vote
from wsattack.smoothing.sequential_certifier import (
    DEFAULT_CHECKPOINTS,
    DEFAULT_FIRST_SHARE,
    DEFAULT_FUTILITY,
)
from wsattack.smoothing.statistics import clopper_pearson_lower

N0, N, ALPHA = 1_000, 10_000, 0.05


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="record n0 + n votes per image of a zoo base model")
    rec.add_argument("--noise", default="wasserstein")
    rec.add_argument("--sigma", type=float, default=0.01)
    rec.add_argument("--offset", type=int, default=500, help="first MNIST test image")
    rec.add_argument("--n", type=int, default=2_000, help="images")
    rec.add_argument("--data", default="../shared/data", help="folder holding MNIST")
    rec.add_argument("--zoo-dir", default="../shared/checkpoints", help="local zoo mirror")
    rec.add_argument("--out", type=Path, required=True)
    sim = sub.add_parser("simulate", help="replay sequential certification on recorded votes")
    sim.add_argument("votes", type=Path)
    sim.add_argument("--radii", type=float, nargs="+", default=[0.005, 0.01, 0.015])
    sim.add_argument("--checkpoints", type=int, nargs="+", default=list(DEFAULT_CHECKPOINTS))
    sim.add_argument("--futility", type=float, nargs="+", default=[DEFAULT_FUTILITY])
    sim.add_argument("--first-share", type=float, nargs="+", default=[DEFAULT_FIRST_SHARE])
    sim.add_argument("--repeats", type=int, default=3, help="replays of every image")
    sim.add_argument("--csv", type=Path, help="also save the table here")
    return parser.parse_args()


def record(args: argparse.Namespace) -> None:
    model = load_model(
        f"zoo:levine2020_mnist_{args.noise}_sigma_{args.sigma}", zoo_dir=args.zoo_dir
    )
    data = load_dataset(
        "mnist", indices=list(range(args.offset, args.offset + args.n)), root=args.data
    )
    smoothed = SmoothedClassifier(model.eval(), 10, args.noise, args.sigma)
    rows = []
    for i in range(len(data)):
        gen = torch.Generator().manual_seed(int(data.indices[i]))
        selection = smoothed.class_counts(data.images[i], N0, DEFAULT_BATCH_SIZE, gen)
        estimation = smoothed.class_counts(data.images[i], N, DEFAULT_BATCH_SIZE, gen)
        rows.append(
            {"label": int(data.labels[i]), "c0": selection.tolist(), "c": estimation.tolist()}
        )
    meta = {"noise": args.noise, "sigma": args.sigma, "offset": args.offset}
    args.out.write_text(json.dumps({"meta": meta, "images": rows}))
    print(f"saved {len(rows)} images' votes to {args.out}")


def frequencies(counts: np.ndarray) -> np.ndarray:
    """Vote frequencies, with half a vote (Jeffreys) shared by the classes never seen, so that
    an image unanimous in 10,000 votes is replayed at p = 1 - 0.5 / 10,000.5 rather than 1."""
    unseen = counts == 0
    padded = counts + 0.5 * unseen / np.maximum(unseen.sum(axis=1, keepdims=True), 1)
    return padded / padded.sum(axis=1, keepdims=True)


def fixed_accuracy(images: list[dict], smoothed, radii) -> np.ndarray:
    """The fixed certifier's certified accuracy on the recorded votes themselves."""
    certified = np.zeros(len(radii))
    for image in images:
        guess = int(np.argmax(image["c0"]))
        cert = smoothed.certificate(guess, clopper_pearson_lower(image["c"][guess], N, ALPHA), 0)
        if cert.prediction == image["label"]:
            certified += np.array([cert.radius >= r for r in radii])
    return certified / len(images)


def replay(images, probs, smoothed, repeats, rng) -> tuple[np.ndarray, float]:
    """Certified accuracy at each requested radius and mean samples per image."""
    selection = Schedule.split(smoothed.checkpoints, N0, ALPHA)
    tests = smoothed.radius_tests(N, ALPHA)
    certified, samples = np.zeros(len(smoothed.radii)), 0
    for image, p in zip(images, probs, strict=True):
        for _ in range(repeats):
            _, votes = staged_vote(
                lambda m, p=p: torch.from_numpy(rng.multinomial(m, p)), selection
            )
            guess = int(votes.argmax())
            passed, trials = tests.run(
                lambda m, q=p[guess]: int(rng.binomial(m, q)), smoothed.futility
            )
            samples += int(votes.sum()) + trials
            if guess == image["label"]:
                certified[: max(passed - 1, 0)] += 1
    return certified / (len(images) * repeats), samples / (len(images) * repeats)


def simulate(args: argparse.Namespace) -> None:
    recorded = json.loads(args.votes.read_text())
    meta, images = recorded["meta"], recorded["images"]
    probs = frequencies(np.array([image["c"] for image in images], dtype=float))
    rows = []
    for first_share in args.first_share:
        for futility in args.futility:
            smoothed = SequentialSmoothedClassifier(
                lambda batch: batch,
                10,
                meta["noise"],
                meta["sigma"],
                args.checkpoints,
                args.radii,
                futility=futility,
                first_share=first_share,
            )
            fixed = fixed_accuracy(images, smoothed, sorted(args.radii))
            rng = np.random.default_rng(0)
            accuracy, samples = replay(images, probs, smoothed, args.repeats, rng)
            rows.append(
                {
                    "first_share": first_share,
                    "futility": futility,
                    **{
                        f"fixed@{r:g}": round(100 * a, 2)
                        for r, a in zip(sorted(args.radii), fixed, strict=True)
                    },
                    **{
                        f"loss@{r:g}": round(100 * (a - f), 2)
                        for r, a, f in zip(sorted(args.radii), accuracy, fixed, strict=True)
                    },
                    "mean_samples": round(samples, 1),
                }
            )
    table = pd.DataFrame(rows)
    print(f"{len(images)} images x {args.repeats} replays, checkpoints {args.checkpoints}")
    print(table.to_string(index=False))
    if args.csv:
        table.to_csv(args.csv, index=False)
        print(f"saved {args.csv}")


def main() -> None:
    args = parse_args()
    try:
        record(args) if args.command == "record" else simulate(args)
    except (ConfigError, OSError, KeyError, json.JSONDecodeError) as err:  # one line, no traceback
        sys.exit(f"simulate_sequential_certify: {err}")


if __name__ == "__main__":
    main()
