"""Helpers that make ranks agree: NaN-aware means, a shared stop flag and a replica check (two
gloo ranks), each on the device of the process group's backend (nccl reduces CUDA tensors only)."""

import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from hjepa_lite.train.distributed import (
    all_reduce_nanmean,
    any_rank,
    check_replicas,
    choose_device,
    collective_device,
    init_distributed,
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _record_devices(devices: list) -> None:
    """Wrap the collectives the helpers use so that each records its tensors' devices."""
    for name in ("all_reduce", "all_gather"):
        real = getattr(dist, name)

        def recording(*args, _real=real, _name=name, **kwargs):
            tensors = [a for a in args if isinstance(a, torch.Tensor)]
            tensors += [t for a in args if isinstance(a, list) for t in a]
            devices.extend((_name, t.device) for t in tensors)
            return _real(*args, **kwargs)

        setattr(dist, name, recording)


def _worker(rank: int, port: int, results) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    devices = []
    _record_devices(devices)
    try:
        # level 0 measured on both ranks, level 1 only on rank 1, level 2 on neither
        values = (
            torch.tensor([1.0, float("nan"), float("nan")])
            if rank == 0
            else torch.tensor([3.0, 5.0, float("nan")])
        )
        means = all_reduce_nanmean(values)
        stopping = any_rank(rank == 1)
        torch.manual_seed(0)
        same = torch.nn.Linear(3, 2)
        check_replicas(same)
        torch.manual_seed(rank)
        try:
            check_replicas(torch.nn.Linear(3, 2))
            diverged = None
        except RuntimeError as error:
            diverged = str(error)
        results[rank] = {
            "means": means.tolist(),
            "means_device": str(means.device),
            "stopping": stopping,
            "diverged": diverged,
            "devices": [(name, str(device)) for name, device in devices],
            "expected": str(collective_device()),
        }
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_two_ranks_average_share_who_must_stop_and_compare_weights_on_the_backend_device():
    results = mp.Manager().dict()
    mp.spawn(_worker, args=(_free_port(), results), nprocs=2, join=True)
    for rank in (0, 1):
        got = results[rank]
        means = got["means"]
        assert means[:2] == [2.0, 5.0] and means[2] != means[2]  # NaN only where nobody measured
        assert got["means_device"] == "cpu"  # returned where the values came from
        assert got["stopping"] == [1]
        assert got["diverged"] is not None and "ranks hold different weights" in got["diverged"]
        # every collective ran, each on the device the gloo backend reduces: the cpu
        assert got["expected"] == "cpu"
        names = {name for name, _ in got["devices"]}
        assert names == {"all_reduce", "all_gather"}
        assert {device for _, device in got["devices"]} == {"cpu"}


def test_nccl_collectives_use_the_local_ranks_gpu(monkeypatch):
    """No GPU needed: only the choice of device is checked."""
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert collective_device("nccl") == torch.device("cuda", 1)
    assert collective_device("cpu:gloo,cuda:nccl") == torch.device("cuda", 1)
    assert collective_device("gloo") == torch.device("cpu")


def test_device_cuda_under_torchrun_is_the_local_ranks_gpu(monkeypatch):
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert choose_device("cuda") == torch.device("cuda", 1)
    assert choose_device("cuda:0") == torch.device("cuda", 0)  # an explicit index is kept
    assert choose_device("cpu") == torch.device("cpu")
    monkeypatch.delenv("LOCAL_RANK")
    assert choose_device("cuda") == torch.device("cuda")


def test_the_helpers_are_no_ops_on_one_process(monkeypatch):
    monkeypatch.setattr(dist, "all_reduce", lambda *a, **k: pytest.fail("a collective ran"))
    values = torch.tensor([1.0, float("nan")])
    assert all_reduce_nanmean(values) is values
    assert any_rank(True) == [0] and any_rank(False) == []
    check_replicas(torch.nn.Linear(2, 2))
    assert collective_device() == torch.device("cpu")


def test_joining_with_a_gpu_selects_it_before_the_nccl_group(monkeypatch):
    """NCCL's collectives and barriers run on the current CUDA device: it must be this rank's."""
    calls = []
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setattr(dist, "is_initialized", lambda: False)
    monkeypatch.setattr(torch.cuda, "set_device", lambda device: calls.append(("set", device)))
    monkeypatch.setattr(dist, "init_process_group", lambda **kw: calls.append(("init", kw)))
    init_distributed(torch.device("cuda", 1))
    assert calls == [("set", torch.device("cuda", 1)), ("init", {"backend": "nccl"})]
    calls.clear()
    init_distributed(torch.device("cpu"))
    assert calls == [("init", {"backend": "gloo"})]
