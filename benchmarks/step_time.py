"""Training-step time of the tiny configs, measured side by side in one process.

    python benchmarks/step_time.py [--batch 64] [--rounds 5] [--threads 2]

Each round times one forward + backward + AdamW step of every config, in turn (so machine
noise hits them alike); the table shows the median per config, images/s, and the ratio to
pooling-only. The mask hides half of the patches (the seed's example mask).
"""

import argparse
import statistics
import time
from pathlib import Path

import torch

from hjepa_lite import create_hjepa_from_config, load_config
from hjepa_lite.loss import hierarchical_loss

CONFIGS = Path(__file__).parent.parent / "configs"
NAMES = ["tiny_pool", "tiny_fpn_add", "tiny_fpn_concat", "tiny_pool_1d_seed"]


def make_step(name: str, batch: int):
    torch.manual_seed(0)
    model = create_hjepa_from_config(load_config(CONFIGS / f"{name}.yaml")).train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    images = torch.randn(batch, 3, model.context_encoder.img_size, model.context_encoder.img_size)
    mask = torch.zeros(batch, model.num_patches, dtype=torch.bool)
    mask[:, : model.num_patches // 2] = True

    def step() -> float:
        start = time.perf_counter()
        loss, _ = hierarchical_loss(model(images, mask), [1.0, 0.5, 0.25])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        model.update_target(0.996)
        return time.perf_counter() - start

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    steps = {name: make_step(name, args.batch) for name in NAMES}
    for step in steps.values():  # warm-up
        step()
    times = {name: [] for name in NAMES}
    for _ in range(args.rounds):
        for name, step in steps.items():
            times[name].append(step())
    base = statistics.median(times[NAMES[0]])
    print(f"batch {args.batch}, {args.threads} threads, median of {args.rounds} rounds")
    print("| config | ms / step | images / s | time vs tiny_pool |")
    print("|---|---:|---:|---:|")
    for name in NAMES:
        median = statistics.median(times[name])
        print(
            f"| {name} | {1000 * median:.0f} | {args.batch / median:.0f} | {median / base:.3f}x |"
        )


if __name__ == "__main__":
    main()
