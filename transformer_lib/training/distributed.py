"""Data-parallel training with ``torch.distributed``: the pieces a training script needs, one idea each.

A run of ``N`` processes, started by ``torchrun --nproc_per_node=N``, gives every process the same
model and a different slice of each global batch. After ``backward`` the gradients are averaged over
the processes (DistributedDataParallel does it, bucket by bucket while the backward pass is still
running), so every process takes the same optimizer step: the one a single process would take on the
whole batch, because the gradient of a mean is the mean of the gradients of equal-sized parts.

* :func:`setup` reads what torchrun sets (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``) and joins the group:
  ``nccl`` between GPUs, ``gloo`` between CPU processes; a single process needs no group at all.
* :func:`shard` cuts a global batch into this process's rows.
* :func:`mean_over_processes` averages a number over the processes (the loss a run reports).
* :func:`teardown` leaves the group.
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Process:
    """Where this process stands in the run: ``rank`` of ``world_size``, on ``device``."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Rank 0, the process that prints and writes checkpoints."""
        return self.rank == 0


def launched_world_size() -> int:
    """The number of processes torchrun started (1 without torchrun), read before joining any group."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def setup(device: str | None = None, timeout_s: float = 120.0) -> Process:
    """Join the process group torchrun set up (none for a single process) and pick this process's device.

    With CUDA, process ``LOCAL_RANK`` of each machine takes GPU ``LOCAL_RANK`` and the group talks
    ``nccl``; otherwise every process runs on the CPU and the group talks ``gloo``. ``device`` forces
    one (``"cpu"``). A collective that waits longer than ``timeout_s`` fails instead of hanging.
    """
    world_size = launched_world_size()
    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() if device is None else device.startswith("cuda")
    if use_cuda:
        torch.cuda.set_device(local_rank)
    chosen = torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")
    if world_size > 1:
        dist.init_process_group("nccl" if use_cuda else "gloo", timeout=timedelta(seconds=timeout_s))
    return Process(rank, world_size, chosen)


def teardown(process: Process) -> None:
    """Leave the process group (nothing to do for a single process)."""
    if process.world_size > 1 and dist.is_initialized():
        # A DistributedDataParallel wrapper sits in a reference cycle and keeps the group's threads
        # alive; left to the garbage collector at interpreter exit, gloo sometimes deadlocks there
        # (about 1 run in 20 here). Collect it while the group still exists.
        gc.collect()
        dist.destroy_process_group()


def shard(batch: torch.Tensor, process: Process) -> torch.Tensor:
    """This process's rows of a global ``(batch, ...)`` tensor: ``batch / world_size`` consecutive rows.

    Every process draws the same global batch (from the same seed) and keeps its own slice, so the
    processes together see each example exactly once, and a run on 1, 2 or 8 processes sees the same
    examples at the same step.
    """
    if batch.shape[0] % process.world_size:
        raise ValueError(f"batch has {batch.shape[0]} rows, which do not divide among {process.world_size} processes")
    rows = batch.shape[0] // process.world_size
    return batch[process.rank * rows : (process.rank + 1) * rows]


def mean_over_processes(value: torch.Tensor, process: Process) -> float:
    """The mean of a scalar over all processes (the value itself for a single process)."""
    value = value.detach().float().reshape(1).to(process.device)
    if process.world_size > 1:
        dist.all_reduce(value, op=dist.ReduceOp.SUM)
        value /= process.world_size
    return value.item()
