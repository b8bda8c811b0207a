"""Multi-process training: the process group, collectives that degrade to no-ops in one process,
and the `launcher=ddp` shortcut that starts torchrun.

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK; without them training runs in one process and
every helper here returns at once. The backend is NCCL on CUDA and gloo on CPU.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist

from wsattack.errors import ConfigError


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1


def from_env() -> DistContext:
    """The context torchrun describes in the environment (one process when it does not)."""
    env = os.environ
    return DistContext(
        int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1)), int(env.get("LOCAL_RANK", 0))
    )


def start(ctx: DistContext, device: torch.device) -> torch.device:
    """Join the process group; on CUDA each process takes the GPU of its local rank."""
    if not ctx.active:
        return device
    if device.type == "cuda":
        device = torch.device("cuda", ctx.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


def stop(ctx: DistContext) -> None:
    if ctx.active and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def barrier(ctx: DistContext) -> None:
    if ctx.active:
        dist.barrier()


def broadcast(obj, ctx: DistContext):
    """Rank 0's `obj` on every rank."""
    if not ctx.active:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather(obj, ctx: DistContext) -> list:
    """Every rank's `obj`, in rank order, on every rank."""
    if not ctx.active:
        return [obj]
    out = [None] * ctx.world_size
    dist.all_gather_object(out, obj)
    return out


def shared_run_dir(ctx: DistContext, run_dir: Path) -> Path:
    """Rank 0's output directory for every rank. Under a bare torchrun each process resolved
    Hydra's `${now:...}` itself; a directory of another rank that differs holds only Hydra's own
    files and is removed, so one run leaves one directory."""
    shared = Path(broadcast(str(run_dir), ctx))
    if shared != Path(run_dir) and _only_hydra_files(Path(run_dir)):
        shutil.rmtree(run_dir, ignore_errors=True)
    return shared


def _only_hydra_files(folder: Path) -> bool:
    """Only what Hydra and the CLI write before a task starts: .hydra/, config.yaml, *.log."""
    if not folder.is_dir():
        return False
    return all(p.name in (".hydra", "config.yaml") or p.suffix == ".log" for p in folder.iterdir())


def launch_torchrun(nproc: int, overrides: list[str], run_dir: Path) -> None:
    """Run `torchrun --standalone --nproc_per_node=nproc -m wsattack.run train OVERRIDES` with
    this run's output directory fixed for all processes; ConfigError if it fails."""
    if int(nproc) < 1:
        raise ConfigError(f"launcher.nproc_per_node must be >= 1, got {nproc}")
    kept = [o for o in overrides if not o.lstrip("+~").startswith(("launcher", "hydra.run.dir"))]
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={int(nproc)}",
        "-m",
        "wsattack.run",
        "train",
        *kept,
        f"hydra.run.dir={run_dir}",
        "launcher=none",
    ]
    if subprocess.run(command, check=False).returncode != 0:
        raise ConfigError(
            f"torchrun with {nproc} processes failed; see the output above and {run_dir}"
        )
