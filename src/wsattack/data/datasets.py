"""Dataset builders by name: MNIST, Fashion-MNIST, CIFAR-10, synthetic and the packaged demo."""

from __future__ import annotations

import inspect
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
DEFAULT_ROOT = "data"  # the configs' default too (unless WSATTACK_DATA is set)


# (C, H, W) of each named dataset's images, for building a network before loading any data.
IMAGE_SHAPES = {
    "mnist": (1, 28, 28),
    "fashion_mnist": (1, 28, 28),
    "demo": (1, 28, 28),
    "cifar10": (3, 32, 32),
}


def load_dataset(
    name: str, split: str = "test", limit: int | None = None, indices=None, **options
) -> ImageData:
    """A dataset as [0, 1] image tensors with labels, by name.

    Parameters
    ----------
    name : {"mnist", "fashion_mnist", "cifar10", "synthetic", "demo"}
        "demo" is the Fashion-MNIST test sample shipped inside the package (offline).
    split : {"test", "train"}
    limit : int, optional
        Keep the first `limit` images (after `indices`).
    indices : list of int or str, optional
        Keep these rows (a list, or a file of integers), in this order.
    **options
        The dataset's own settings: ``root`` (the folder holding it; default ``"data"``) and
        ``download`` (fetch it if missing; default False) for MNIST, Fashion-MNIST and
        CIFAR-10; ``train_size``, ``test_size``, ``channels``, ``height``, ``width``,
        ``num_classes`` and ``seed`` for "synthetic".

    Returns
    -------
    ImageData
        ``images`` (N, C, H, W) float32 in [0, 1], ``labels`` (N,), ``indices`` (each row's index
        in the full split) and ``num_classes``.

    Examples
    --------
    >>> data = load_dataset("demo", limit=5)
    >>> data.images.shape, data.labels.tolist()
    (torch.Size([5, 1, 28, 28]), [9, 2, 1, 1, 6])
    >>> load_dataset("synthetic", split="train", train_size=3, height=8, width=8).images.shape
    torch.Size([3, 1, 8, 8])
    """
    if split not in SPLITS:
        raise ConfigError(f"unknown dataset.split {split!r}; choose from: {', '.join(SPLITS)}")
    builder = DATASETS.get(name)
    taken = inspect.signature(builder).parameters
    unknown = sorted(set(options) - set(taken))
    if unknown:
        raise ConfigError(f"dataset {name!r} does not take {unknown}; it takes: {', '.join(taken)}")
    return apply_subset(builder(split, **options), limit, indices)


def image_shape_of(name: str | None) -> tuple[int, int, int] | None:
    """(C, H, W) of the named dataset's images; None for an unknown or missing name."""
    return IMAGE_SHAPES.get(name) if name else None


def build_dataset(cfg, split: str | None = None) -> ImageData:
    """The dataset described by a `dataset` config group entry: the Hydra adapter of
    `load_dataset`, passing the entry's settings that the dataset takes."""
    builder = DATASETS.get(cfg.name)
    options = {k: cfg[k] for k in inspect.signature(builder).parameters if k in cfg}
    options.pop("split", None)
    return load_dataset(
        cfg.name, split or cfg.split, cfg.get("limit"), cfg.get("indices"), **options
    )


def _idx_dataset(name: str, folder: str, extra_dirs: tuple[Path, ...]):
    """Builder for an MNIST-layout dataset: IDX files found on disk, else torchvision's download."""

    def build(split: str, root: str | Path = DEFAULT_ROOT, download: bool = False) -> ImageData:
        prefix = "train" if split == "train" else "t10k"
        root = Path(root)
        search = (root / folder / "raw", root / folder, root, *extra_dirs)
        images_file = _find(search, f"{prefix}-images-idx3-ubyte")
        labels_file = _find(search, f"{prefix}-labels-idx1-ubyte")
        if (images_file is None or labels_file is None) and download:
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
def _cifar10(split: str, root: str | Path = DEFAULT_ROOT, download: bool = False) -> ImageData:
    import torchvision.datasets as tvd

    root = Path(root)
    try:
        ds = tvd.CIFAR10(str(root), train=split == "train", download=bool(download))
    except RuntimeError as err:
        if download:
            raise DataNotFoundError(f"could not download CIFAR-10 into {root}: {err}") from err
        raise _missing("cifar10", split, (root / "cifar-10-batches-py",)) from err
    images = torch.from_numpy(ds.data).permute(0, 3, 1, 2).float().div_(255)
    labels = torch.as_tensor(ds.targets, dtype=torch.long)
    return ImageData("cifar10", images.contiguous(), labels, torch.arange(len(labels)), 10)


@DATASETS.register("synthetic")
def _synthetic(
    split: str,
    train_size: int = 2000,
    test_size: int = 500,
    channels: int = 1,
    height: int = 28,
    width: int = 28,
    num_classes: int = 10,
    seed: int = 0,
) -> ImageData:
    size = train_size if split == "train" else test_size
    seed = seed + (0 if split == "train" else 1)  # the two splits hold different images
    return synthetic_images(size, channels, height, width, num_classes, seed)


@DATASETS.register("demo")
def _demo(split: str) -> ImageData:
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
