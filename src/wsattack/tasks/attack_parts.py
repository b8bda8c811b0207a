"""adversarial.pt in parts: one file per finished batch of the attack task, merged at the end.

A part is keyed by the jobs it holds (its tensors `idx` and `target`, and its name, from its
first job) and also holds the batch's examples.csv rows. It is written, atomically and synced,
before those rows reach examples.csv. So whatever instant a crash hits, on resume:
- a half-written part is a leftover temp file, deleted;
- a part whose rows did not all reach examples.csv gets them appended from the part (the very
  rows the uninterrupted run wrote, with no batch redone, so none is duplicated or lost);
- the merge takes each example of examples.csv from the one part that holds it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch

from wsattack.results import ResultTable

log = logging.getLogger("wsattack")
PARTS = "adversarial_parts"
Job = tuple[int, int]  # (image idx, target class or -1)


def save_part(run_dir: Path, payload: dict[str, torch.Tensor], rows: list[dict]) -> None:
    """Write one batch's tensors (`idx`, `target`, ...) and its CSV `rows` as one part file."""
    parts = run_dir / PARTS
    parts.mkdir(exist_ok=True)
    name = f"part_{int(payload['idx'][0]):07d}_{int(payload['target'][0])}.pt"
    tmp = parts / f".{name}.tmp"
    with open(tmp, "wb") as f:
        torch.save({**payload, "rows": rows}, f)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(parts / name)


def recover_parts(run_dir: Path, table: ResultTable, order: dict[Job, int]) -> None:
    """Make examples.csv and the parts agree after a crash, before a resumed run starts.

    order: each job's position in the run's job list; replayed rows keep that order.
    """
    parts_dir = run_dir / PARTS
    if not parts_dir.is_dir():
        return
    for stale in parts_dir.glob(".part_*.tmp"):
        stale.unlink()
    parts, lost = _load_all(parts_dir)
    frame = table.read()
    jobs = list(zip(frame["idx"].tolist(), frame["target"].tolist(), strict=True))
    written = set(jobs)
    if lost:
        # Rows whose part could not be read: dropped, so that the run attacks them again.
        held = {job for part in parts for job in _jobs(part)}
        keep = [job in held for job in jobs]
        table.replace(frame[keep].to_dict("records"))
        written &= held
    missing = [
        row
        for part in parts
        for row in part.get("rows", [])
        if (row["idx"], row["target"]) not in written
    ]
    if missing:
        missing.sort(key=lambda row: order.get((row["idx"], row["target"]), len(order)))
        table.append(missing)
        log.info("recovered %d rows of examples.csv from their saved parts", len(missing))


def merge_parts(run_dir: Path, jobs: list[Job]) -> dict[str, torch.Tensor]:
    """adversarial.pt: the tensors of `jobs` (examples.csv's rows), in that order, each taken
    from the one part that holds it; written atomically and returned ({} without parts)."""
    parts, _ = _load_all(run_dir / PARTS)
    where = {job: (p, i) for p, part in enumerate(parts) for i, job in enumerate(_jobs(part))}
    held = [job for job in jobs if job in where]
    if len(held) < len(jobs):
        log.warning("%d examples have no saved adversarial images", len(jobs) - len(held))
    if not held:
        merged = {}
    else:
        keys = [k for k in parts[0] if k != "rows"]
        merged = {k: torch.stack([parts[where[j][0]][k][where[j][1]] for j in held]) for k in keys}
    tmp = run_dir / ".adversarial.pt.tmp"
    torch.save(merged, tmp)
    tmp.replace(run_dir / "adversarial.pt")
    return merged


def _load_all(parts_dir: Path) -> tuple[list[dict], bool]:
    """Every readable part, and whether an unreadable one was deleted."""
    parts, lost = [], False
    for path in sorted(parts_dir.glob("part_*.pt")):
        try:
            parts.append(torch.load(path, map_location="cpu", weights_only=True))
        # A part cut off by a power loss fails to unpickle in any of several ways.
        except Exception as err:
            log.warning("deleting unreadable part %s (%s): its examples are redone", path, err)
            path.unlink()
            lost = True
    return parts, lost


def _jobs(part: dict) -> list[Job]:
    return list(zip(part["idx"].tolist(), part["target"].tolist(), strict=True))
