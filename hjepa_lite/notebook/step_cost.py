"""The cost of a training step, measured side by side in this process (notebooks 07 and 08).

``benchmarks/step_time.py`` measures the same more carefully (more rounds, memory, FLOPs);
this is the quick version a notebook runs in a few seconds.
"""

from __future__ import annotations

import statistics
import time

import torch

from ..data.datasets import train_transform
from ..data.shapes import ShapesDataset
from ..model.params import parameter_breakdown
from ..train.trainer import Trainer

__all__ = ["step_cost_table"]


def step_cost_table(configs: tuple[str, ...], batch_size: int = 32, repeats: int = 5) -> str:
    """A Markdown table: per shipped config its trainable parameters, those of the hierarchy
    head, and the median time of one full ``Trainer.train_step`` (masks, forward, loss,
    backward, AdamW, EMA) on the same batch, relative to ``configs[0]``. The configs run
    interleaved, one step each per round, so a busy machine slows each one alike."""
    data = ShapesDataset("train", num_images=max(64, batch_size), transform=train_transform(64))
    batch = torch.stack([data[i][0] for i in range(batch_size)])
    trainers = {name: Trainer(name, progress=False, dataset=data) for name in configs}
    for trainer in trainers.values():
        trainer.train_step(batch)  # warm-up
    times = {name: [] for name in configs}
    for _ in range(repeats):
        for name, trainer in trainers.items():
            start = time.perf_counter()
            trainer.train_step(batch)
            times[name].append(time.perf_counter() - start)
    base = statistics.median(times[configs[0]])
    rows = [
        f"| config | trainable params | of which hierarchy head | step time vs {configs[0]} |",
        "|---|---:|---:|---:|",
    ]
    for name, trainer in trainers.items():
        parts = parameter_breakdown(trainer.model)
        ratio = statistics.median(times[name]) / base
        head = parts["fpn"] + parts["project"]
        rows.append(f"| `{name}` | {parts['trainable']:,} | {head:,} | {ratio:.2f}x |")
    rows.append(f"\nbatch {batch_size}, median of {repeats} steps each")
    return "\n".join(rows)
