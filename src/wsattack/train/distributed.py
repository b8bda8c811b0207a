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
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler, TensorDataset

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
    """The context torchrun describes in the environment, or a SLURM job step with several
    tasks (see `export_slurm`); one process when neither does."""
    env = os.environ
    if "RANK" not in env and int(env.get("SLURM_NTASKS", 1)) > 1 and "SLURM_PROCID" in env:
        export_slurm()
    return DistContext(
        int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1)), int(env.get("LOCAL_RANK", 0))
    )


def export_slurm() -> None:
    """Describe this SLURM task to torch.distributed as torchrun would (RANK, WORLD_SIZE,
    LOCAL_RANK, MASTER_ADDR: the job's first node, MASTER_PORT: drawn from the job id), with
    submitit's helper, which parses SLURM's node lists. Each task keeps every GPU of its node
    visible: `start` picks the one of its local rank, as under torchrun."""
    from submitit.helpers import TorchDistributedEnvironment

    # Set in jobs submitit starts; a plain `srun` needs it to pick submitit's SLURM reader.
    os.environ.setdefault("SUBMITIT_EXECUTOR", "slurm")
    TorchDistributedEnvironment().export(set_cuda_visible_devices=False)


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


def steps_per_epoch(n: int, batch_size: int, world_size: int = 1) -> int:
    """Batches per epoch of each rank: ceil(ceil(n / world_size) / (batch_size / world_size))."""
    per_rank = -(-n // world_size)
    return -(-per_rank // (batch_size // world_size))


def rank_sampler(size: int, ctx: DistContext, seed: int) -> DistributedSampler:
    """This rank's share of every global batch of a permutation of `size` examples drawn from
    a generator seeded by `seed` + the epoch (`set_epoch`); when `size` does not divide among
    the ranks a few examples are repeated to even the shares."""
    dataset = TensorDataset(torch.zeros(size))
    return DistributedSampler(dataset, ctx.world_size, ctx.rank, shuffle=True, seed=seed)


def wrap(net: torch.nn.Module, ctx: DistContext, device: torch.device) -> torch.nn.Module:
    """`net` under DistributedDataParallel in a multi-process run (gradients averaged across
    the ranks at each backward), `net` itself in one process."""
    if not ctx.active:
        return net
    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(net, device_ids=ids)


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
