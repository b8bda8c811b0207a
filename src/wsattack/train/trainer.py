"""The training loop: epochs of minibatch SGD/Adam, a log row and a checkpoint per epoch, resumable.

A batch may be transformed before the loss by a `BatchTransform` (noise for smoothing base
models, an adversary for adversarial training); standard training uses none. The data order of
epoch e is drawn from a generator seeded by (seed, e), and all other randomness comes from the
global RNGs whose state is checkpointed, so a resumed run repeats the uninterrupted one exactly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from wsattack.data import ImageData
from wsattack.models import Classifier, read_checkpoint, save_checkpoint
from wsattack.results import ResultTable
from wsattack.runtime import rng_state, set_rng_state
from wsattack.train.augment import crop_flip
from wsattack.train.evaluate import accuracy
from wsattack.train.optim import build_optimizer, build_scheduler

log = logging.getLogger("wsattack")
BatchTransform = Callable[[torch.nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]
LOG_COLUMNS = ["epoch", "train_loss", "train_acc", "test_acc", "lr", "time_s"]


@dataclass
class EpochTotals:
    """Running sums of the current epoch, checkpointed so a mid-epoch resume logs the same row."""

    loss: float = 0.0
    correct: int = 0
    seen: int = 0
    time_s: float = 0.0
    extra: dict = field(default_factory=dict)


class Trainer:
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
    ):
        if int(cfg.epochs) <= 0 or int(cfg.batch_size) <= 0:
            raise ValueError(f"train.epochs and train.batch_size must be positive, got {cfg.epochs}, {cfg.batch_size}")
        self.model, self.cfg, self.device = model, cfg, device
        self.train_data, self.eval_data = train_data, eval_data
        self.run_dir, self.seed, self.augment, self.transform = Path(run_dir), seed, augment, transform
        self.steps_per_epoch = -(-len(train_data) // int(cfg.batch_size))
        self.optimizer = build_optimizer(model.parameters(), cfg)
        self.scheduler = build_scheduler(self.optimizer, cfg, self.steps_per_epoch)
        self.log_table = ResultTable(self.run_dir / "train_log.csv", LOG_COLUMNS)
        self.checkpoint_every = int(cfg.get("checkpoint_every", 0) or 0)

    @property
    def last_checkpoint(self) -> Path:
        return self.run_dir / "checkpoints" / "last.pt"

    def fit(self) -> dict:
        epoch, batch, totals = self._resume() if self.cfg.resume else (0, 0, EpochTotals())
        for e in range(epoch, int(self.cfg.epochs)):
            self._run_epoch(e, batch, totals)
            batch, totals = 0, EpochTotals()
        return self._final_metrics()

    def _batches(self, epoch: int):
        gen = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        return self.train_data.loader(int(self.cfg.batch_size), shuffle=True, generator=gen)

    def _run_epoch(self, epoch: int, start_batch: int, totals: EpochTotals) -> None:
        self.model.train()
        bar = tqdm(self._batches(epoch), total=self.steps_per_epoch, desc=f"epoch {epoch + 1}/{self.cfg.epochs}", leave=False, mininterval=1.0)
        for b, (images, labels, _) in enumerate(bar):
            if b < start_batch:
                continue
            start = time.perf_counter()
            self._step(images.to(self.device), labels.to(self.device), totals)
            totals.time_s += time.perf_counter() - start
            bar.set_postfix(loss=f"{totals.loss / totals.seen:.3f}", acc=f"{totals.correct / totals.seen:.3f}")
            if self.checkpoint_every and (b + 1) % self.checkpoint_every == 0 and b + 1 < self.steps_per_epoch:
                self._save(epoch, b + 1, totals)
        self._end_epoch(epoch, totals)

    def _step(self, images: torch.Tensor, labels: torch.Tensor, totals: EpochTotals) -> None:
        if self.augment:
            images = crop_flip(images)
        if self.transform is not None:
            images = self.transform(self.model, images, labels)
        logits = self.model(images)
        loss = F.cross_entropy(logits, labels)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.scheduler.step()
        totals.loss += loss.item() * len(labels)
        totals.correct += (logits.argmax(1) == labels).sum().item()
        totals.seen += len(labels)

    def _end_epoch(self, epoch: int, totals: EpochTotals) -> None:
        test_acc = self._test_accuracy()
        row = {
            "epoch": epoch + 1,
            "train_loss": round(totals.loss / max(totals.seen, 1), 6),
            "train_acc": round(totals.correct / max(totals.seen, 1), 6),
            "test_acc": round(test_acc, 6) if test_acc is not None else "",
            "lr": self.optimizer.param_groups[0]["lr"],
            "time_s": round(totals.time_s, 3),
        }
        self.log_table.append([row])
        log.info("epoch %d: %s", epoch + 1, row)
        self._save(epoch + 1, 0, EpochTotals(), metrics={"test_acc": test_acc, "train_loss": row["train_loss"]})
        checkpoints = self.run_dir / "checkpoints"
        (checkpoints / f"epoch_{epoch + 1:03d}.pt").write_bytes(self.last_checkpoint.read_bytes())

    def _test_accuracy(self) -> float | None:
        if self.eval_data is None:
            return None
        return accuracy(self.model, self.eval_data, 500, self.device)

    def _save(self, epoch: int, batch: int, totals: EpochTotals, metrics: dict | None = None) -> None:
        save_checkpoint(
            self.last_checkpoint,
            self.model,
            self.train_data.name,
            metrics,
            train_state={
                "epoch": epoch,
                "batch": batch,
                "totals": vars(totals),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "rng": rng_state(),
            },
        )

    def _resume(self) -> tuple[int, int, EpochTotals]:
        if not self.last_checkpoint.is_file():
            log.warning("train.resume=true but %s does not exist: starting from scratch", self.last_checkpoint)
            return 0, 0, EpochTotals()
        payload = torch.load(self.last_checkpoint, map_location="cpu", weights_only=True)
        state_dict, _ = read_checkpoint(self.last_checkpoint)
        self.model.net.load_state_dict(state_dict)
        state = payload["train_state"]
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        set_rng_state(state["rng"])
        self._truncate_log(state["epoch"])
        log.info("resuming at epoch %d, batch %d", state["epoch"] + 1, state["batch"])
        return state["epoch"], state["batch"], EpochTotals(**state["totals"])

    def _truncate_log(self, epochs_done: int) -> None:
        """Drop log rows of epochs the checkpoint does not include (an interruption after logging)."""
        frame = self.log_table.read()
        self.log_table.replace(frame[frame["epoch"] <= epochs_done].to_dict("records"))

    def _final_metrics(self) -> dict:
        frame = self.log_table.read()
        return frame.iloc[-1].to_dict() if len(frame) else {}
