"""Where does the FPN's extra training time go? torch.profiler, one config against another.

    python benchmarks/profile_step.py [--base tiny_pool] [--other tiny_fpn_add] [--steps 5]

Profiles ``--steps`` full training steps (``Trainer.train_step``: masks, forward, loss, backward,
AdamW, EMA) of each config on the same batch, alternating between the two, and prints the
operators whose self CPU time per step differs most: what ``--other`` adds, operator by operator.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
from collections import Counter

import torch
from step_time import steady_trainer  # benchmarks/ is on sys.path when run as a script
from torch.profiler import ProfilerActivity, profile

from hjepa_lite import Trainer
from hjepa_lite.data.datasets import train_transform
from hjepa_lite.data.shapes import ShapesDataset


def add_profile(trainer: Trainer, images: torch.Tensor, times: Counter, calls: Counter) -> None:
    """Profile one training step; add its self CPU time (ms) and calls per operator."""
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        trainer.train_step(images)
    for event in prof.key_averages():
        times[event.key] += event.self_cpu_time_total / 1000
        calls[event.key] += event.count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", default="tiny_pool")
    parser.add_argument("--other", default="tiny_fpn_add")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    torch.set_num_threads(2)
    data = ShapesDataset("train", transform=train_transform(64))
    images = torch.stack([data[i][0] for i in range(args.batch)])
    trainers = [steady_trainer(name, data, images) for name in (args.base, args.other)]
    (base, base_calls), (other, other_calls) = (Counter(), Counter()), (Counter(), Counter())
    for step in range(args.steps):  # alternate, so that machine noise hits both alike
        pairs = [(trainers[0], base, base_calls), (trainers[1], other, other_calls)]
        for trainer, times, calls in pairs if step % 2 == 0 else pairs[::-1]:
            add_profile(trainer, images, times, calls)
    for counter in (base, base_calls, other, other_calls):
        for key in counter:
            counter[key] /= args.steps
    total_base, total_other = sum(base.values()), sum(other.values())
    print(
        f"`python benchmarks/profile_step.py --base {args.base} --other {args.other} "
        f"--batch {args.batch} --steps {args.steps}`\n\n{datetime.date.today()}, "
        f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, 2 threads\n"
    )
    print(
        f"profiled self CPU time per step: {args.base} {total_base:.0f} ms, {args.other} "
        f"{total_other:.0f} ms ({total_other / total_base:.3f}x)\n"
    )
    print(f"| operator | {args.base} ms | {args.other} ms | extra ms | calls per step |")
    print("|---|---:|---:|---:|---|")
    keys = sorted(set(base) | set(other), key=lambda k: -abs(other[k] - base[k]))
    for key in keys[: args.top]:
        calls = f"{base_calls[key]:.0f} -> {other_calls[key]:.0f}"
        print(
            f"| `{key}` | {base[key]:.1f} | {other[key]:.1f} | {other[key] - base[key]:+.1f} "
            f"| {calls} |"
        )


if __name__ == "__main__":
    main()
