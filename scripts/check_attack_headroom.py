"""Headroom of `auto`: what much costlier attacks break that `auto` left standing.

A benchmark can only say how strong an attack is relative to others. This check asks the other
question: is `auto` near the best that its kind of attack can do on a model? It runs `auto` as
`wsattack attack` does (its defaults, the radii checked as the reported ones) on the first N test
images (every example verified), then, at each radius r, runs
far costlier fixed-radius attacks on the examples `auto` left standing at r only:
`wasserstein_pgd` and `wasserstein_fw` with --steps steps (10x their defaults), and
`wasserstein_pgd` aimed at every other class in turn (--targeted-steps each). A point counts
only if its exact distance (POT, as `verify`) is within r. It prints and saves (OUT/headroom.csv
and .json), per radius: auto's adversarial accuracy, the examples the costlier attacks broke
(`missed`, with their indices), and what each broke and its seconds.

    python scripts/check_attack_headroom.py [--model zoo:wong2019_mnist_robust] [--dataset mnist]
        [--n 100] [--radii 0.05,0.1,0.2] [--steps 200] [--targeted-steps 50] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd
import torch

from wsattack import load_dataset, load_model
from wsattack.attacks.auto import AutoWasserstein
from wsattack.attacks.frank_wolfe import WassersteinFW
from wsattack.attacks.plan_pgd import WassersteinPlanPGD
from wsattack.attacks.verify import verify
from wsattack.errors import ConfigError


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model", default="zoo:wong2019_mnist_robust", help="checkpoint or zoo:NAME"
    )
    parser.add_argument("--dataset", default="mnist", help="its dataset (test split)")
    parser.add_argument(
        "--data", default="../shared/data", help="dataset root ('' for one without, e.g. demo)"
    )
    parser.add_argument("--zoo-dir", default="../shared/checkpoints", help="local zoo mirror")
    parser.add_argument("--n", type=int, default=100, help="first N test images")
    parser.add_argument("--radii", default="0.05,0.1,0.2", help="comma-separated radii")
    parser.add_argument("--steps", type=int, default=200, help="untargeted steps per radius")
    parser.add_argument("--targeted-steps", type=int, default=50, help="per class and radius")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads")
    parser.add_argument("--out", type=Path, default=Path("outputs/bench/headroom"))
    args = parser.parse_args(argv)
    try:
        args.radii = sorted(float(r) for r in args.radii.split(","))
    except ValueError:
        parser.error(f"--radii takes numbers separated by commas, got {args.radii!r}")
    if not args.radii or not all(0 < r < float("inf") for r in args.radii):
        parser.error("--radii must be positive and finite")
    if min(args.n, args.steps, args.targeted_steps, args.threads) < 1:
        parser.error("--n, --steps, --targeted-steps and --threads must be >= 1")
    return args


def costlier_attacks(model, steps: int, targeted_steps: int, classes: int):
    """(name, attack, target class or None) of the fixed-radius attacks tried after `auto`."""
    yield f"pgd{steps}", WassersteinPlanPGD(model, steps=steps), None
    yield f"fw{steps}", WassersteinFW(model, steps=steps), None
    aimed = WassersteinPlanPGD(model, steps=targeted_steps)
    for c in range(classes):
        yield f"pgd{targeted_steps}_each_class", aimed, c


def broken_at(attack, x, labels, radius: float, target: int | None) -> torch.Tensor:
    """Which rows of x the attack fools at `radius` (aimed at `target` unless None), with a point
    whose exact distance is within it (`at_radius`)."""
    rows = torch.arange(len(x)) if target is None else (labels != target).nonzero().squeeze(1)
    hit = torch.zeros(len(x), dtype=torch.bool)
    if len(rows):  # nothing standing, or every one of the target class
        aim = None if target is None else torch.full_like(labels[rows], target)
        hit[rows] = attack.at_radius(x[rows], labels[rows], radius, aim).success.cpu()
    return hit


def headroom(model, x, labels, radii, steps, targeted_steps) -> list[dict]:
    auto = AutoWasserstein(model, rerun_above=radii[0], radii=radii)  # as `wsattack attack` does
    start = time.perf_counter()
    res = auto(x, labels)
    auto_s = (time.perf_counter() - start) / len(x)
    if not bool((verify(auto.ball, x, res).verified[res.success] == 1).all()):
        raise AssertionError("auto returned an example that fails the exact check")
    with torch.no_grad():
        classes = model(x[:1]).shape[1]
    correct = res.clean_pred == labels
    rows = []
    for r in radii:
        standing = (correct & ~(res.success & (res.eps_found <= r))).nonzero().squeeze(1)
        row = {
            "radius": r,
            "n": len(x),
            "clean": int(correct.sum()),
            "auto_standing": len(standing),
        }
        broken: dict[str, torch.Tensor] = {}
        seconds: dict[str, float] = {}
        for name, attack, target in costlier_attacks(model, steps, targeted_steps, classes):
            start = time.perf_counter()
            hit = broken_at(attack, x[standing], labels[standing], r, target)
            broken[name] = broken.get(name, hit) | hit
            seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - start
        missed = torch.stack(list(broken.values())).any(dim=0)
        row["missed"] = int(missed.sum())
        row.update({f"broken_{name}": int(hit.sum()) for name, hit in broken.items()})
        row.update({f"s_{name}": round(t, 1) for name, t in seconds.items()})
        rows.append(
            {**row, "auto_s_per_image": auto_s, "missed_indices": standing[missed].tolist()}
        )
    return rows


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        model = load_model(args.model, zoo_dir=args.zoo_dir)
        root = {"root": args.data} if args.data else {}
        data = load_dataset(args.dataset, split="test", limit=args.n, **root)
        rows = headroom(
            model, data.images, data.labels, args.radii, args.steps, args.targeted_steps
        )
    except ConfigError as err:
        print(f"check_attack_headroom: {err}", file=sys.stderr)
        return 2
    table = pd.DataFrame(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "headroom.csv", index=False)
    meta = {"model": args.model, "dataset": args.dataset, "threads": args.threads, "rows": rows}
    (args.out / "headroom.json").write_text(json.dumps(meta, indent=2))
    print(table.drop(columns="missed_indices").to_string(index=False))
    print(f"saved {args.out / 'headroom.csv'}, {args.out / 'headroom.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
