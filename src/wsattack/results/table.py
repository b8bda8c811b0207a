"""Result CSVs: header always, rows appended batch by batch, every write atomic (temp + rename).

Appending batch by batch is what makes runs resumable: a rerun reads the keys already written
and skips them. A NaN is refused outright, so no result file ever holds one.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd


class ResultTable:
    """One CSV file with fixed columns."""

    def __init__(self, path: str | os.PathLike, columns: Sequence[str]):
        self.path = Path(path)
        self.columns = list(columns)
        if not self.path.exists():
            self._write(pd.DataFrame(columns=self.columns))
        elif list(self.read().columns) != self.columns:
            raise ValueError(
                f"{self.path} has columns {list(self.read().columns)}, expected {self.columns}"
            )

    def read(self) -> pd.DataFrame:
        return pd.read_csv(self.path, keep_default_na=False, na_values=[])

    def append(self, rows: Iterable[dict]) -> None:
        rows = list(rows)
        if not rows:
            return
        for row in rows:
            _check_row(row, self.columns, self.path)
        frame = pd.concat(
            [self.read(), pd.DataFrame(rows, columns=self.columns)], ignore_index=True
        )
        self._write(frame)

    def replace(self, rows: Iterable[dict]) -> None:
        """Overwrite the whole table (for summaries that are recomputed from scratch)."""
        rows = list(rows)
        for row in rows:
            _check_row(row, self.columns, self.path)
        self._write(pd.DataFrame(rows, columns=self.columns))

    def done(self, key: str) -> set:
        """Values of `key` already written: what a resumed run skips."""
        return set(self.read()[key].tolist())

    def _write(self, frame: pd.DataFrame) -> None:
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        frame.to_csv(tmp, index=False)
        os.replace(tmp, self.path)


def _check_row(row: dict, columns: list[str], path: Path) -> None:
    missing = [c for c in columns if c not in row]
    if missing:
        raise ValueError(f"row for {path.name} lacks columns {missing}")
    bad = [c for c in columns if isinstance(row[c], float) and math.isnan(row[c])]
    if bad:
        raise ValueError(f"refusing to write NaN to {path.name} (columns {bad})")
