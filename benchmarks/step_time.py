"""Training-step speed, memory and FLOP utilisation of the tiny configs, side by side.

    python benchmarks/step_time.py [--batch 64] [--rounds 5] [--threads 2]

Each round times one full ``Trainer.train_step`` (multi-block masks, forward, loss,
backward, AdamW, EMA) of every config in turn, on the same batch of Shapes images, so
machine noise hits them alike. Printed per config:

* median ms per step, images/s, time relative to pooling-only;
* training memory: bytes of the tensors autograd saves for backward (activations, counted
  once per storage, parameters excluded) + 4 x trainable parameters (weights, gradients,
  AdamW's two moments) + the EMA target copy; exact, not sampled, so the ratio is stable;
* model FLOP utilisation (MFU): FLOPs of forward + backward counted by
  ``torch.utils.flop_counter`` / step time, divided by the FLOP/s of a large fp32 matmul
  timed in the same run with the same threads.

And the share of a step spent sampling the masks of a batch of 128 (timed separately, same run).
The order of the configs rotates from round to round.
"""

import argparse
import datetime
import os
import platform
import statistics
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from hjepa_lite import Trainer
from hjepa_lite.data.datasets import train_transform
from hjepa_lite.data.shapes import ShapesDataset

CONFIGS = Path(__file__).parent.parent / "configs"
NAMES = [
    "tiny_pool",
    "tiny_fpn_add",
    "tiny_fpn_concat",
    "tiny_pool_1d_seed",
    # the seed's "Future Enhancements" (FPN add + one option each, attention instead of add)
    "tiny_fpn_transposed",
    "tiny_fpn_attention",
    "tiny_fpn_widths",
    "tiny_fpn_panet",
    # the recipe before the collapse fix: an EMA head on the target path, no regularizer
    "tiny_pool_ema_head",
]
MASK_BATCH = 128  # issue 3: sampling the masks of a batch of 128 must cost < 2 % of a step


def steady_trainer(name: str, data, images: torch.Tensor) -> Trainer:
    """A Trainer for ``configs/<name>.yaml`` after one warm-up step, its schedules held in
    their steady middle (every config gets the same step index, hence the same masks)."""
    trainer = Trainer(CONFIGS / f"{name}.yaml", progress=False, dataset=data)
    trainer.total_steps = 10**6
    trainer.train_step(images)  # warm-up
    return trainer


def step_flops(trainer: Trainer, images: torch.Tensor) -> int:
    """FLOPs of one training step (matmuls, convolutions, attention of forward and backward;
    the optimizer's element-wise work is not counted and is negligible)."""
    with FlopCounterMode(display=False) as counter:
        trainer.train_step(images)
    return counter.get_total_flops()


def training_bytes(trainer: Trainer, images: torch.Tensor) -> int:
    """Saved activations + 4 x trainable parameters + the EMA copy, in bytes."""
    model = trainer.model
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in params:
            saved[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        trainer.train_step(images)
    trainable = sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
    frozen = sum(p.numel() * p.element_size() for p in model.parameters() if not p.requires_grad)
    return sum(saved.values()) + 4 * trainable + frozen


def matmul_flop_rate(size: int = 2048, repeats: int = 5) -> float:
    """FLOP/s of an fp32 ``size x size`` matmul: the machine's practical peak here."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return 2 * size**3 / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = ShapesDataset("train", transform=train_transform(64))
    images = torch.stack([data[i][0] for i in range(args.batch)])
    trainers = {name: steady_trainer(name, data, images) for name in NAMES}
    flops = {name: step_flops(trainer, images) for name, trainer in trainers.items()}
    memory = {name: training_bytes(trainer, images) for name, trainer in trainers.items()}
    times = {name: [] for name in NAMES}
    mask_times, peak_rates = [], []
    sampler = trainers[NAMES[0]].masks
    for round_ in range(args.rounds):
        # Rotate the order each round so that no config always runs first (or after the matmul).
        for name in NAMES[round_ % len(NAMES) :] + NAMES[: round_ % len(NAMES)]:
            trainer = trainers[name]
            start = time.perf_counter()
            trainer.train_step(images)
            times[name].append(time.perf_counter() - start)
        start = time.perf_counter()
        sampler(MASK_BATCH, generator=torch.Generator().manual_seed(0))
        mask_times.append(time.perf_counter() - start)
        peak_rates.append(matmul_flop_rate())

    base = statistics.median(times[NAMES[0]])
    masks = statistics.median(mask_times)
    peak = statistics.median(peak_rates)
    print(
        f"`python benchmarks/step_time.py --batch {args.batch} --rounds {args.rounds} "
        f"--threads {args.threads}`\n"
    )
    print(
        f"{datetime.date.today()}, {platform.machine()}, {os.cpu_count()} cores, torch "
        f"{torch.__version__}; batch {args.batch}, {args.threads} threads, median of "
        f"{args.rounds} rounds\n"
    )
    print(f"fp32 2048x2048 matmul: {peak / 1e9:.1f} GFLOP/s (the MFU reference)")
    print(
        "| config | ms / step | images / s | time vs tiny_pool | training memory (MB) "
        "| memory vs tiny_pool | GFLOP / step | MFU |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name in NAMES:
        median = statistics.median(times[name])
        rate = args.batch / median
        mfu = flops[name] / median / peak
        print(
            f"| {name} | {1000 * median:.0f} | {rate:.0f} | {median / base:.3f}x "
            f"| {memory[name] / 2**20:.1f} | {memory[name] / memory[NAMES[0]]:.3f}x "
            f"| {flops[name] / 1e9:.1f} | {100 * mfu:.0f} % |"
        )
    print(
        f"mask sampling: {1000 * masks:.2f} ms for {MASK_BATCH} masks = "
        f"{100 * masks / base:.2f} % of a tiny_pool step"
    )


if __name__ == "__main__":
    main()
