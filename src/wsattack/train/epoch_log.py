"""The training log: per-epoch running sums, their combination across processes, and
train_log.csv (one row per finished epoch; see `trainer` for the columns)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from wsattack.results import ResultTable

LOG_COLUMNS = [
    "epoch",
    "train_loss",
    "train_acc",
    "adv_loss",
    "adv_broken",
    "adv_radius",
    "attack_time_s",
    "test_acc",
    "heldout_clean_acc",
    "heldout_adv_acc",
    "lr",
    "time_s",
]


@dataclass
class EpochTotals:
    """Running sums of the current epoch (one rank's), checkpointed so that a mid-epoch
    resume logs the same row."""

    loss: float = 0.0
    correct: int = 0
    seen: int = 0
    time_s: float = 0.0
    extra: dict = field(default_factory=dict)

    def add(self, stats: dict[str, float]) -> None:
        for key, value in stats.items():
            self.extra[key] = self.extra.get(key, 0.0) + value


def combine(parts: list[dict]) -> EpochTotals:
    """The totals of all ranks: sums, except times, which overlap and so take the maximum."""
    out = EpochTotals(time_s=max(p["time_s"] for p in parts))
    out.loss, out.correct, out.seen = (
        sum(p[k] for p in parts) for k in ("loss", "correct", "seen")
    )
    for key in {k for p in parts for k in p["extra"]}:
        values = [p["extra"].get(key, 0.0) for p in parts]
        out.extra[key] = max(values) if key.endswith("time_s") else sum(values)
    return out


def log_row(epoch: int, totals: EpochTotals, test_acc, probe: tuple, lr: float) -> dict:
    """The row of epoch `epoch` (0-based) from the combined totals, the test accuracy (None
    without an eval split), the probe's (clean, adversarial) accuracy ("" off its epochs) and
    the learning rate."""
    extra, seen = totals.extra, max(totals.seen, 1)
    broken = extra.get("adv_broken")
    clean, robust = probe
    return {
        "epoch": epoch + 1,
        "train_loss": _rounded(totals.loss / seen),
        "train_acc": _rounded(totals.correct / seen),
        "adv_loss": _rounded(extra["adv_loss"] / seen) if "adv_loss" in extra else "",
        "adv_broken": _rounded(broken / seen) if broken is not None else "",
        "adv_radius": _rounded(extra["adv_radius"] / broken) if broken else "",
        "attack_time_s": _rounded(extra["attack_time_s"], 3) if "attack_time_s" in extra else "",
        "test_acc": _rounded(test_acc) if test_acc is not None else "",
        "heldout_clean_acc": _rounded(clean),
        "heldout_adv_acc": _rounded(robust),
        "lr": lr,
        "time_s": _rounded(totals.time_s, 3),
    }


class TrainLog:
    """train_log.csv in `run_dir`, written by the main process only."""

    def __init__(self, run_dir: Path):
        run_dir.mkdir(parents=True, exist_ok=True)
        self.table = ResultTable(run_dir / "train_log.csv", LOG_COLUMNS)

    def append(self, row: dict) -> None:
        self.table.append([row])

    def truncate(self, epochs_done: int) -> None:
        """Drop rows of epochs the checkpoint does not include (interrupted after logging)."""
        frame = self.table.read()
        self.table.replace(frame[frame["epoch"] <= epochs_done].to_dict("records"))

    def last_row(self) -> dict:
        frame = self.table.read()
        return frame.iloc[-1].to_dict() if len(frame) else {}


def _rounded(value, digits: int = 6):
    return round(value, digits) if isinstance(value, float | int) else value
