"""`dataset.shard=I/N`: the part of the selected work one task run does (see data.shards)."""

from __future__ import annotations

import logging
from math import lcm

from wsattack.data.shards import parse_shard, shard_bounds
from wsattack.errors import ConfigError

log = logging.getLogger("wsattack")


def shard_range(cfg, size: int, block: int) -> range:
    """The positions (images or jobs) of `size` that this run's `dataset.shard` keeps, on
    blocks of `block`; all of them without a shard."""
    spec = cfg.dataset.get("shard")
    if spec is None:
        return range(size)
    index, count = parse_shard(spec)
    start, stop = shard_bounds(size, index, count, block)
    log.info("shard %d/%d: positions %d to %d of %d", index, count, start, stop - 1, size)
    return range(start, stop)


def attack_block(batch_size: int, jobs_per_image: int) -> int:
    """The smallest block of jobs that is whole batches and whole images (target=all gives
    each image several jobs, which one shard must keep together)."""
    return lcm(batch_size, jobs_per_image)


def refuse_shard(cfg) -> None:
    """One line for `dataset.shard` on a task that does not shard (`wsattack merge` joins only
    attack and certify runs), rather than silently doing all the work."""
    if cfg.dataset.get("shard") is not None:
        raise ConfigError(
            f"{cfg.task_name} does not shard (only attack and certify do): drop dataset.shard"
        )
