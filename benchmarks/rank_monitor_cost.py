"""Share of a training step spent in RankMonitor.log (tiny_fpn_add, batch 32, 2 threads).

    python benchmarks/rank_monitor_cost.py

The trainer logs ranks every 25 steps, so the amortised share is the per-call share / 25.
Both are timed in the same loop (median of 10), so machine noise hits them alike.
"""

import statistics
import time

import torch

from hjepa_lite import Trainer
from hjepa_lite.data.datasets import eval_transform
from hjepa_lite.data.shapes import ShapesDataset

RANK_EVERY = 25


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    torch.set_num_threads(2)
    data = ShapesDataset("train", num_images=64, transform=eval_transform(64))
    images = torch.stack([data[i][0] for i in range(32)])
    trainer = Trainer("tiny_fpn_add", progress=False, dataset=data, rank_every=10**9)
    trainer.total_steps = 10**6  # schedules in their steady middle; no rank log in the steps
    trainer.train_step(images)  # warm-up
    masks = trainer.masks(32, generator=torch.Generator().manual_seed(0))
    steps, logs = [], []
    for _ in range(10):
        steps.append(timed(lambda: trainer.train_step(images)))
        with torch.no_grad():
            outputs = trainer.model(images, masks.mask, target_mask=masks.target_mask)
        logs.append(timed(lambda: trainer.ranks.log({}, 0, outputs)))  # noqa: B023
    step, log = statistics.median(steps), statistics.median(logs)
    print(
        f"step {1000 * step:.0f} ms, one rank log {1000 * log:.1f} ms "
        f"({100 * log / step:.1f} % of a step); every {RANK_EVERY} steps: "
        f"{100 * log / step / RANK_EVERY:.2f} % of training time"
    )


if __name__ == "__main__":
    main()
