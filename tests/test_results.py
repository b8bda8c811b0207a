"""The results module: header always, batch appends, atomic writes, no NaN."""

from __future__ import annotations

import math

import pytest

from wsattack.results import ResultTable


def test_header_written_before_any_row(tmp_path):
    ResultTable(tmp_path / "t.csv", ["a", "b"])
    assert (tmp_path / "t.csv").read_text().strip() == "a,b"


def test_appends_accumulate_and_resume_keys(tmp_path):
    table = ResultTable(tmp_path / "t.csv", ["idx", "eps"])
    table.append([{"idx": 0, "eps": 0.5}, {"idx": 1, "eps": math.inf}])
    table = ResultTable(tmp_path / "t.csv", ["idx", "eps"])  # a resumed run reopens it
    table.append([{"idx": 2, "eps": 0.0}])
    frame = table.read()
    assert frame["idx"].tolist() == [0, 1, 2] and math.isinf(frame["eps"][1])
    assert table.done("idx") == {0, 1, 2}
    assert not list(tmp_path.glob(".*tmp"))


def test_nan_is_refused(tmp_path):
    table = ResultTable(tmp_path / "t.csv", ["x"])
    with pytest.raises(ValueError, match="NaN"):
        table.append([{"x": float("nan")}])
    assert len(table.read()) == 0


def test_column_mismatch_is_an_error(tmp_path):
    ResultTable(tmp_path / "t.csv", ["x"])
    with pytest.raises(ValueError, match="columns"):
        ResultTable(tmp_path / "t.csv", ["y"])
