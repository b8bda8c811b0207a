"""Shards: the I-th of N contiguous parts of a run's work, cut on whole blocks.

A shard is written ``"I/N"`` (0 <= I < N). The items (images, or an attack's jobs) are cut into
blocks of ``block`` consecutive items and the blocks are dealt out in order, the first shards
taking one block more when they do not divide evenly. Cutting on blocks the size of a batch
keeps every batch of a sharded run identical to the batch of the unsharded run, so the shards'
rows put together in shard order are the unsharded run's rows.
"""

from __future__ import annotations

from wsattack.errors import ConfigError

FORM = "I/N with 0 <= I < N, e.g. 0/4"


def parse_shard(spec) -> tuple[int, int]:
    """(I, N) of a shard written ``"I/N"``.

    Examples
    --------
    >>> parse_shard("1/4")
    (1, 4)
    """
    index, slash, count = str(spec).strip().partition("/")
    if not (slash and index.isdigit() and count.isdigit()):
        raise ConfigError(f"dataset.shard must be {FORM}, got {spec!r}")
    index, count = int(index), int(count)
    if not 0 <= index < count:
        raise ConfigError(f"dataset.shard must be {FORM}, got {spec!r} (I must be below N)")
    return index, count


def shard_bounds(size: int, index: int, count: int, block: int) -> tuple[int, int]:
    """[start, stop) of shard `index` of `count` over `size` items cut into blocks of `block`.

    Raises `ConfigError` for a shard that would hold nothing: N larger than the number of blocks.

    Examples
    --------
    >>> [shard_bounds(250, i, 2, 100) for i in range(2)]
    [(0, 200), (200, 250)]
    """
    blocks = -(-size // block)
    if count > blocks:
        raise ConfigError(
            f"dataset.shard={index}/{count} would be empty: {size} items in blocks of {block} "
            f"(the attack's batch size) make {blocks} part(s); use at most {blocks} shards"
        )
    base, extra = divmod(blocks, count)
    first = index * base + min(index, extra)
    taken = base + (index < extra)
    return first * block, min(size, (first + taken) * block)
