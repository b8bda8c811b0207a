"""`wsattack merge`: two shards of an attack and of a certification join to exactly the
unsharded run's files (time columns aside); shards of another run, overlapping shards and
missing shards are refused in one line, and the inputs are never written."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
import torch
from conftest import run_cli, train_tiny_classifier
from sharded import SIZE, runner

from wsattack.run import cli

TIME = ["time_s", "mean_time_s"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    run = tmp_path_factory.mktemp("model")
    train_tiny_classifier(run, size=SIZE)
    return run / "model.pt"


@pytest.fixture(scope="module")
def attack_runs(tmp_path_factory, checkpoint):
    """The unsharded attack run and its two shards."""
    root, run = tmp_path_factory.mktemp("attack"), runner("attack", checkpoint)
    return run(root / "whole"), [run(root / f"s{i}", f"dataset.shard={i}/2") for i in range(2)]


def _csv(path) -> pd.DataFrame:
    frame = pd.read_csv(path, keep_default_na=False, na_values=[])
    return frame.drop(columns=[c for c in TIME if c in frame])


def _snapshot(runs) -> dict:
    return {p: p.read_bytes() for run in runs for p in sorted(run.rglob("*")) if p.is_file()}


def test_attack_shards_merge_to_the_unsharded_run(tmp_path, attack_runs):
    whole, shards = attack_runs
    before = _snapshot(shards)
    cli(["merge", f"runs=[{shards[1]},{shards[0]}]", f"hydra.run.dir={tmp_path}"])
    assert _snapshot(shards) == before
    for name in ["examples.csv", "accuracy_vs_eps.csv", "summary.csv"]:
        pd.testing.assert_frame_equal(_csv(tmp_path / name), _csv(whole / name))
    merged, expected = (torch.load(d / "adversarial.pt") for d in (tmp_path, whole))
    assert merged.keys() == expected.keys()
    assert all(torch.equal(merged[k], expected[k]) for k in expected)
    assert (tmp_path / "accuracy_vs_eps.png").is_file() and (tmp_path / "examples.png").is_file()


def test_certify_shards_merge_to_the_unsharded_run(tmp_path, checkpoint):
    run = runner("certify", checkpoint)
    whole = run(tmp_path / "whole")
    shards = [run(tmp_path / f"s{i}", f"dataset.shard={i}/3") for i in range(3)]
    out = tmp_path / "merged"
    cli(["merge", f"runs=[{','.join(map(str, shards))}]", f"hydra.run.dir={out}"])
    for name in ["certify.csv", "summary.csv"]:
        pd.testing.assert_frame_equal(_csv(out / name), _csv(whole / name))
    assert (out / "certified_accuracy.png").is_file()


def _refusal(tmp_path, *runs) -> str:
    listed = ",".join(map(str, runs))
    result = run_cli("merge", f"runs=[{listed}]", f"hydra.run.dir={tmp_path / 'merged'}")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wsattack: error: ")
    assert not (tmp_path / "merged" / "examples.csv").exists()
    return lines[0]


def test_refuses_shards_of_another_run(tmp_path, attack_runs):
    _, shards = attack_runs
    other = shutil.copytree(shards[1], tmp_path / "other")
    saved = other / "config.yaml"
    saved.write_text(saved.read_text().replace("seed: 0\n", "seed: 1\n", 1))
    assert "seed is 1 there, 0 in" in _refusal(tmp_path, shards[0], other)


def test_refuses_overlapping_shards(tmp_path, attack_runs):
    _, shards = attack_runs
    again = shutil.copytree(shards[0], tmp_path / "again")
    assert "overlap: both hold image (0, -1)" in _refusal(tmp_path, shards[0], again)


def test_refuses_missing_shards(tmp_path, attack_runs):
    _, shards = attack_runs
    message = _refusal(tmp_path, shards[1])
    assert message.endswith("missing shards 0/2: add their run directories to runs=")


def test_refuses_a_shard_cut_short(tmp_path, attack_runs):
    """A shard killed before its end has rows but no summary: merging it would lose images."""
    _, shards = attack_runs
    cut = shutil.copytree(shards[1], tmp_path / "cut")
    (cut / "summary.csv").unlink()
    assert f"{cut} did not finish" in _refusal(tmp_path, shards[0], cut)
