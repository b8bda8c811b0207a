"""`wsattack merge runs=[DIR,...]`: join the shard runs (`dataset.shard=I/N`) of one attack or
certify run into this run directory, with the files the unsharded run writes.

The shards' rows, in shard order, are the unsharded run's rows; summary.csv and the plots are
then made by the attack and certify tasks' own functions. The inputs are only read: the
adversarial parts are linked (or copied) into this run directory before they are merged.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pandas as pd
import torch
from omegaconf import OmegaConf

from wsattack.attacks.build import build_attack
from wsattack.errors import ConfigError
from wsattack.results import ResultTable
from wsattack.results.shard_merge import check_disjoint, check_same_experiment, shard_order
from wsattack.tasks.attack_parts import PARTS
from wsattack.tasks.attack_task import finish_attack
from wsattack.tasks.certify_task import finish_certify
from wsattack.tasks.registry import register_task

log = logging.getLogger("wsattack")
RESULTS = {"attack": "examples.csv", "certify": "certify.csv"}


@register_task("merge", "join the shard runs (dataset.shard=I/N) of one attack or certify run")
def run_merge(cfg, run_dir: Path) -> None:
    runs = _run_dirs(cfg.runs, run_dir)
    names = [str(run) for run in runs]
    configs = [OmegaConf.to_container(OmegaConf.load(run / "config.yaml")) for run in runs]
    check_same_experiment(names, configs)
    task = configs[0].get("task_name")
    if task not in RESULTS:
        raise ConfigError(f"{names[0]} is a {task} run; merge joins shards of: attack, certify")
    frames = [_rows(run / RESULTS[task]) for run in runs]
    for run, frame in zip(runs, frames, strict=True):
        _check_finished(run, frame)
    check_disjoint(names, [_keys(frame, task) for frame in frames])
    order = shard_order(names, configs)
    merged = pd.concat([frames[i] for i in order], ignore_index=True)
    table = ResultTable(run_dir / RESULTS[task], list(merged.columns))
    table.replace(merged.to_dict("records"))
    shard_cfg = OmegaConf.create(configs[0])
    shard_cfg.dataset.shard = None
    if task == "attack":
        _link_parts([runs[i] for i in order], run_dir)
        # The attack is built only for its ball and radius schedule: no model is ever called.
        attack = build_attack(torch.nn.Identity(), shard_cfg.attack, shard_cfg.get("schedule"))
        finish_attack(table.read(), run_dir, shard_cfg, attack)
    else:
        finish_certify(table, set(merged["idx"].tolist()), run_dir, shard_cfg.smoothing)
    log.info("merged %d shards (%d rows) into %s", len(runs), len(merged), run_dir)


def _run_dirs(runs, run_dir: Path) -> list[Path]:
    """The shard run directories, each holding its saved config.yaml, none of them `run_dir`."""
    runs = [Path(r) for r in ([runs] if isinstance(runs, str) else list(runs or []))]
    if not runs:
        raise ConfigError("merge needs the shard runs: runs=[DIR,DIR,...]")
    for run in runs:
        if not (run / "config.yaml").is_file():
            raise ConfigError(f"{run} holds no config.yaml: is it the run directory of a shard?")
        if run.resolve() == run_dir.resolve():
            raise ConfigError(
                f"{run} is one of the inputs; merge writes elsewhere: hydra.run.dir=NEW_DIRECTORY"
            )
    return runs


def _rows(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise ConfigError(f"{path} is missing: finish (or resume) that shard first")
    return pd.read_csv(path, keep_default_na=False, na_values=[])


def _check_finished(run: Path, frame: pd.DataFrame) -> None:
    """A shard's summary.csv is written when its run ends, counting the rows it covers: without
    it, or with another count, the shard was cut short (its rows would be silently missing)."""
    summary = run / "summary.csv"
    counted = int(pd.read_csv(summary)["n"].iloc[0]) if summary.is_file() else None
    if counted != len(frame):
        raise ConfigError(
            f"{run} did not finish ({len(frame)} rows, summary.csv "
            f"{'missing' if counted is None else f'counts {counted}'}); fix: resume it with "
            f"the same command and hydra.run.dir={run}, then merge"
        )


def _keys(frame: pd.DataFrame, task: str) -> list:
    """What a row is one of: an image idx, or for the attack an (idx, target) job."""
    if task == "attack":
        return list(frame[["idx", "target"]].itertuples(index=False, name=None))
    return frame["idx"].tolist()


def _link_parts(runs: list[Path], run_dir: Path) -> None:
    """The shards' adversarial parts in this run's parts folder, hard-linked where the file system
    allows (no copy, and the merge's own clean-up can never touch an input's file)."""
    parts = run_dir / PARTS
    parts.mkdir(exist_ok=True)
    for run in runs:
        for part in sorted((run / PARTS).glob("part_*.pt")):
            target = parts / part.name
            target.unlink(missing_ok=True)
            try:
                os.link(part, target)
            except OSError:
                shutil.copy2(part, target)
