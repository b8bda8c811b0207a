"""`wsattack report`: the table matches what each run's examples.csv implies; clear errors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from conftest import run_cli

from wsattack.results import ResultTable
from wsattack.run import cli
from wsattack.tasks.attack_task import EXAMPLE_COLUMNS

# eps_found of two small runs: 0 = misclassified clean image, inf = never fooled.
RUNS = {
    "weak": [0.0, 0.2, 0.35, 0.5, 0.9, 1.4],
    "strong": [0.4, 0.8, 1.0, 1.2, math.inf, math.inf, 0.0, 2.5],
}
RADII = [0.3, 0.5, 1.0]


def _fake_run(path, eps_found):
    """An attack run directory holding only examples.csv, as `wsattack attack` writes it."""
    path.mkdir()
    rows = []
    for i, eps in enumerate(eps_found):
        fooled = math.isfinite(eps)
        row = dict.fromkeys(EXAMPLE_COLUMNS, 0)
        row.update(idx=i, label=1, clean_pred=1 if eps > 0 else 2, clean_correct=int(eps > 0))
        row.update(success=int(fooled), eps_found=eps, adv_pred=2 if fooled else 1, target=-1)
        rows.append(row)
    ResultTable(path / "examples.csv", EXAMPLE_COLUMNS).append(rows)
    return path


def test_table_equals_what_examples_imply(tmp_path):
    runs = [_fake_run(tmp_path / name, eps) for name, eps in RUNS.items()]
    out = tmp_path / "report"
    radii = ",".join(map(str, RADII))
    cli(
        [
            "report",
            f"runs=[{runs[0]},{runs[1]}]",
            "labels=[A,B]",
            f"radii=[{radii}]",
            f"hydra.run.dir={out}",
        ]
    )
    table = pd.read_csv(out / "report.csv")
    assert table["label"].tolist() == ["A", "B"]
    assert table["n"].tolist() == [len(eps) for eps in RUNS.values()]
    for (_, row), eps in zip(table.iterrows(), RUNS.values(), strict=True):
        eps = np.array(eps)
        assert row["clean_accuracy"] == pytest.approx((eps > 0).mean(), abs=1e-6)
        assert row["success_rate"] == pytest.approx(np.isfinite(eps).mean(), abs=1e-6)
        for r in RADII:
            assert row[f"acc@{r:g}"] == pytest.approx((eps > r).mean(), abs=1e-6)
    assert (out / "accuracy_vs_eps.png").stat().st_size > 0


def test_labels_default_to_run_directory_names_and_reruns_replace(tmp_path):
    run = _fake_run(tmp_path / "vanilla", RUNS["weak"])
    cli(["report", f"runs=[{run}]", f"hydra.run.dir={tmp_path / 'out'}"])
    cli(["report", f"runs=[{run}]", "radii=[2.0]", f"hydra.run.dir={tmp_path / 'out'}"])
    table = pd.read_csv(tmp_path / "out" / "report.csv")
    assert table["label"].tolist() == ["vanilla"] and "acc@2" in table and "acc@1" not in table


def _error(*args) -> str:
    result = run_cli("report", *args)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    return result.stderr.strip()


def test_missing_run_directory_is_a_clear_error(tmp_path):
    missing = tmp_path / "nowhere"
    assert f"run directory {missing} does not exist" in _error(
        f"runs=[{missing}]", f"hydra.run.dir={tmp_path / 'o'}"
    )


def test_run_without_examples_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    message = _error(f"runs=[{tmp_path / 'empty'}]", f"hydra.run.dir={tmp_path / 'o'}")
    assert "holds no examples.csv" in message


def test_no_runs_and_mismatched_labels_are_clear_errors(tmp_path):
    assert "report needs attack runs" in _error(f"hydra.run.dir={tmp_path / 'o'}")
    run = _fake_run(tmp_path / "a", RUNS["weak"])
    message = _error(f"runs=[{run}]", "labels=[x,y]", f"hydra.run.dir={tmp_path / 'o'}")
    assert "labels has 2 entries but runs has 1" in message


def test_unmeasured_counts_and_runs_from_before_eps_failed(tmp_path):
    new = _fake_run(tmp_path / "new", RUNS["strong"])
    frame = pd.read_csv(new / "examples.csv")
    # Where the attack last failed: #5 (never broken) stopped at 0.4.
    frame["eps_failed"] = [0.3, 0.5, 0.5, 1.0, 2.0, 0.4, 0.0, 2.0]
    frame.to_csv(new / "examples.csv", index=False)
    old = _fake_run(tmp_path / "old", RUNS["weak"])
    frame = pd.read_csv(old / "examples.csv").drop(columns=["eps_failed", "found_by"])
    frame.to_csv(old / "examples.csv", index=False)
    out = tmp_path / "report"
    cli(["report", f"runs=[{new},{old}]", "radii=[0.3,0.5,1.0]", f"hydra.run.dir={out}"])
    table = pd.read_csv(out / "report.csv").set_index("label")
    columns = list(table.columns)
    assert columns.index("unmeasured@0.5") == columns.index("acc@0.5") + 1
    assert table.loc["new", ["unmeasured@0.3", "unmeasured@0.5", "unmeasured@1"]].tolist() == [
        0,
        1,
        1,
    ]
    assert (table.loc["old", ["unmeasured@0.3", "unmeasured@0.5", "unmeasured@1"]] == -1).all()
    assert table.loc["old", "acc@0.5"] == pytest.approx(2 / 6)
    assert not table.isna().any().any() and (out / "accuracy_vs_eps.png").stat().st_size > 0
