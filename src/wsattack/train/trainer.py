"""The training loop: epochs of minibatch SGD/Adam, a log row and a checkpoint per epoch, resumable.

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
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset
from tqdm import tqdm

from wsattack.data import ImageData
from wsattack.errors import ConfigError
from wsattack.models import Classifier, read_checkpoint, save_checkpoint
from wsattack.results import ResultTable
from wsattack.runtime import rng_state, set_rng_state
from wsattack.train import distributed
from wsattack.train.augment import crop_flip
from wsattack.train.distributed import DistContext
from wsattack.train.evaluate import accuracy
from wsattack.train.objectives import Standard
from wsattack.train.optim import build_optimizer, build_scheduler

log = logging.getLogger("wsattack")
BatchTransform = Callable[[torch.nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]
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
SEED_STRIDE = 100_003  # epoch e of seed s shuffles with generator seed s * SEED_STRIDE + e


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


def steps_per_epoch(n: int, batch_size: int, world_size: int = 1) -> int:
    """Batches per epoch of each rank: ceil(ceil(n / world_size) / (batch_size / world_size))."""
    per_rank = -(-n // world_size)
    return -(-per_rank // (batch_size // world_size))


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
        self.net = self._network()
        self.local_batch = int(cfg.batch_size) // self.dist.world_size
        self.sampler = DistributedSampler(
            TensorDataset(train_data.labels),
            self.dist.world_size,
            self.dist.rank,
            shuffle=True,
            seed=seed * SEED_STRIDE,
        )
        self.steps_per_epoch = steps_per_epoch(
            len(train_data), int(cfg.batch_size), self.dist.world_size
        )
        self.optimizer = build_optimizer(model.parameters(), cfg)
        self.scheduler = build_scheduler(self.optimizer, cfg, self.steps_per_epoch)
        self.log_table = self._open_log() if self.dist.is_main else None
        self.checkpoint_every = int(cfg.get("checkpoint_every", 0) or 0)

    def _open_log(self) -> ResultTable:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        return ResultTable(self.run_dir / "train_log.csv", LOG_COLUMNS)

    def _network(self) -> torch.nn.Module:
        net = self.objective.network(self.model)
        if not self.dist.active:
            return net
        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(net, device_ids=ids)

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
                self._save(epoch, b + 1, totals)
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
        if self.dist.is_main:
            row = self._log_row(epoch, totals)
            self.log_table.append([row])
            log.info("epoch %d: %s", epoch + 1, row)
            metrics = {
                k: row[k] for k in ("test_acc", "train_loss", "heldout_adv_acc") if row[k] != ""
            }
        self._save(epoch + 1, 0, EpochTotals(), metrics=metrics if self.dist.is_main else None)
        if self.dist.is_main:
            checkpoints = self.run_dir / "checkpoints"
            (checkpoints / f"epoch_{epoch + 1:03d}.pt").write_bytes(
                self.last_checkpoint.read_bytes()
            )
        distributed.barrier(self.dist)

    def _log_row(self, epoch: int, totals: EpochTotals) -> dict:
        extra, seen = totals.extra, max(totals.seen, 1)
        broken = extra.get("adv_broken")
        test_acc = self._test_accuracy()
        clean, robust = (
            self.probe(self.model)
            if self.probe is not None and self.probe.due(epoch + 1)
            else ("", "")
        )
        return {
            "epoch": epoch + 1,
            "train_loss": _rounded(totals.loss / seen),
            "train_acc": _rounded(totals.correct / seen),
            "adv_loss": _rounded(extra["adv_loss"] / seen) if "adv_loss" in extra else "",
            "adv_broken": _rounded(broken / seen) if broken is not None else "",
            "adv_radius": _rounded(extra["adv_radius"] / broken) if broken else "",
            "attack_time_s": _rounded(extra["attack_time_s"], 3)
            if "attack_time_s" in extra
            else "",
            "test_acc": _rounded(test_acc) if test_acc is not None else "",
            "heldout_clean_acc": _rounded(clean),
            "heldout_adv_acc": _rounded(robust),
            "lr": self.optimizer.param_groups[0]["lr"],
            "time_s": _rounded(totals.time_s, 3),
        }

    def _test_accuracy(self) -> float | None:
        if self.eval_data is None:
            return None
        return accuracy(self.model, self.eval_data, 500, self.device)

    def _save(
        self, epoch: int, batch: int, totals: EpochTotals, metrics: dict | None = None
    ) -> None:
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
        save_checkpoint(
            self.last_checkpoint, self.model, self.train_data.name, metrics, train_state=state
        )

    def _resume(self) -> tuple[int, int, EpochTotals]:
        if not self.last_checkpoint.is_file():
            log.warning(
                "train.resume=true but %s does not exist: starting from scratch",
                self.last_checkpoint,
            )
            return 0, 0, EpochTotals()
        payload = torch.load(self.last_checkpoint, map_location="cpu", weights_only=True)
        state_dict, _ = read_checkpoint(self.last_checkpoint)
        self.model.net.load_state_dict(state_dict)
        state = payload["train_state"]
        if state["world_size"] != self.dist.world_size:
            raise ConfigError(
                f"{self.last_checkpoint} was written by {state['world_size']} processes; "
                "resume it with as many"
            )
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        mine = state["ranks"][self.dist.rank]
        set_rng_state(mine["rng"])
        if self.dist.is_main:
            self._truncate_log(state["epoch"])
        log.info("resuming at epoch %d, batch %d", state["epoch"] + 1, state["batch"])
        return state["epoch"], state["batch"], EpochTotals(**mine["totals"])

    def _truncate_log(self, epochs_done: int) -> None:
        """Drop log rows of epochs the checkpoint does not include (interrupted after logging)."""
        frame = self.log_table.read()
        self.log_table.replace(frame[frame["epoch"] <= epochs_done].to_dict("records"))

    def _final_metrics(self) -> dict:
        if not self.dist.is_main:
            return {}
        frame = self.log_table.read()
        return frame.iloc[-1].to_dict() if len(frame) else {}


def _rounded(value, digits: int = 6):
    return round(value, digits) if isinstance(value, float | int) else value
