"""Throughput of randomized-smoothing certification and prediction on the CPU or a GPU (issue #5).

Times `SmoothedClassifier.certify` (n0 + n samples) and `.predict` (n_predict samples) per image
with the MNIST network of Wong & Kolter (2018), random or loaded from a checkpoint, on MNIST test
images from the shared reference data when present (else random sparse images: the timing does
not depend on the content). Also times the two halves of the work, drawing the noisy copies and
classifying them, for n0 + n samples. Prints a table and writes JSON (default
outputs/bench/certify.json). The issue's target: at most 0.3 s per certified image on 2 cores.
`--device cuda` draws and classifies on the GPU (timings wait for the device to finish).

    python scripts/bench_certify.py --batch-size 250 500 1000 2000 --threads 2 [--device cuda]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn

from wsattack.data.idx import read_idx
from wsattack.models import MODELS, read_checkpoint
from wsattack.paths import shared_dir
from wsattack.smoothing import NOISE, SmoothedClassifier


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--checkpoint", type=Path, help="MNIST-network weights (default: random init)"
    )
    parser.add_argument("--noise", choices=NOISE.names(), default="wasserstein")
    parser.add_argument("--sigma", type=float, default=0.01)
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--n0", type=int, default=1_000)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--n-predict", type=int, default=10_000)
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument(
        "--batch-size", type=int, nargs="+", default=[1_000], help="one or more to compare"
    )
    parser.add_argument(
        "--threads", type=int, help="torch.set_num_threads (default: torch's choice)"
    )
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("outputs/bench/certify.json"))
    return parser.parse_args()


def load_network(checkpoint: Path | None) -> nn.Module:
    net = MODELS.get("mnist_cnn")(1, 10, (28, 28))
    if checkpoint is not None:
        net.load_state_dict(read_checkpoint(checkpoint)[0])
    return net.eval()


def load_images(count: int, seed: int) -> tuple[Tensor, str]:
    """MNIST test images from the shared data, else random images with MNIST-like sparsity."""
    path = shared_dir() / "data" / "MNIST" / "raw" / "t10k-images-idx3-ubyte.gz"
    if path.is_file():
        return torch.from_numpy(read_idx(path)[:count]).float().div(255).unsqueeze(1), "mnist-test"
    gen = torch.Generator().manual_seed(seed)
    mask = torch.rand(count, 1, 28, 28, generator=gen) < 0.19
    return torch.rand(count, 1, 28, 28, generator=gen) * mask, "random-sparse"


def per_image_seconds(images: Tensor, step: Callable[[Tensor], object]) -> list[float]:
    """Wall time of `step` on each image, after one untimed warm-up call; on a GPU, until the
    device has finished the image's work."""
    step(images[0])
    times = []
    for image in images:
        start = time.perf_counter()
        step(image)
        if image.is_cuda:
            torch.cuda.synchronize(image.device)
        times.append(time.perf_counter() - start)
    return times


def summary(times: list[float]) -> dict[str, float]:
    # The minimum is the least disturbed by other processes sharing the cores.
    return {
        "mean_s": statistics.fmean(times),
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
    }


def bench_batch_size(
    smooth: SmoothedClassifier, images: Tensor, args: argparse.Namespace, batch_size: int
) -> dict:
    gen = torch.Generator(device=images.device).manual_seed(args.seed)
    samples = args.n0 + args.n

    def draw_only(image: Tensor) -> None:
        for start in range(0, samples, batch_size):
            smooth.noise.copies(image, min(batch_size, samples - start), gen)

    copies = smooth.noise.copies(images[0], batch_size, gen)

    def classify_only(image: Tensor) -> None:
        with torch.inference_mode():
            for _ in range(0, samples, batch_size):
                smooth.base_classifier(copies).argmax(dim=1)

    results = {
        "certify": per_image_seconds(
            images, lambda x: smooth.certify(x, args.n0, args.n, args.alpha, batch_size, gen)
        ),
        "predict": per_image_seconds(
            images, lambda x: smooth.predict(x, args.n_predict, args.alpha, batch_size, gen)
        ),
        "draw_noise_n0_plus_n": per_image_seconds(images, draw_only),
        "classify_n0_plus_n": per_image_seconds(images, classify_only),
    }
    return {"batch_size": batch_size, **{name: summary(times) for name, times in results.items()}}


def print_table(rows: list[dict]) -> None:
    """Seconds per image, mean (min) over the images, for each batch size."""
    columns = ["certify", "predict", "draw_noise_n0_plus_n", "classify_n0_plus_n"]
    print("batch_size  " + "  ".join(f"{name:>22}" for name in columns))
    for row in rows:
        cells = [f"{row[name]['mean_s']:.3f} ({row[name]['min_s']:.3f})" for name in columns]
        print(f"{row['batch_size']:>10}  " + "  ".join(f"{cell:>22}" for cell in cells))


def main() -> None:
    args = parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    images, source = load_images(args.images, args.seed)
    images = images.to(args.device)
    net = load_network(args.checkpoint).to(args.device)
    smooth = SmoothedClassifier(net, 10, args.noise, args.sigma)
    load_before = os.getloadavg()[0]
    rows = [bench_batch_size(smooth, images, args, size) for size in args.batch_size]
    # Other processes on the same cores inflate the timings: the load average tells.
    load = {"before": load_before, "after": os.getloadavg()[0]}
    threads = torch.get_num_threads()
    print(
        f"{args.noise} sigma={args.sigma}, {len(images)} {source} images on {args.device}, "
        f"{threads} threads"
    )
    print(f"1-minute load average {load['before']:.2f} before, {load['after']:.2f} after")
    print_table(rows)
    report = {
        "noise": args.noise,
        "sigma": args.sigma,
        "checkpoint": str(args.checkpoint) if args.checkpoint else None,
        "images": len(images),
        "image_source": source,
        "n0": args.n0,
        "n": args.n,
        "n_predict": args.n_predict,
        "alpha": args.alpha,
        "threads": torch.get_num_threads(),
        "device": torch.cuda.get_device_name(images.device) if images.is_cuda else "cpu",
        "load_average_1min": load,
        "torch": torch.__version__,
        "processor": platform.processor() or platform.machine(),
        "results": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
