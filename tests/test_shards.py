"""`dataset.shard=I/N`: the cut itself, a bad spec as one line, and shards of an attack and of a
certification whose rows put together are the unsharded run's rows (time columns aside)."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import run_cli, train_tiny_classifier
from sharded import SIZE, runner

from wsattack.data.shards import parse_shard, shard_bounds
from wsattack.errors import ConfigError

TIME = ["time_s"]


def test_bounds_cover_everything_once_on_whole_blocks():
    for size, count, block in [(24, 2, 8), (25, 3, 8), (7, 7, 1), (100, 3, 10)]:
        bounds = [shard_bounds(size, i, count, block) for i in range(count)]
        assert bounds[0][0] == 0 and bounds[-1][1] == size
        assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:], strict=False))
        assert all(start % block == 0 and stop > start for start, stop in bounds)


def test_too_many_shards_and_bad_specs_are_refused():
    with pytest.raises(ConfigError, match="would be empty"):
        shard_bounds(24, 3, 4, 8)
    for bad in ["2/2", "1", "a/b", "-1/2", "1/0"]:
        with pytest.raises(ConfigError, match="dataset.shard must be I/N"):
            parse_shard(bad)


def test_cli_refuses_a_bad_shard_in_one_line(tmp_path):
    result = run_cli(
        "attack", "dataset.shard=3/2", "device=cpu", f"hydra.run.dir={tmp_path / 'run'}"
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "wsattack: error: dataset.shard must be I/N with 0 <= I < N, e.g. 0/4, got '3/2' "
        "(I must be below N)"
    ]
    assert not (tmp_path / "run").exists()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    run = tmp_path_factory.mktemp("model")
    train_tiny_classifier(run, size=SIZE)
    return run / "model.pt"


@pytest.fixture
def attack_run(checkpoint):
    return runner("attack", checkpoint)


@pytest.fixture
def certify_run(checkpoint):
    return runner("certify", checkpoint)


def shard_runs(run, tmp_path, name: str, count: int):
    """The unsharded run and `count` shard runs of `run(run_dir, *overrides)`: their directories."""
    whole = tmp_path / f"{name}_whole"
    run(whole)
    shards = [tmp_path / f"{name}_{i}" for i in range(count)]
    for i, shard in enumerate(shards):
        run(shard, f"dataset.shard={i}/{count}")
    return whole, shards


def joined(shards, csv: str) -> pd.DataFrame:
    frame = pd.concat([pd.read_csv(s / csv) for s in shards], ignore_index=True)
    return frame.drop(columns=TIME)


def test_attack_shards_join_to_the_unsharded_rows(tmp_path, attack_run):
    whole, shards = shard_runs(attack_run, tmp_path, "attack", 2)
    assert len(pd.read_csv(shards[0] / "examples.csv")) == 16  # two batches of 8 of the 24
    expected = pd.read_csv(whole / "examples.csv").drop(columns=TIME)
    pd.testing.assert_frame_equal(joined(shards, "examples.csv"), expected)


def test_certify_shards_join_to_the_unsharded_rows(tmp_path, certify_run):
    whole, shards = shard_runs(certify_run, tmp_path, "certify", 2)
    expected = pd.read_csv(whole / "certify.csv").drop(columns=TIME)
    pd.testing.assert_frame_equal(joined(shards, "certify.csv"), expected)


@pytest.mark.parametrize("task", ["eval", "train"])
def test_tasks_that_do_not_shard_refuse_a_shard(tmp_path, task):
    result = run_cli(task, "dataset.shard=0/2", "device=cpu", f"hydra.run.dir={tmp_path / 'run'}")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"wsattack: error: {task} does not shard (only attack and certify do): drop dataset.shard"
    ]
