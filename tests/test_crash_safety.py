"""Real `wsattack attack`, `certify` and `train` processes (forked from the test process, see
crash_runs.start) killed with SIGKILL at random instants, then rerun: the result equals an
uninterrupted run (time columns aside), with no example duplicated or lost.

Kill instants are drawn from a generator seeded by WSATTACK_CRASH_SEED (default 0) and the
task, and listed in every failure message, so that a failing sequence can be replayed. Two
kinds: a kill from outside after a random delay (anywhere: the attack, a part or checkpoint
being saved, a CSV append), and a kill from inside an append to the CSV, after a random
fraction of its bytes is written.
"""

from __future__ import annotations

import os
import random
import time

import numpy as np
import pandas as pd
import pytest
import torch
from crash_runs import (
    TASKS,
    keys,
    run_crashing,
    run_killed,
    run_to_end,
    task_args,
    timed_run,
)
from crash_runs import without_time as text

from wsattack.models import read_checkpoint
from wsattack.results import ResultTable
from wsattack.tasks.attack_task import EXAMPLE_COLUMNS

SEED = int(os.environ.get("WSATTACK_CRASH_SEED", "0"))
EPISODES = 6  # per task: a fresh run killed twice, then rerun to the end


@pytest.mark.parametrize("task", list(TASKS))
def test_killed_at_random_instants_then_rerun_equals_uninterrupted(task, tmp_path, tiny_checkpoint):
    """Each episode: SIGKILL at a random instant of a fresh run, SIGKILL again inside the first
    CSV append of its rerun (after a random fraction of the bytes), then a rerun to the end."""
    weights = None if task == "train" else tiny_checkpoint
    name = TASKS[task]["csv"]
    ref = tmp_path / "ref"
    span = timed_run(task_args(task, ref, weights))
    rng = random.Random(f"{SEED}-{task}")
    for episode in range(EPISODES):
        cut = tmp_path / f"cut{episode}"
        args = task_args(task, cut, weights)
        delay, fraction = (
            round(rng.uniform(0.0, span), 3),
            rng.choice([0.0, round(rng.random(), 3)]),
        )
        kills = [("after_s", delay, run_killed(args, delay))]
        kills.append(("in_write", fraction, run_crashing(args, (1, fraction))))
        run_to_end(args)
        replay = (
            f"WSATTACK_CRASH_SEED={SEED} {task} episode {episode}: (kind, instant, hit) {kills}"
        )
        print(replay)  # shown with pytest -s or -rP
        assert keys(cut / name, task) == keys(ref / name, task), replay  # no duplicate, no gap
        assert text(cut / name) == text(ref / name), replay
        assert not list(cut.rglob(".*.tmp")), replay
        _check_outputs(task, ref, cut, replay)


def _check_outputs(task: str, ref, cut, replay: str) -> None:
    if task == "attack":
        a, b = (torch.load(d / "adversarial.pt", weights_only=True) for d in (ref, cut))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), replay
    if task == "certify":
        assert text(cut / "summary.csv") == text(ref / "summary.csv"), replay
    if task == "train":
        a, b = (read_checkpoint(d / "model.pt")[0] for d in (ref, cut))
        assert all(torch.equal(a[k], b[k]) for k in a), replay
        kept = [sorted(p.name for p in (d / "checkpoints").glob("*.pt")) for d in (ref, cut)]
        assert kept[0] == kept[1], replay  # every epoch's copy, none missing
        for saved in (cut / "checkpoints").glob("*.pt"):
            read_checkpoint(saved)  # none torn


@pytest.mark.parametrize("fraction", [0.0, 0.3, 0.999])
def test_torn_last_line_is_dropped_on_open(tmp_path, fraction):
    path, columns = tmp_path / "t.csv", ["idx", "value"]
    table = ResultTable(path, columns)
    table.append([{"idx": i, "value": i / 3} for i in range(3)])
    whole = path.read_bytes()
    torn = table._encode([{"idx": 3, "value": 1.5}])
    path.write_bytes(whole + torn[: max(1, int(len(torn) * fraction))])
    reopened = ResultTable(path, columns)
    assert path.read_bytes() == whole
    reopened.append([{"idx": 3, "value": 1.5}])
    assert pd.read_csv(path)["idx"].tolist() == [0, 1, 2, 3]


def test_append_cost_stays_flat_over_a_10000_row_table(tmp_path, monkeypatch):
    """examples.csv grows to 10,000 rows in batches of 100: no append reads the table or
    replaces the file (same inode, growing by exactly its rows), and the last batches cost
    what the first did."""
    table = ResultTable(tmp_path / "examples.csv", EXAMPLE_COLUMNS)
    monkeypatch.setattr(pd, "read_csv", _no_read)
    inode, size, times = (tmp_path / "examples.csv").stat().st_ino, None, []
    for b in range(100):
        rows = [_example_row(b * 100 + i) for i in range(100)]
        size = (tmp_path / "examples.csv").stat().st_size
        begin = time.perf_counter()
        table.append(rows)
        times.append(time.perf_counter() - begin)
        after = (tmp_path / "examples.csv").stat()
        assert after.st_ino == inode and after.st_size == size + len(table._encode(rows))
    monkeypatch.undo()
    assert len(table.read()) == 10_000
    first, last = np.median(times[:10]), np.median(times[-10:])
    assert last < 3 * first + 2e-3, (first, last)


def _no_read(*args, **kwargs):
    raise AssertionError("an append read the table")


def _example_row(idx: int) -> dict:
    row = dict.fromkeys(EXAMPLE_COLUMNS, 0)
    row.update(idx=idx, eps_found=0.123456789, found_by="wasserstein", target=-1, time_s=0.01)
    return row


def test_a_corrupt_part_is_dropped_and_its_examples_redone(tmp_path, tiny_checkpoint):
    """A part file cut short (as a power loss could leave it, fsync aside): deleted on resume,
    its examples' rows dropped and attacked again, at the end; the same rows and adversarial
    examples as the uninterrupted run, in another order."""
    ref, cut = tmp_path / "ref", tmp_path / "cut"
    run_to_end(task_args("attack", ref, tiny_checkpoint))
    run_to_end(task_args("attack", cut, tiny_checkpoint))
    part = sorted((cut / "adversarial_parts").glob("part_*.pt"))[1]
    part.write_bytes(part.read_bytes()[:100])
    (cut / "adversarial.pt").unlink()
    run_to_end(task_args("attack", cut, tiny_checkpoint))
    a, b = (pd.read_csv(d / "examples.csv").drop(columns="time_s") for d in (ref, cut))
    assert b["idx"].tolist() == [0, 1, 4, 5, 6, 7, 2, 3]
    pd.testing.assert_frame_equal(a, b.sort_values("idx", ignore_index=True))
    x, y = (torch.load(d / "adversarial.pt", weights_only=True) for d in (ref, cut))
    order = torch.argsort(y["idx"])
    assert all(torch.equal(x[k], y[k][order]) for k in x)
