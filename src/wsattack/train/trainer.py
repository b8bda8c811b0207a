"""The training loop: epochs of minibatch SGD/Adam, a log row and a checkpoint per epoch, resumable.

The loop is here; the log is `epoch_log`, checkpoints and resuming are `checkpoints`, the
sharing of work among processes is `distributed`.

What a step minimizes is an `Objective` (see `objectives`): plain cross-entropy, optionally after
a `BatchTransform` (noise for smoothing base models), adversarial training, or IBP. The data
order of epoch e is the permutation drawn from a generator seeded by (seed, e); with several
processes each takes its share of every global batch (`DistributedSampler`), so the union of the
ranks' batches is the single-process batch. All other randomness comes from the global RNGs,
whose state every rank checkpoints, so a resumed run repeats the uninterrupted one exactly.

train_log.csv columns: epoch; train_loss / train_acc (the objective and accuracy on the batches
trained on: adversarial ones in adversarial training); adv_loss (loss on the adversarial or, for
IBP, worst-case logits), adv_broken (fraction of training examples the inner attack broke; for
IBP not verified at the current eps), adv_radius (mean radius at which they were broken),
attack_time_s (inner attack seconds this epoch); test_acc; heldout_clean_acc / heldout_adv_acc
(the `RobustProbe`, on its epochs); lr; time_s. A value that does not apply is left empty.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils.data import DataLoader, TensorDataset
from tqdm import tqdm

from wsattack.data import ImageData
from wsattack.errors import ConfigError
from wsattack.models import Classifier
from wsattack.train import distributed
from wsattack.train.augment import crop_flip
from wsattack.train.checkpoints import TrainCheckpoints
from wsattack.train.distributed import DistContext, steps_per_epoch
from wsattack.train.epoch_log import LOG_COLUMNS, EpochTotals, TrainLog, combine, log_row
from wsattack.train.evaluate import accuracy
from wsattack.train.objectives import Standard
from wsattack.train.optim import build_optimizer, build_scheduler

__all__ = ["LOG_COLUMNS", "BatchTransform", "Trainer", "steps_per_epoch"]

log = logging.getLogger("wsattack")
BatchTransform = Callable[[torch.nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]
SEED_STRIDE = 100_003  # epoch e of seed s shuffles with generator seed s * SEED_STRIDE + e


class Trainer:
    """`Trainer(model, train_data, eval_data, cfg, device, run_dir, ...).fit() -> last log row`.

    cfg is the `train` config. objective: what a step minimizes (default: cross-entropy after
    `transform`). probe: a `RobustProbe` run on its epochs. dist: this process's place in a
    multi-process run (default: the only one); the global batch `cfg.batch_size` is split
    evenly among the processes, and when the data size does not divide among them the sampler
    repeats a few images to even the shares (as `DistributedSampler` does).
    """

    def __init__(
        self,
        model: Classifier,
        train_data: ImageData,
        eval_data: ImageData | None,
        cfg,
        device: torch.device,
        run_dir: Path,
        seed: int = 0,
        augment: bool = False,
        transform: BatchTransform | None = None,
        objective=None,
        probe=None,
        dist: DistContext | None = None,
    ):
        self.dist = dist or DistContext()
        if int(cfg.epochs) <= 0 or int(cfg.batch_size) <= 0:
            raise ConfigError(
                "train.epochs and train.batch_size must be positive, "
                f"got {cfg.epochs}, {cfg.batch_size}"
            )
        if int(cfg.batch_size) % self.dist.world_size:
            raise ConfigError(
                f"train.batch_size {cfg.batch_size} must divide "
                f"among {self.dist.world_size} processes"
            )
        self.model, self.cfg, self.device = model, cfg, device
        self.train_data, self.eval_data, self.probe = train_data, eval_data, probe
        self.run_dir, self.seed, self.augment = Path(run_dir), seed, augment
        self.objective = objective or Standard(transform)
        self.net = distributed.wrap(self.objective.network(model), self.dist, device)
        self.local_batch = int(cfg.batch_size) // self.dist.world_size
        self.sampler = distributed.rank_sampler(len(train_data), self.dist, seed * SEED_STRIDE)
        self.steps_per_epoch = steps_per_epoch(
            len(train_data), int(cfg.batch_size), self.dist.world_size
        )
        self.optimizer = build_optimizer(model.parameters(), cfg)
        self.scheduler = build_scheduler(self.optimizer, cfg, self.steps_per_epoch)
        self.log = TrainLog(self.run_dir) if self.dist.is_main else None
        self.checkpoints = TrainCheckpoints(
            self.run_dir, model, self.optimizer, self.scheduler, train_data.name, self.dist
        )
        self.checkpoint_every = int(cfg.get("checkpoint_every", 0) or 0)

    def fit(self) -> dict:
        epoch, batch, totals = self._resume() if self.cfg.resume else (0, 0, EpochTotals())
        for e in range(epoch, int(self.cfg.epochs)):
            self._run_epoch(e, batch, totals)
            batch, totals = 0, EpochTotals()
        return self.log.last_row() if self.dist.is_main else {}

    def _resume(self) -> tuple[int, int, EpochTotals]:
        resumed = self.checkpoints.resume()
        if resumed is None:
            return 0, 0, EpochTotals()
        epoch, batch, totals = resumed
        if self.dist.is_main:
            self.log.truncate(epoch)
        log.info("resuming at epoch %d, batch %d", epoch + 1, batch)
        return epoch, batch, totals

    def _batches(self, epoch: int):
        """This rank's batches of epoch `epoch`: its share of each global batch of the
        epoch's permutation."""
        self.sampler.set_epoch(epoch)
        data = self.train_data
        dataset = TensorDataset(data.images, data.labels, data.indices)
        # A private generator: otherwise starting the iterator draws a seed from the global RNG,
        # which a mid-epoch resume would then draw at a different point of the stream.
        return DataLoader(
            dataset, batch_size=self.local_batch, sampler=self.sampler, generator=torch.Generator()
        )

    def _run_epoch(self, epoch: int, start_batch: int, totals: EpochTotals) -> None:
        self.model.train()
        bar = tqdm(
            self._batches(epoch),
            total=self.steps_per_epoch,
            desc=f"epoch {epoch + 1}/{self.cfg.epochs}",
            leave=False,
            mininterval=1.0,
            disable=not self.dist.is_main,
        )
        for b, (images, labels, _) in enumerate(bar):
            if b < start_batch:
                continue
            start = time.perf_counter()
            self._step(
                images.to(self.device),
                labels.to(self.device),
                totals,
                epoch * self.steps_per_epoch + b,
            )
            totals.time_s += time.perf_counter() - start
            bar.set_postfix(
                loss=f"{totals.loss / totals.seen:.3f}", acc=f"{totals.correct / totals.seen:.3f}"
            )
            if (
                self.checkpoint_every
                and (b + 1) % self.checkpoint_every == 0
                and b + 1 < self.steps_per_epoch
            ):
                self.checkpoints.save(epoch, b + 1, totals, None)
        self._end_epoch(epoch, totals)

    def _step(
        self, images: torch.Tensor, labels: torch.Tensor, totals: EpochTotals, step: int
    ) -> None:
        if self.augment:
            images = crop_flip(images)
        out = self.objective(self.net, self.model, images, labels, step)
        self.optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        self.optimizer.step()
        self.scheduler.step()
        totals.loss += out.loss.item() * len(labels)
        totals.correct += (out.logits.argmax(1) == labels).sum().item()
        totals.seen += len(labels)
        totals.add(out.stats)

    def _end_epoch(self, epoch: int, totals: EpochTotals) -> None:
        totals = combine(distributed.gather(vars(totals), self.dist))
        metrics = None
        if self.dist.is_main:
            row = self._log_row(epoch, totals)
            self.log.append(row)
            log.info("epoch %d: %s", epoch + 1, row)
            metrics = {
                k: row[k] for k in ("test_acc", "train_loss", "heldout_adv_acc") if row[k] != ""
            }
        self.checkpoints.save(epoch + 1, 0, EpochTotals(), metrics)
        if self.dist.is_main:
            self.checkpoints.keep_epoch(epoch + 1)
        distributed.barrier(self.dist)

    def _log_row(self, epoch: int, totals: EpochTotals) -> dict:
        test_acc = None
        if self.eval_data is not None:
            test_acc = accuracy(self.model, self.eval_data, 500, self.device)
        probe = (
            self.probe(self.model)
            if self.probe is not None and self.probe.due(epoch + 1)
            else ("", "")
        )
        return log_row(epoch, totals, test_acc, probe, self.optimizer.param_groups[0]["lr"])
