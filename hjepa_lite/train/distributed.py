"""Running the same training command on one process or under ``torchrun`` (DDP).

``torchrun --nproc_per_node=N -m hjepa_lite train ...`` sets ``RANK``/``WORLD_SIZE``/
``LOCAL_RANK``; we then join a process group (gloo on CPU, nccl on CUDA, each rank on GPU
``cuda:LOCAL_RANK``). Without them, everything runs in one process and these helpers are
no-ops. The collectives here reduce tensors on :func:`collective_device`: NCCL reduces CUDA
tensors only, gloo CPU ones.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn

__all__ = [
    "all_reduce_nanmean",
    "any_rank",
    "check_replicas",
    "choose_device",
    "close_distributed",
    "collective_device",
    "init_distributed",
    "is_main",
    "world",
]


def _local_cuda_index() -> int:
    """This rank's GPU: ``LOCAL_RANK`` (set by torchrun), else the current CUDA device."""
    if "LOCAL_RANK" in os.environ:
        return int(os.environ["LOCAL_RANK"])
    return torch.cuda.current_device()


def choose_device(name: str | None = None) -> torch.device:
    """``name`` if given, else cuda if available, else mps, else cpu. Under torchrun, "cuda"
    (or the default) is this rank's GPU, ``cuda:LOCAL_RANK``; an explicit index is kept."""
    if name:
        device = torch.device(name)
        if device.type == "cuda" and device.index is None and "LOCAL_RANK" in os.environ:
            return torch.device("cuda", _local_cuda_index())
        return device
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def init_distributed(device: torch.device) -> None:
    """Join the process group if launched by torchrun and not joined yet (on CUDA, after
    making ``device`` the current GPU: NCCL runs its collectives there)."""
    if int(os.environ.get("WORLD_SIZE", 1)) > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")


def close_distributed() -> None:
    """Leave the process group, if joined. A torchrun worker that exits with its group still
    up can abort in teardown (gloo's threads: "terminate called without an active
    exception") after its work is done."""
    if dist.is_initialized():
        dist.destroy_process_group()


def world() -> tuple[int, int]:
    """(rank, world_size): (0, 1) without a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    return world()[0] == 0


def collective_device(backend: str | None = None) -> torch.device:
    """Where the tensors of a collective must be: ``cuda:LOCAL_RANK`` when the backend
    (default: the process group's) is or includes nccl, which reduces CUDA tensors only;
    else the cpu (gloo, or no process group)."""
    if backend is None:
        initialized = dist.is_available() and dist.is_initialized()
        backend = str(dist.get_backend()) if initialized else "gloo"
    if "nccl" in backend:
        return torch.device("cuda", _local_cuda_index())
    return torch.device("cpu")


def all_reduce_nanmean(values: torch.Tensor, device: torch.device | None = None) -> torch.Tensor:
    """Element-wise mean over the processes of the values that are not NaN (NaN only where
    every process has NaN): a level with no valid cell on one rank does not blank the log.
    Reduced on ``device`` (default :func:`collective_device`), returned on ``values``' own."""
    if world()[1] == 1:
        return values
    on = values.detach().to(device or collective_device())
    measured = ~on.isnan()
    sums = torch.stack([on.nan_to_num(0.0), measured.to(on.dtype)])
    dist.all_reduce(sums)
    return (sums[0] / sums[1]).to(values.device)  # 0 / 0 = NaN where no process measured


def any_rank(flag: bool, device: torch.device | None = None) -> list[int]:
    """The ranks on which ``flag`` is True (every process gets the same list; one
    all-reduce on ``device``, default :func:`collective_device`). Lets all ranks stop
    together instead of one leaving the others waiting."""
    rank, size = world()
    if size == 1:
        return [0] if flag else []
    flags = torch.zeros(size, device=device or collective_device())
    flags[rank] = float(flag)
    dist.all_reduce(flags)
    return flags.nonzero().flatten().tolist()


def check_replicas(module: nn.Module, device: torch.device | None = None) -> None:
    """Under DDP: raise RuntimeError unless every rank holds the same ``module`` state (the
    float64 sum of each tensor, gathered on ``device``, default :func:`collective_device`)."""
    size = world()[1]
    if size == 1:
        return
    device = device or collective_device()
    sums = [t.detach().to(device).double().sum() for t in module.state_dict().values()]
    local = torch.stack(sums)
    gathered = [torch.empty_like(local) for _ in range(size)]
    dist.all_gather(gathered, local)
    if any(not torch.equal(gathered[0], other) for other in gathered[1:]):
        raise RuntimeError("DDP replicas diverged: ranks hold different weights")
