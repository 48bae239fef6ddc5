"""What rendering new Shapes images costs, beside the training step they feed.

    python benchmarks/render_cost.py [--batch 32] [--rounds 15] [--threads 2]

``data.fresh_images: true`` renders a new set of training images at the start of every epoch
(``ShapesDataset.set_epoch``), so every image a run trains on is rendered once: the time it
adds to training is (render time per image) / (training time per image). Each round renders
one chunk of new images as ``set_epoch`` does (``render_shapes``, a new seed each round, so
nothing comes from the cache) and runs one ``Trainer.train_step`` of ``tiny_pool`` (the
configs' recipe) on a batch of ``--batch`` images, in turn, so machine noise hits both alike.
Prints the medians per image and their ratio.
"""

import argparse
import datetime
import os
import platform
import statistics
import time

import torch
from step_time import steady_trainer  # benchmarks/: a warmed-up trainer, steady schedules

from hjepa_lite.data.datasets import eval_transform
from hjepa_lite.data.shapes import ShapesDataset, render_shapes

CHUNK = 256  # images rendered per call, as in render_shapes' own chunks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=32, help="images per training step")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = ShapesDataset("train", transform=eval_transform(64))
    images = torch.stack([data[i][0] for i in range(args.batch)])
    trainer = steady_trainer("tiny_pool", data, images)
    render_shapes(CHUNK, seed=999_999)  # warm-up
    render, step = [], []
    for round_ in range(args.rounds):
        start = time.perf_counter()
        render_shapes(CHUNK, seed=1_000_000 + round_)
        render.append((time.perf_counter() - start) / CHUNK)
        start = time.perf_counter()
        trainer.train_step(images)
        step.append((time.perf_counter() - start) / args.batch)
    render_ms, step_ms = 1000 * statistics.median(render), 1000 * statistics.median(step)
    print(
        f"`python benchmarks/render_cost.py --batch {args.batch} --rounds {args.rounds} "
        f"--threads {args.threads}`\n"
    )
    print(
        f"{datetime.date.today()}, {platform.machine()}, {os.cpu_count()} cores, torch "
        f"{torch.__version__}; {args.threads} threads, median of {args.rounds} rounds\n"
    )
    print("| | ms per image |")
    print("|---|---:|")
    print(f"| render a new Shapes image (chunks of {CHUNK}) | {render_ms:.3f} |")
    print(f"| train on an image (tiny_pool, batch {args.batch}) | {step_ms:.3f} |")
    print(
        f"\nfresh images every epoch add {100 * render_ms / step_ms:.1f} % to training "
        f"(render / train, per image)"
    )


if __name__ == "__main__":
    main()
