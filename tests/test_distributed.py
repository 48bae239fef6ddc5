"""Helpers that make ranks agree: NaN-aware means and a shared stop flag (two gloo ranks)."""

import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from hjepa_lite.distributed import all_reduce_nanmean, any_rank


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, port: int, results) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        # level 0 measured on both ranks, level 1 only on rank 1, level 2 on neither
        values = (
            torch.tensor([1.0, float("nan"), float("nan")])
            if rank == 0
            else torch.tensor([3.0, 5.0, float("nan")])
        )
        results[rank] = (all_reduce_nanmean(values).tolist(), any_rank(rank == 1))
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_two_ranks_average_what_they_measured_and_share_who_must_stop():
    results = mp.Manager().dict()
    mp.spawn(_worker, args=(_free_port(), results), nprocs=2, join=True)
    for rank in (0, 1):
        means, stopping = results[rank]
        assert means[:2] == [2.0, 5.0] and means[2] != means[2]  # NaN only where nobody measured
        assert stopping == [1]
