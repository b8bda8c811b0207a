"""Training checkpoints: checkpoints/last.pt (weights, optimizer, LR schedule, every rank's epoch
totals and RNG state, where in the epoch), a copy per finished epoch, and resuming from it."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import torch

from wsattack.errors import ConfigError
from wsattack.models import read_checkpoint, save_checkpoint
from wsattack.runtime import rng_state, set_rng_state
from wsattack.train import distributed
from wsattack.train.distributed import DistContext
from wsattack.train.epoch_log import EpochTotals

log = logging.getLogger("wsattack")


class TrainCheckpoints:
    """Saves and restores the state of a training run in `run_dir / "checkpoints"`."""

    def __init__(self, run_dir: Path, model, optimizer, scheduler, dataset: str, dist: DistContext):
        self.folder = Path(run_dir) / "checkpoints"
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.dataset, self.dist = dataset, dist

    @property
    def last(self) -> Path:
        return self.folder / "last.pt"

    def save(self, epoch: int, batch: int, totals: EpochTotals, metrics: dict | None) -> None:
        """Every rank's totals and RNG state go into the checkpoint; rank 0 writes it."""
        ranks = distributed.gather({"totals": vars(totals), "rng": rng_state()}, self.dist)
        if not self.dist.is_main:
            return
        state = {
            "epoch": epoch,
            "batch": batch,
            "world_size": self.dist.world_size,
            "ranks": ranks,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
        }
        save_checkpoint(self.last, self.model, self.dataset, metrics, train_state=state)

    def keep_epoch(self, epochs_done: int) -> None:
        """A copy of last.pt as epoch_NNN.pt (main process), atomic: a kill mid-copy leaves no
        torn epoch file."""
        target = self.folder / f"epoch_{epochs_done:03d}.pt"
        tmp = target.with_suffix(".pt.tmp")
        shutil.copyfile(self.last, tmp)
        tmp.replace(target)

    def resume(self) -> tuple[int, int, EpochTotals] | None:
        """Restore weights, optimizer, schedule and this rank's RNG state and epoch totals;
        (epochs done, batches done in the next, totals), or None without a checkpoint."""
        if not self.last.is_file():
            log.warning("train.resume=true but %s does not exist: starting from scratch", self.last)
            return None
        payload = torch.load(self.last, map_location="cpu", weights_only=True)
        state_dict, _ = read_checkpoint(self.last)
        self.model.net.load_state_dict(state_dict)
        state = payload["train_state"]
        if state["world_size"] != self.dist.world_size:
            raise ConfigError(
                f"{self.last} was written by {state['world_size']} processes; "
                "resume it with as many"
            )
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        mine = state["ranks"][self.dist.rank]
        set_rng_state(mine["rng"])
        kept = self.folder / f"epoch_{state['epoch']:03d}.pt"
        if self.dist.is_main and state["epoch"] and state["batch"] == 0 and not kept.exists():
            self.keep_epoch(state["epoch"])  # killed between last.pt and its epoch copy
        return state["epoch"], state["batch"], EpochTotals(**mine["totals"])
