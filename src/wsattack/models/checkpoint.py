"""Reading and writing model weights: the project's own format and the upstream ones.

Own format: {"format": "wsattack", "state_dict": <network weights>, "meta": {model, dataset,
preprocessing, metrics, package_version, ...}}. Upstream formats (see ../shared/README.md):
Wong 2019 `{"state_dict": [sd]}` or a plain state dict; Levine 2020 `{"net": sd}` with keys
prefixed `module.` by DataParallel.
"""

from __future__ import annotations

from pathlib import Path

import torch

from wsattack import __version__
from wsattack.errors import ConfigError

FORMAT = "wsattack"


def save_checkpoint(path: Path, model, dataset: str, metrics: dict | None = None, **extra) -> None:
    """Atomically save the network's weights with what is needed to rebuild and judge it."""
    meta = {
        "model": model.name,
        "dataset": dataset,
        "preprocessing": model.preprocessing,
        "metrics": metrics or {},
        "package_version": __version__,
    }
    payload = {"format": FORMAT, "state_dict": model.net.state_dict(), "meta": meta, **extra}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


def read_checkpoint(path: Path) -> tuple[dict, dict]:
    """(state_dict, meta) from any supported format; meta is empty for upstream files."""
    if not Path(path).is_file():
        raise ConfigError(f"checkpoint {path} does not exist")
    obj = torch.load(path, map_location="cpu", weights_only=True)
    return _unwrap(obj, path)


def _unwrap(obj, path) -> tuple[dict, dict]:
    if isinstance(obj, dict) and obj.get("format") == FORMAT:
        return obj["state_dict"], obj.get("meta", {})
    if isinstance(obj, dict) and "net" in obj:
        return _strip_prefix(obj["net"], "module."), {}
    if isinstance(obj, dict) and "state_dict" in obj:
        sd = obj["state_dict"]
        return (sd[0] if isinstance(sd, list | tuple) else sd), {}
    if isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return obj, {}
    raise ConfigError(f"{path} is not a checkpoint format wsattack knows")


def _strip_prefix(state_dict: dict, prefix: str) -> dict:
    return {(k[len(prefix) :] if k.startswith(prefix) else k): v for k, v in state_dict.items()}


def load_weights(net: torch.nn.Module, state_dict: dict, source) -> None:
    """Strict load whose error names the missing and unexpected keys (a wrong architecture)."""
    expected = net.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    mismatched = sorted(
        k for k in set(expected) & set(state_dict) if expected[k].shape != state_dict[k].shape
    )
    if missing or unexpected or mismatched:
        raise ConfigError(
            f"checkpoint {source} does not fit this architecture: missing keys {missing}, "
            f"unexpected keys {unexpected}, shape mismatches {mismatched}"
        )
    net.load_state_dict(state_dict)
