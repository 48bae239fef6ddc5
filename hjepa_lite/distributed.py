"""Running the same training command on one process or under ``torchrun`` (DDP).

``torchrun --nproc_per_node=N -m hjepa_lite train ...`` sets ``RANK``/``WORLD_SIZE``; we
then join a process group (gloo on CPU, nccl on CUDA). Without them, everything runs in one
process and these helpers are no-ops.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist

__all__ = [
    "all_reduce_nanmean",
    "any_rank",
    "choose_device",
    "init_distributed",
    "is_main",
    "world",
]


def choose_device(name: str | None = None) -> torch.device:
    """``name`` if given, else cuda if available, else mps, else cpu."""
    if name:
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def init_distributed(device: torch.device) -> None:
    """Join the process group if launched by torchrun and not joined yet."""
    if int(os.environ.get("WORLD_SIZE", 1)) > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")


def world() -> tuple[int, int]:
    """(rank, world_size): (0, 1) without a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    return world()[0] == 0


def all_reduce_nanmean(values: torch.Tensor) -> torch.Tensor:
    """Element-wise mean over the processes of the values that are not NaN (NaN only where
    every process has NaN): a level with no valid cell on one rank does not blank the log."""
    if world()[1] == 1:
        return values
    measured = ~values.isnan()
    sums = torch.stack([values.nan_to_num(0.0), measured.to(values.dtype)])
    dist.all_reduce(sums)
    return sums[0] / sums[1]  # 0 / 0 = NaN where no process measured


def any_rank(flag: bool) -> list[int]:
    """The ranks on which ``flag`` is True (every process gets the same list; one
    all-reduce). Lets all ranks stop together instead of one leaving the others waiting."""
    rank, size = world()
    if size == 1:
        return [0] if flag else []
    flags = torch.zeros(size)
    flags[rank] = float(flag)
    dist.all_reduce(flags)
    return flags.nonzero().flatten().tolist()
