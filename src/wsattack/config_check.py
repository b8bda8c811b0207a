"""Type and range checks of the values a user sets on the command line, before any task runs.

The composed defaults are the schema: a value set by `key=value` must have the kind of the
default it replaces (a number for a number, true/false for a flag, a list for a list...). Keys
whose default is null say their kind in `NULL_DEFAULT_KINDS`; counts (batch sizes, sample
counts, image sizes...) must be positive integers wherever they appear. Checking here, before
Hydra creates the run directory, means a bad value never touches an existing result.
"""

from __future__ import annotations

import contextlib
import math
import tempfile
from pathlib import Path

from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, ListConfig, OmegaConf

from wsattack.data.shards import parse_shard
from wsattack.errors import ConfigError, ConfigTypeError
from wsattack.paths import config_dir

# Leaf names that are counts wherever they appear: a positive integer.
COUNTS = frozenset(
    {
        "batch_size",
        "chunk",
        "channels",
        "epochs",
        "eval_limit",
        "final_steps",
        "fw_steps",
        "height",
        "kernel_size",
        "limit",
        "max_iter",
        "n",
        "n0",
        "n_predict",
        "nproc_per_node",
        "num_classes",
        "oracle_iters",
        "pgd_steps",
        "sinkhorn_iters",
        "smoothing_samples",
        "step_size",
        "steps",
        "test_size",
        "train_size",
        "width",
    }
)
# Leaf names of integers where 0 means "off" or is a valid seed: a non-negative integer.
NON_NEGATIVE_INTS = frozenset(
    {"checkpoint_every", "cpu_threads", "every", "final_targets", "runner_up", "seed", "size"}
)
# Leaf names of reals that are positive wherever they appear (rates, radii, exponents...).
POSITIVE_NUMBERS = frozenset(
    {"eps0", "eps_max", "factor", "final_window", "lam", "lr", "p", "radius", "rtol"}
)
# Leaf names of reals that may be 0 but never negative (penalties, tolerances); a noise sigma is
# checked by its noise model, which also refuses 0.
NON_NEGATIVE_NUMBERS = frozenset(
    {"momentum", "rerun_above", "tol", "warmup_epochs", "weight_decay"}
)
# The kind of the keys whose default is null (other null keys take any single value or null).
NULL_DEFAULT_KINDS = {
    "dataset.limit": "count",
    "train.eval_limit": "count",
    "eval.verify_linf_eps": "number",
    "dataset.indices": "indices",
    "dataset.shard": "shard",
}
# Lists of paths (their default is empty, so it does not say so).
PATH_LISTS = frozenset({"runs"})
# Keys with a non-null default that null turns off (elsewhere null is refused for a set value).
NULL_ALLOWED = frozenset({"model.checkpoint", "train.eval_split", "cpu_threads"})


def check_values(cfg: DictConfig, base: DictConfig, overrides: list[str]) -> None:
    """Raise `ConfigError` for the first override whose value does not fit its default in `base`.

    cfg: the config composed with `overrides`; base: composed with only the group choices
    among them (`dataset=...`, `experiment=...`), so that a preset's values count as defaults.
    """
    for key in value_keys(cfg, overrides):
        default = OmegaConf.select(base, key, default=_ABSENT)
        if default is _ABSENT:
            continue  # added with +key=value: no default says its kind
        value = OmegaConf.select(cfg, key)
        _check_kind(key, value, default)
        _check_range(key, value, default)


def check_choices(cfg: DictConfig) -> None:
    """Refuse a group member whose name starts with "_": such a file holds settings its group's
    members share (smoothing/_sampling.yaml), not a member of its own."""
    for group, choice in cfg.hydra.runtime.choices.items():
        if isinstance(choice, str) and choice.startswith("_"):
            members = sorted(
                path.stem
                for path in (config_dir() / group).glob("*.yaml")
                if not path.stem.startswith("_")
            )
            raise ConfigError(
                f"{group}={choice} holds settings shared by the {group} group, not a member; "
                f"fix: {group}=NAME with NAME one of: {', '.join(members)}"
            )


def value_keys(cfg: DictConfig, overrides: list[str]) -> list[str]:
    """The keys set by `overrides` that are values, not config-group choices or Hydra's own."""
    choices = set(cfg.hydra.runtime.choices) if "hydra" in cfg else set()
    keys = []
    for override in OverridesParser.create().parse_overrides(overrides):
        key = override.key_or_group
        if override.is_delete() or key in choices or key.split(".", 1)[0] == "hydra":
            continue
        keys.append(key)
    return keys


def group_choices(cfg: DictConfig, overrides: list[str]) -> list[str]:
    """The overrides that pick a config-group member (the rest set values)."""
    keys = set(value_keys(cfg, overrides))
    parsed = OverridesParser.create().parse_overrides(overrides)
    return [text for text, o in zip(overrides, parsed, strict=True) if o.key_or_group not in keys]


def check_run_dir(path: str) -> None:
    """Refuse a run directory that cannot be created or written to.

    Tried for real (permissions say little to root, or on /proc), then undone: the directories
    this creates are removed again, so a refused or later-failing run leaves nothing behind.
    """
    target = Path(path).absolute()
    missing = [p for p in (target, *target.parents) if not p.exists()]
    try:
        target.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=target):
            pass
    except OSError as err:
        raise ConfigError(
            f"run directory {target} cannot be created or written ({err.strerror}); "
            "fix: hydra.run.dir=A_WRITABLE_DIRECTORY"
        ) from err
    finally:
        for created in missing:
            with contextlib.suppress(OSError):
                created.rmdir()


_ABSENT = object()  # marks a key that the base config does not have


def _check_kind(key: str, value, default) -> None:
    if value is None:
        if default is not None and key not in NULL_ALLOWED:
            raise ConfigError(f"{key} cannot be null; fix: {key}={_example(default)}")
        return
    if default is None:
        _check_null_default_kind(key, value)
    elif isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigTypeError(f"{key} must be true or false, got {value!r}; fix: {key}=true")
    elif isinstance(default, int | float):
        if not _is_number(value):
            raise ConfigTypeError(f"{key} must be a number, got {value!r}; fix: {key}={default}")
    elif isinstance(default, str):
        _check_text(key, value, default)
    elif isinstance(default, ListConfig):
        _check_list(key, value, default)
    elif isinstance(default, DictConfig) and not isinstance(value, DictConfig):
        raise ConfigTypeError(
            f"{key} is a group of options ({', '.join(map(str, default))}), got {value!r}; "
            f"fix: set one of them, e.g. {key}.{next(iter(default), 'KEY')}=VALUE"
        )


def _check_text(key: str, value, default: str) -> None:
    """A string; true/false too where the default is "auto" (a three-way setting)."""
    if isinstance(value, str) or (isinstance(value, bool) and default == "auto"):
        return
    if isinstance(value, DictConfig | ListConfig):
        raise ConfigTypeError(f"{key} must be a single value, got {_show(value)}")
    # Hydra reads 3 as a number: quoting it passes the text "3".
    raise ConfigTypeError(f"{key} must be text, got the number {value!r}; fix: {key}='{value}'")


def _check_null_default_kind(key: str, value) -> None:
    kind = NULL_DEFAULT_KINDS.get(key)
    if kind == "count":
        _check_count(key, value, minimum=1)
    elif kind == "number" and not _is_number(value):
        raise ConfigTypeError(f"{key} must be a number or null, got {value!r}")
    elif kind == "shard":
        parse_shard(value)
    elif kind == "indices":
        if isinstance(value, ListConfig):
            if not all(_is_int(v) for v in value):
                raise ConfigTypeError(f"{key} must be a list of integers or a file path")
        elif not isinstance(value, str):
            raise ConfigTypeError(f"{key} must be a list of integers or a file path, got {value!r}")


def _check_list(key: str, value, default: ListConfig) -> None:
    if not isinstance(value, ListConfig):
        raise ConfigTypeError(f"{key} must be a list, got {value!r}; fix: {key}=[...]")
    if key in PATH_LISTS and not all(isinstance(v, str) for v in value):
        raise ConfigTypeError(f"{key} must be a list of paths; fix: quote them, {key}=['1']")
    radii = key.endswith("radii")  # numbers even where the default is empty
    if radii or (len(default) and all(_is_number(v) for v in default)):
        bad = [v for v in value if not _is_number(v)]
        if bad:
            raise ConfigTypeError(f"{key} must be a list of numbers; {bad[0]!r} is not one")
    if radii:
        _check_radii(key, list(value))


def _check_radii(key: str, radii: list) -> None:
    """Finite radii >= 0; reported ones smallest first (`auto` reruns Frank-Wolfe above the
    first, and the tables list them in order)."""
    bad = [r for r in radii if not (math.isfinite(r) and r >= 0)]
    if bad:
        raise ConfigError(f"{key} must hold finite radii >= 0; {bad[0]!r} is not one")
    if key.endswith("report_radii") and radii != sorted(radii):
        fix = ",".join(map(str, sorted(radii)))
        raise ConfigError(f"{key} must list the radii smallest first; fix: {key}=[{fix}]")


def _check_range(key: str, value, default) -> None:
    leaf = key.rsplit(".", 1)[-1]
    if value is None:
        return
    if leaf in COUNTS:
        _check_count(key, value, minimum=1, example=default)
    elif leaf in NON_NEGATIVE_INTS:
        _check_count(key, value, minimum=0, example=default)
    elif isinstance(value, float) and math.isnan(value):
        raise ConfigError(f"{key} must be a number, got nan")
    elif leaf in POSITIVE_NUMBERS and _is_number(value) and value <= 0:
        raise ConfigError(f"{key} must be positive, got {value}")
    elif leaf in NON_NEGATIVE_NUMBERS and _is_number(value) and value < 0:
        raise ConfigError(f"{key} must be >= 0, got {value}")


def _check_count(key: str, value, minimum: int, example=None) -> None:
    """An integer >= minimum; the fix suggests `example` (the default), else the minimum."""
    if not _is_int(value) or value < minimum:
        what = "a positive integer" if minimum == 1 else "an integer >= 0"
        fix = example if _is_int(example) and example >= minimum else max(minimum, 1)
        raise ConfigError(f"{key} must be {what}, got {value!r}; fix: {key}={fix}")


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _example(default) -> str:
    return str(default).lower() if isinstance(default, bool) else str(default)


def _show(value) -> str:
    return str(OmegaConf.to_container(value))
