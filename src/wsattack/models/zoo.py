"""Pretrained models by name: upstream URL, checksum, architecture and preprocessing.

Files are looked up, in order, in a local mirror laid out like `../shared/checkpoints`
(`zoo.dir` or `WSATTACK_ZOO_DIR`), in the download cache, and else downloaded into the cache.
Every file is checked against its sha256 before use.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from wsattack.errors import ConfigError, DataNotFoundError
from wsattack.paths import ASSETS_DIR

WONG_URL = "https://github.com/locuslab/projected_sinkhorn/raw/master/checkpoints/{}.pth"
LEVINE_URL = "https://github.com/alevine0/wasserstein_smoothing/raw/master/checkpoints/{}.pth"
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "wsattack" / "zoo"


@dataclass(frozen=True)
class ZooEntry:
    name: str
    path: str  # relative to the zoo dir / cache, or to the package assets when packaged
    url: str | None
    sha256: str | None  # None only for files shipped inside the package
    model: str = "mnist_cnn"
    dataset: str = "mnist"
    binarize: bool = False
    packaged: bool = False


_WONG_SHA = {
    "mnist_vanilla": "f95e9ca5f79c6f05c4373f9fa18fb89e1606f939a538390822bce391e7c7e60d",
    "mnist_binarize": "a3921ef74e5bcad28e276d2cc00ce5948d4295786aaf6fd7eda81473e81b71ae",
    "mnist_robust": "95014ab0c04c73f48b3be0cb7acc42aff60ce4420c6c43bec25e9a1447279e08",
    "mnist_adv_training": "cb1b02fecc0fa07a0b86a22ef87187c1e849ebaa24cd8f8004f039a0f9871f32",
}
_LEVINE_SHA = {
    ("wasserstein", "0.005"): "8deb83aba47a667ae950bf239def1c79f5576f10a9b29e3f0ca5d2b387b4c649",
    ("wasserstein", "0.01"): "464a6d7ae1e729c525fff305e34ecbe22644774b04d94b8ebd2aac2229324b03",
    ("wasserstein", "0.02"): "b93970bfe07211b2d49a5d82402f378ff7f44503640f5a081ac689c18c308cab",
    ("wasserstein", "0.05"): "29cb6974a9e5f5d2720f832bbbff9fd764c9056ac84a2d039da4de60d6a3b7ae",
    ("wasserstein", "0.1"): "094c17a86a8558b8fc491c916ae748abf46e26344fc5e8554e68baf98633b196",
    ("wasserstein", "0.2"): "6a8cc7b085144d17229581cce55a814ca22cde9ef48525ac683a9a03883ed2eb",
    ("wasserstein", "0.5"): "072fd428f1982bbcdd26fb83278aa52c1460796bba3813b67c529d658827fcf9",
    ("laplace", "0.005"): "782ecb547216a65e14e11cb2cb495ec74d730fee2b0327a1ce7c9333a08d47d5",
    ("laplace", "0.01"): "6372b36ce7f385f26fab04592e51e569fc1a06477499521eda74eab305456f26",
    ("laplace", "0.02"): "36a77f7fc6ed289e4d829a79125d723258de89c2177c8dc50da1381ea25011c0",
    ("laplace", "0.05"): "d41bb7bad5828b5c1673cafd9fe1b56294570ab1659058f3e27692f17084d38a",
    ("laplace", "0.1"): "cd6809a1f45d5e50097b8bc6e3e290b7e5f70e64cebddf0e1f43f7e51cdc9e0c",
    ("laplace", "0.2"): "c8c6e10cf437d6064a0f35ca92220c78d0deafde0614599832da5d1cbc6e0f95",
    ("laplace", "0.5"): "12d5727752eaa34a98e6e5dc09e4ba7ee8ea9eacc8850552758c09d0039760da",
}
LEVINE_SIGMAS = ("0.005", "0.01", "0.02", "0.05", "0.1", "0.2", "0.5")


def _levine_upstream_name(noise: str, sigma: str) -> str:
    kind = "smooth" if noise == "wasserstein" else "laplace_smooth"
    return f"mnist_{kind}_base_lr_0.001_stddev_{sigma}_epoch_199"


def _build_table() -> dict[str, ZooEntry]:
    entries = [
        ZooEntry(
            f"wong2019_{stem}",
            f"wong2019/{stem}.pth",
            WONG_URL.format(stem),
            sha,
            binarize=stem == "mnist_binarize",
        )
        for stem, sha in _WONG_SHA.items()
    ]
    entries += [
        ZooEntry(
            f"levine2020_mnist_{noise}_sigma_{sigma}",
            f"levine2020/mnist_{noise}_sigma_{sigma}.pth",
            LEVINE_URL.format(_levine_upstream_name(noise, sigma)),
            sha,
        )
        for (noise, sigma), sha in _LEVINE_SHA.items()
    ]
    entries.append(
        ZooEntry(
            "demo_fashion_mnist_cnn",
            "demo_fashion_mnist_cnn.pt",
            None,
            None,
            dataset="fashion_mnist",
            packaged=True,
        )
    )
    return {e.name: e for e in entries}


ZOO: dict[str, ZooEntry] = _build_table()


def zoo_entry(name: str) -> ZooEntry:
    if name not in ZOO:
        raise ConfigError(f"unknown zoo model {name!r}; choose from: {', '.join(sorted(ZOO))}")
    return ZOO[name]


def fetch(
    entry: ZooEntry, zoo_dir: str | os.PathLike | None = None, cache_dir: Path = DEFAULT_CACHE
) -> Path:
    """A verified local file for `entry`: mirror, then cache, then a download into the cache."""
    if entry.packaged:
        return _packaged(entry)
    mirror = zoo_dir or os.environ.get("WSATTACK_ZOO_DIR")
    candidates = ([Path(mirror) / entry.path] if mirror else []) + [Path(cache_dir) / entry.path]
    for path in candidates:
        if path.is_file():
            verify_sha256(path, entry.sha256)
            return path
    return _download(entry, Path(cache_dir) / entry.path, candidates)


def verify_sha256(path: Path, expected: str | None) -> None:
    if expected is None:
        return
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != expected:
        raise ConfigError(f"checksum mismatch for {path}: sha256 {digest}, expected {expected}")


def _packaged(entry: ZooEntry) -> Path:
    path = ASSETS_DIR / entry.path
    if not path.is_file():
        raise DataNotFoundError(f"packaged model {path} is missing; run `make demo-assets`")
    return path


def _download(entry: ZooEntry, target: Path, looked: list[Path]) -> Path:
    from torch.hub import download_url_to_file

    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(target.suffix + ".part")
    try:
        download_url_to_file(entry.url, str(partial), progress=True)
    except OSError as err:
        partial.unlink(missing_ok=True)
        where = ", ".join(str(p) for p in looked)
        raise DataNotFoundError(
            f"zoo model {entry.name} not found (looked in: {where}) and download from "
            f"{entry.url} failed ({err}); fix: set WSATTACK_ZOO_DIR or zoo.dir=PATH to a "
            "local mirror"
        ) from err
    try:
        verify_sha256(partial, entry.sha256)
    except ConfigError:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(target)
    return target
