"""Several processes through ``torchrun``: who we are, the process group, and the few collectives.

``torchrun --nproc_per_node N -m electra pretrain ...`` sets RANK, WORLD_SIZE and LOCAL_RANK;
without them everything here is a no-op for one process. NCCL on GPUs, gloo on CPU. Multi-node
runs use torchrun's rendezvous (``--nnodes``, ``--rdzv-backend c10d``, ``--rdzv-endpoint``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from electra.errors import ElectraError


@dataclass(frozen=True)
class Processes:
    """This process's place among the training processes."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 logs and writes; the others only compute."""
        return self.rank == 0


def from_environment() -> Processes:
    """The torchrun variables, or one process when they are absent."""
    try:
        return Processes(
            int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))
        )
    except ValueError as exc:
        raise ElectraError(f"invalid torchrun environment (RANK/WORLD_SIZE/LOCAL_RANK): {exc}") from exc


def setup(procs: Processes, device: torch.device) -> torch.device:
    """Join the process group (once) and return this process's device (cuda:LOCAL_RANK on GPUs)."""
    if not procs.enabled:
        return device
    if device.type == "cuda":
        device = torch.device("cuda", procs.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return device


def all_sum(tensor: torch.Tensor, procs: Processes) -> torch.Tensor:
    """Sum over processes (in place), identity for one process."""
    if procs.enabled:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def any_true(flag: bool, procs: Processes, device: torch.device) -> bool:
    """True on every process when it is true on one (to stop all processes at the same step)."""
    if not procs.enabled:
        return flag
    value = torch.tensor(float(flag), device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value)


def gather_values(values: list[float], procs: Processes, device: torch.device) -> list[list[float]]:
    """Every process's ``values``, in rank order (on every process): one small collective and one
    host sync, for the few numbers all processes must agree on."""
    if not procs.enabled:
        return [list(values)]
    local = torch.tensor(values, dtype=torch.float64, device=device)
    out = [torch.empty_like(local) for _ in range(procs.world_size)]
    dist.all_gather(out, local)
    return torch.stack(out).tolist()


def gather_objects(obj: object, procs: Processes) -> list:
    """Every process's ``obj``, in rank order (on every process)."""
    if not procs.enabled:
        return [obj]
    out: list = [None] * procs.world_size
    dist.all_gather_object(out, obj)
    return out


def shutdown(procs: Processes) -> None:
    if procs.enabled and dist.is_initialized():
        dist.barrier()  # no process tears the group down while another still uses it
        dist.destroy_process_group()
