"""Sequential against fixed-budget certification on the authors' MNIST base models (issue #13).

For each noise model (Levine & Feizi 2020's sigma = 0.01 base models, Wasserstein and Laplace
smoothing), certifies the first N MNIST test images twice with `wsattack certify`, once with
the fixed budget (n0 = 1,000 + n = 10,000) and once with `smoothing.sequential=true`, both
deciding the radii `--radii`. Prints and saves (CSV and JSON under --out) the certified
accuracy at each radius, the mean noise samples per image for certification (selection plus
estimation) and for the hard vote, and the seconds per image, side by side. Runs resume.

    python scripts/bench_sequential_certify.py --n 500 [--data DIR] [--zoo-dir DIR] [--seed S]
        [--device cuda]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
import torch
from omegaconf import OmegaConf

from wsattack.run import cli

MODES = {"fixed": [], "sequential": ["smoothing.sequential=true"]}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=500, help="first N MNIST test images")
    parser.add_argument("--sigma", type=float, default=0.01)
    parser.add_argument("--noises", nargs="+", default=["wasserstein", "laplace"])
    parser.add_argument("--radii", type=float, nargs="+", default=[0.005, 0.01, 0.015])
    parser.add_argument("--data", default="../shared/data", help="dataset.root holding MNIST")
    parser.add_argument("--zoo-dir", default="../shared/checkpoints", help="local zoo mirror")
    parser.add_argument("--out", type=Path, default=Path("outputs/bench/sequential_certify"))
    parser.add_argument("--threads", type=int, default=1, help="cpu_threads of each run")
    parser.add_argument("--seed", type=int, default=0, help="seed of each run (the noise)")
    parser.add_argument("--device", default="cpu", help="device of each run: cpu or cuda[:N]")
    return parser.parse_args()


def certify(noise: str, mode: str, args: argparse.Namespace) -> Path:
    run_dir = args.out / f"{noise}_sigma_{args.sigma}_{mode}"
    radii = ",".join(f"{r:g}" for r in args.radii)
    cli(
        [
            "certify",
            "experiment=levine2020_mnist",
            f"smoothing={noise}",
            f"sigma={args.sigma}",
            f"smoothing.radii=[{radii}]",
            f"zoo.dir={args.zoo_dir}",
            f"dataset.root={args.data}",
            f"dataset.limit={args.n}",
            f"cpu_threads={args.threads}",
            f"seed={args.seed}",
            f"device={args.device}",
            f"hydra.run.dir={run_dir}",
            *MODES[mode],
        ]
    )
    return run_dir


def row(noise: str, mode: str, run_dir: Path, args: argparse.Namespace) -> dict:
    frame = pd.read_csv(run_dir / "certify.csv")
    smoothing = OmegaConf.load(run_dir / "config.yaml").smoothing  # the fixed budget, if fixed
    samples = frame["samples"] if "samples" in frame else smoothing.n0 + smoothing.n
    votes = frame["predict_samples"] if "predict_samples" in frame else smoothing.n_predict
    return {
        "noise": noise,
        "sigma": args.sigma,
        "mode": mode,
        "seed": args.seed,
        "n": len(frame),
        **{f"certified@{r:g}": round(frame[f"certified@{r:g}"].mean(), 4) for r in args.radii},
        "mean_samples": round(float(pd.Series(samples).mean()), 1),
        "mean_predict_samples": round(float(pd.Series(votes).mean()), 1),
        "seconds_per_image": round(frame["time_s"].mean(), 4),
    }


def main() -> None:
    args = parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = [
        row(noise, mode, certify(noise, mode, args), args)
        for noise in args.noises
        for mode in MODES
    ]
    table = pd.DataFrame(rows)
    table.to_csv(args.out / "results.csv", index=False)
    meta = {
        "torch": torch.__version__,
        "threads": args.threads,
        "radii": args.radii,
        "device": torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu",
    }
    (args.out / "results.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(table.to_string(index=False))
    print(f"saved {args.out / 'results.csv'} and results.json")


if __name__ == "__main__":
    main()
