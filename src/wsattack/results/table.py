"""Result CSVs: a header always, rows appended batch by batch in place, durably.

Appending batch by batch is what makes runs resumable: a rerun reads the keys already written
and skips them. An append writes only the new rows, at the end of the file, and syncs them to
disk: its cost does not grow with the table, and what is already on disk is never rewritten.
A crash (even SIGKILL inside a write) can leave at most a torn last line, without its newline;
opening the table drops it, so a resumed run redoes that row. A NaN is refused outright, so no
result file ever holds one.
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from wsattack.errors import ConfigError

log = logging.getLogger("wsattack")
TAIL_BLOCK = 1 << 16  # bytes read from the end at a time when looking for the last newline


class ResultTable:
    """One CSV file with fixed columns.

    Parameters
    ----------
    path : str or os.PathLike
        The CSV; created with just its header when absent.
    columns : sequence of str
        Its columns, in order; an existing file with other columns is refused (`ValueError`).
    """

    def __init__(self, path: str | os.PathLike, columns: Sequence[str]):
        self.path = Path(path)
        self.columns = list(columns)
        if not self.path.exists() or self.path.stat().st_size == 0:
            self.replace([])
            return
        header = self._header()
        if header != self.columns:
            raise ConfigError(
                f"{self.path} has columns {header}, expected {self.columns}: it holds another "
                "kind of result; fix: hydra.run.dir=A_NEW_DIRECTORY"
            )
        self._drop_torn_tail()

    def read(self) -> pd.DataFrame:
        return pd.read_csv(self.path, keep_default_na=False, na_values=[])

    def append(self, rows: Iterable[dict]) -> None:
        """Write `rows` after the last line, in one write, and sync them to disk."""
        rows = list(rows)
        if not rows:
            return
        data = self._encode(rows)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)

    def replace(self, rows: Iterable[dict]) -> None:
        """Overwrite the whole table atomically (summaries recomputed from scratch, repairs)."""
        data = _lines([self.columns]) + self._encode(list(rows))
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        _fsync_dir(self.path.parent)

    def done(self, key: str) -> set:
        """Values of `key` already written: what a resumed run skips."""
        return set(self.read()[key].tolist())

    def _encode(self, rows: list[dict]) -> bytes:
        for row in rows:
            _check_row(row, self.columns, self.path)
        return _lines([row[c] for c in self.columns] for row in rows)

    def _header(self) -> list[str]:
        with open(self.path, newline="") as f:
            return next(csv.reader(f), [])

    def _drop_torn_tail(self) -> None:
        """Truncate a last line that lacks its newline: a write cut short by a crash."""
        with open(self.path, "r+b") as f:
            end = f.seek(0, os.SEEK_END)
            f.seek(end - 1)
            if f.read(1) == b"\n":
                return
            keep = _after_last_newline(f, end)
            f.truncate(keep)
            f.flush()
            os.fsync(f.fileno())
        log.warning(
            "%s: dropped a torn last line (%d bytes) left by an interrupted write",
            self.path,
            end - keep,
        )


def _after_last_newline(f, end: int) -> int:
    """The offset just past the last newline before `end` (0 when there is none)."""
    pos = end
    while pos > 0:
        start = max(0, pos - TAIL_BLOCK)
        f.seek(start)
        block = f.read(pos - start)
        cut = block.rfind(b"\n")
        if cut >= 0:
            return start + cut + 1
        pos = start
    return 0


def _lines(records) -> bytes:
    """CSV lines as pandas.to_csv writes them and read_csv reads them: minimal quoting, "\n"
    line ends, floats as str() gives them (shortest round-trip: 0.1, 1e-05, inf), None empty."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(records)
    return out.getvalue().encode()


def _fsync_dir(path: Path) -> None:
    """Sync a directory, so that a rename in it survives a power loss (not on every OS)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _check_row(row: dict, columns: list[str], path: Path) -> None:
    missing = [c for c in columns if c not in row]
    if missing:
        raise ValueError(f"row for {path.name} lacks columns {missing}")
    bad = [c for c in columns if isinstance(row[c], float) and math.isnan(row[c])]
    if bad:
        raise ValueError(f"refusing to write NaN to {path.name} (columns {bad})")
