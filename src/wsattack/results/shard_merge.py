"""What joining shard runs checks: one experiment, every shard once, no image twice.

Plain data in (each run's saved config as a dict, its rows' keys); a `ConfigError` naming the
runs at fault out.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from wsattack.data.shards import parse_shard
from wsattack.errors import ConfigError

SHARD_KEY = "dataset.shard"


def flatten(config: dict, prefix: str = "") -> dict[str, object]:
    """{dotted.key: value} of a nested config (lists are values)."""
    flat = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def check_same_experiment(names: Sequence[str], configs: Sequence[dict]) -> None:
    """Refuse runs whose configs differ in anything but `dataset.shard`, naming the setting."""
    first = flatten(configs[0])
    first.pop(SHARD_KEY, None)
    for name, config in zip(names[1:], configs[1:], strict=True):
        other = flatten(config)
        other.pop(SHARD_KEY, None)
        differing = sorted(k for k in first.keys() | other.keys() if first.get(k) != other.get(k))
        if differing:
            key = differing[0]
            raise ConfigError(
                f"{name} is not a shard of the same run as {names[0]}: {key} is "
                f"{other.get(key)!r} there, {first.get(key)!r} in {names[0]}"
                + (f" (and {len(differing) - 1} more settings)" if len(differing) > 1 else "")
            )


def shard_order(names: Sequence[str], configs: Sequence[dict]) -> list[int]:
    """The positions of the runs in shard order; refuses a run without a shard, and missing
    shards (named)."""
    shards = []
    for name, config in zip(names, configs, strict=True):
        spec = flatten(config).get(SHARD_KEY)
        if spec is None:
            raise ConfigError(f"{name} is not a shard run (its dataset.shard is null)")
        shards.append(parse_shard(spec))
    count = shards[0][1]
    for name, (index, other) in zip(names, shards, strict=True):
        if other != count:
            raise ConfigError(
                f"{name} is shard {index}/{other} but {names[0]} is one of {count}: the shards "
                "of one run share N"
            )
    missing = sorted(set(range(count)) - {index for index, _ in shards})
    if missing:
        listed = ", ".join(f"{i}/{count}" for i in missing)
        raise ConfigError(f"missing shards {listed}: add their run directories to runs=")
    return sorted(range(len(shards)), key=lambda position: shards[position][0])


def check_disjoint(names: Sequence[str], keys: Sequence[Sequence[Hashable]]) -> None:
    """Refuse runs that share a row key (an image, or an image and target), naming both."""
    owner: dict[Hashable, str] = {}
    for name, run_keys in zip(names, keys, strict=True):
        for key in run_keys:
            if key in owner:
                raise ConfigError(
                    f"{name} and {owner[key]} overlap: both hold image {key}; each image "
                    "belongs in one shard"
                )
            owner[key] = name
