"""Reading and writing model weights: the project's own format and the upstream ones.

Own format: {"format": "wsattack", "state_dict": <network weights>, "meta": {model, dataset,
preprocessing, metrics, package_version, ...}}. Upstream formats (see ../shared/README.md):
Wong 2019 `{"state_dict": [sd]}` or a plain state dict; Levine 2020 `{"net": sd}` with keys
prefixed `module.` by DataParallel.
"""

from __future__ import annotations

import os
import pickle
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
    with open(tmp, "wb") as f:
        torch.save(payload, f)
        # On disk before the rename: a crash never leaves `path` pointing at unwritten blocks.
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


def read_checkpoint(path: Path) -> tuple[dict, dict]:
    """(state_dict, meta) from any supported format; meta is empty for upstream files.

    Raises `ConfigError` (one line naming the fix) for a missing, truncated, corrupt or
    non-weights-only file, or one whose content is not a state dict of tensors.
    """
    path = Path(path)
    if not path.is_file():
        what = "is not a file" if path.exists() else "does not exist"
        raise ConfigError(f"checkpoint {path} {what}; fix: model.checkpoint=PATH of a file")
    obj = _load(path)
    state, meta = _unwrap(obj, path)
    if not (
        isinstance(state, dict)
        and state
        and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items())
    ):
        raise ConfigError(
            f"checkpoint {path} holds no state dict of named tensors; "
            "fix: save one with torch.save(model.state_dict(), PATH)"
        )
    return state, meta if isinstance(meta, dict) else {}


def _load(path: Path):
    """torch.load with weights only, every failure turned into a one-line `ConfigError`."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "weights only" in str(err).lower():
            raise ConfigError(
                f"checkpoint {path} is not weights-only (it pickles Python objects, which could "
                "run code, so wsattack does not load it); fix: re-save just the weights with "
                "torch.save(model.state_dict(), PATH)"
            ) from err
        raise _unreadable(path, err) from err
    # A file from a stranger can fail to unpickle in any way (struct.error, EOFError, KeyError,
    # RuntimeError from the zip reader...): all of them mean the file is not a readable checkpoint.
    except Exception as err:
        raise _unreadable(path, err) from err


def _unreadable(path: Path, err: Exception) -> ConfigError:
    # The first sentence of the reason: torch's add paragraphs of advice that do not apply.
    reason = next((line for line in str(err).splitlines() if line.strip()), "").split(". ")[0]
    detail = f"{type(err).__name__}: {reason}" if reason else type(err).__name__
    return ConfigError(
        f"checkpoint {path} cannot be read ({detail}): truncated or not a torch.save file; "
        "fix: download or save it again"
    )


def _unwrap(obj, path) -> tuple[dict, dict]:
    if isinstance(obj, dict) and obj.get("format") == FORMAT:
        return obj.get("state_dict"), obj.get("meta", {})
    if isinstance(obj, dict) and "net" in obj and isinstance(obj["net"], dict):
        return _strip_prefix(obj["net"], "module."), {}
    if isinstance(obj, dict) and "state_dict" in obj:
        sd = obj["state_dict"]
        return (sd[0] if isinstance(sd, list | tuple) and sd else sd), {}
    if isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return obj, {}
    raise ConfigError(
        f"{path} is not a checkpoint format wsattack knows (a state dict, or a dict holding one "
        "under 'state_dict' or 'net'); fix: model.checkpoint=PATH of such a file"
    )


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
            f"checkpoint {source} does not fit this architecture: missing keys {_few(missing)}, "
            f"unexpected keys {_few(unexpected)}, shape mismatches {_few(mismatched)}; fix: the "
            "model= its weights were trained with"
        )
    net.load_state_dict(state_dict)


def _few(keys: list[str], shown: int = 5) -> str:
    """At most `shown` keys and how many more: an error message stays one readable line."""
    more = f" and {len(keys) - shown} more" if len(keys) > shown else ""
    return f"{keys[:shown]}{more}"
