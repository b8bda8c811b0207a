"""Regenerate the packaged demo: Fashion-MNIST test images and a small CNN trained on them.

Writes into src/wsattack/assets/:
- demo_fashion_mnist.pt: {"images": uint8 (N,1,28,28), "labels": long (N,), "indices": long (N,)},
  the first N/10 test images of every class (indices into the official test split);
- demo_fashion_mnist_cnn.pt: an `mnist_cnn` trained on the 60,000 training images, in the
  project's checkpoint format (wsattack.models.save_checkpoint).

The data comes from Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist, found by
`dataset=fashion_mnist`), else from `--root`, else (with --download) from a torchvision download.

    python scripts/make_demo_assets.py [--count 100] [--epochs 4] [--root data] [--download]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from wsattack.data import ImageData, build_dataset
from wsattack.models import build_model, save_checkpoint
from wsattack.paths import ASSETS_DIR
from wsattack.run import compose_config
from wsattack.runtime import seed_everything
from wsattack.train import Trainer, accuracy

SAMPLE_FILE = "demo_fashion_mnist.pt"
MODEL_FILE = "demo_fashion_mnist_cnn.pt"
CPU = torch.device("cpu")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--count", type=int, default=100, help="demo images (a multiple of 10: N/10 per class)"
    )
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--root", default="data", help="where Fashion-MNIST is looked for besides Debian's copy"
    )
    parser.add_argument(
        "--download", action="store_true", help="download with torchvision when not found"
    )
    parser.add_argument("--out", type=Path, default=ASSETS_DIR)
    return parser.parse_args()


def stratified_sample(data: ImageData, per_class: int) -> torch.Tensor:
    """Rows of the first `per_class` images of each class, in test-set order."""
    rows = [torch.nonzero(data.labels == c).flatten()[:per_class] for c in range(data.num_classes)]
    return torch.cat(rows).sort().values


def save_sample(data: ImageData, rows: torch.Tensor, path: Path) -> None:
    # uint8 keeps the file small and is exact: the pixels were bytes / 255 to begin with.
    images = (data.images[rows] * 255).round().to(torch.uint8)
    torch.save(
        {
            "images": images,
            "labels": data.labels[rows].clone(),
            "indices": data.indices[rows].clone(),
        },
        path,
    )


def train_model(cfg, train: ImageData, test: ImageData, seed: int):
    """mnist_cnn trained with the project's Trainer (its run dir is thrown away)."""
    seed_everything(seed)
    model = build_model(cfg.model, tuple(train.images.shape[1:]), train.num_classes)
    with tempfile.TemporaryDirectory() as run_dir:
        Trainer(model, train, test, cfg.train, CPU, Path(run_dir), seed=seed).fit()
    return model.eval()


def main() -> None:
    args = parse_args()
    overrides = [
        "dataset=fashion_mnist",
        "model=mnist_cnn",
        f"dataset.root={args.root}",
        f"dataset.download={str(args.download).lower()}",
        f"train.epochs={args.epochs}",
    ]
    cfg = compose_config("train", overrides)
    train, test = build_dataset(cfg.dataset, "train"), build_dataset(cfg.dataset, "test")
    rows = stratified_sample(test, args.count // test.num_classes)
    model = train_model(cfg, train, test, args.seed)
    metrics = {
        "test_acc": accuracy(model, test, 500, CPU),
        "demo_acc": accuracy(model, test.select(rows), 500, CPU),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    save_sample(test, rows, args.out / SAMPLE_FILE)
    save_checkpoint(args.out / MODEL_FILE, model, "fashion_mnist", metrics)
    sizes = {name: (args.out / name).stat().st_size // 1024 for name in (SAMPLE_FILE, MODEL_FILE)}
    print(f"wrote {len(rows)} demo images and the model ({metrics}); sizes in KiB: {sizes}")


if __name__ == "__main__":
    main()
