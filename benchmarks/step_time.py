"""Training-step speed of the tiny configs, measured side by side in one process.

    python benchmarks/step_time.py [--batch 64] [--rounds 5] [--threads 2]

Each round times one full ``Trainer.train_step`` (multi-block masks, forward, loss,
backward, AdamW, EMA) of every config in turn, on the same batch of Shapes images, so
machine noise hits them alike. Printed: median ms per step, images/s, time relative to
pooling-only, and the share of a step spent sampling the masks (timed separately, same
batch size, same run).
"""

import argparse
import statistics
import time
from pathlib import Path

import torch

from hjepa_lite import Trainer
from hjepa_lite.datasets import train_transform
from hjepa_lite.shapes import ShapesDataset

CONFIGS = Path(__file__).parent.parent / "configs"
NAMES = ["tiny_pool", "tiny_fpn_add", "tiny_fpn_concat", "tiny_pool_1d_seed"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = ShapesDataset("train", transform=train_transform(64))
    images = torch.stack([data[i][0] for i in range(args.batch)])
    trainers = {}
    for name in NAMES:
        trainer = Trainer(CONFIGS / f"{name}.yaml", progress=False, dataset=data)
        trainer.total_steps = 10**6  # keep the schedules in their steady middle
        trainers[name] = trainer
        trainer.train_step(images)  # warm-up
    times = {name: [] for name in NAMES}
    mask_times = []
    sampler = trainers[NAMES[0]].masks
    for _ in range(args.rounds):
        for name, trainer in trainers.items():
            start = time.perf_counter()
            trainer.train_step(images)
            times[name].append(time.perf_counter() - start)
        start = time.perf_counter()
        sampler(args.batch, generator=torch.Generator().manual_seed(0))
        mask_times.append(time.perf_counter() - start)

    base = statistics.median(times[NAMES[0]])
    masks = statistics.median(mask_times)
    print(f"batch {args.batch}, {args.threads} threads, median of {args.rounds} rounds")
    print("| config | ms / step | images / s | time vs tiny_pool |")
    print("|---|---:|---:|---:|")
    for name in NAMES:
        median = statistics.median(times[name])
        rate = args.batch / median
        print(f"| {name} | {1000 * median:.0f} | {rate:.0f} | {median / base:.3f}x |")
    print(f"mask sampling: {1000 * masks:.2f} ms per batch = {100 * masks / base:.2f} % of a step")


if __name__ == "__main__":
    main()
