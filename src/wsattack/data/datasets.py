"""Dataset builders by name: MNIST, Fashion-MNIST, CIFAR-10, synthetic and the packaged demo."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from wsattack.data.idx import read_idx
from wsattack.data.image_data import ImageData, apply_subset
from wsattack.data.synthetic import synthetic_images
from wsattack.errors import ConfigError, DataNotFoundError
from wsattack.paths import ASSETS_DIR
from wsattack.registry import Registry

DATASETS: Registry[Callable[..., ImageData]] = Registry("dataset")
SPLITS = ("train", "test")
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
DEMO_SAMPLE = ASSETS_DIR / "demo_fashion_mnist.pt"


def build_dataset(cfg, split: str | None = None) -> ImageData:
    """The dataset described by a `dataset` config group entry, subset by limit/indices."""
    split = split or cfg.split
    if split not in SPLITS:
        raise ConfigError(f"unknown dataset.split {split!r}; choose from: {', '.join(SPLITS)}")
    builder = DATASETS.get(cfg.name)
    data = builder(cfg, split)
    return apply_subset(data, cfg.get("limit"), cfg.get("indices"))


def _idx_dataset(name: str, folder: str, extra_dirs: tuple[Path, ...]):
    """Builder for an MNIST-layout dataset: IDX files found on disk, else torchvision's download."""

    def build(cfg, split: str) -> ImageData:
        prefix = "train" if split == "train" else "t10k"
        root = Path(cfg.root)
        search = (root / folder / "raw", root / folder, root, *extra_dirs)
        images_file = _find(search, f"{prefix}-images-idx3-ubyte")
        labels_file = _find(search, f"{prefix}-labels-idx1-ubyte")
        if (images_file is None or labels_file is None) and cfg.download:
            _torchvision_download(folder, root, split == "train")
            images_file = _find(search, f"{prefix}-images-idx3-ubyte")
            labels_file = _find(search, f"{prefix}-labels-idx1-ubyte")
        if images_file is None or labels_file is None:
            raise _missing(name, split, search)
        images = torch.from_numpy(read_idx(images_file).copy()).float().div_(255).unsqueeze(1)
        labels = torch.from_numpy(read_idx(labels_file).astype(np.int64))
        return ImageData(name, images, labels, torch.arange(len(labels)), 10)

    return build


def _find(dirs, stem: str) -> Path | None:
    for d in dirs:
        for candidate in (d / stem, d / f"{stem}.gz"):
            if candidate.is_file():
                return candidate
    return None


def _torchvision_download(folder: str, root: Path, train: bool) -> None:
    import torchvision.datasets as tvd

    cls = {"MNIST": tvd.MNIST, "FashionMNIST": tvd.FashionMNIST}[folder]
    try:
        cls(str(root), train=train, download=True)
    except (OSError, RuntimeError) as err:
        raise DataNotFoundError(f"could not download {folder} into {root}: {err}") from err


def _missing(name: str, split: str, searched) -> DataNotFoundError:
    where = ", ".join(str(d) for d in searched)
    return DataNotFoundError(
        f"{name} {split} split not found (looked in: {where}); "
        f"fix: add dataset.download=true, or dataset.root=PATH pointing at a folder holding {name}"
    )


DATASETS.register("mnist")(_idx_dataset("mnist", "MNIST", ()))
DATASETS.register("fashion_mnist")(
    _idx_dataset("fashion_mnist", "FashionMNIST", (DEBIAN_FASHION_MNIST,))
)


@DATASETS.register("cifar10")
def _cifar10(cfg, split: str) -> ImageData:
    import torchvision.datasets as tvd

    root = Path(cfg.root)
    try:
        ds = tvd.CIFAR10(str(root), train=split == "train", download=bool(cfg.download))
    except RuntimeError as err:
        if cfg.download:
            raise DataNotFoundError(f"could not download CIFAR-10 into {root}: {err}") from err
        raise _missing("cifar10", split, (root / "cifar-10-batches-py",)) from err
    images = torch.from_numpy(ds.data).permute(0, 3, 1, 2).float().div_(255)
    labels = torch.as_tensor(ds.targets, dtype=torch.long)
    return ImageData("cifar10", images.contiguous(), labels, torch.arange(len(labels)), 10)


@DATASETS.register("synthetic")
def _synthetic(cfg, split: str) -> ImageData:
    size = cfg.train_size if split == "train" else cfg.test_size
    seed = cfg.seed + (0 if split == "train" else 1)
    return synthetic_images(size, cfg.channels, cfg.height, cfg.width, cfg.num_classes, seed)


@DATASETS.register("demo")
def _demo(cfg, split: str) -> ImageData:
    """Real Fashion-MNIST test images shipped inside the package (`make demo-assets`)."""
    if split != "test":
        raise ConfigError(
            "the demo dataset ships only a test sample; use dataset=fashion_mnist to train"
        )
    if not DEMO_SAMPLE.is_file():
        raise DataNotFoundError(f"demo sample {DEMO_SAMPLE} is missing; run `make demo-assets`")
    sample = torch.load(DEMO_SAMPLE, weights_only=True)
    images = sample["images"].float().div_(255)
    return ImageData("demo", images, sample["labels"].long(), sample["indices"].long(), 10)
