"""Can an FPN head buy small objects when it is trained for them? A supervised dense head on
frozen encoder tokens, with and without its top-down pathway, per cell, paired by seed.

    python benchmarks/supervised_dense_head.py --runs RUNS/shapes --dataset shapes
    python benchmarks/supervised_dense_head.py --runs RUNS/photo_objects --dataset photo_objects

For each run of ``benchmarks/train_runs.py`` (``RUNS/<variant>/seed<k>/last.pt``) and for its own
initial weights, the EMA encoder's layer-normed tokens of the probe sets are computed once and
frozen. Three heads are then trained on them with the cells' labels (class-balanced
cross-entropy on level 0, AdamW, full batches), each from fresh weights drawn with the run's
seed:

- ``pooling-only``: a pooling-only ``FeaturePyramid`` (level 0 = one projection of each token)
  and a per-cell linear classifier: a linear probe, trained like the others;
- ``FPN lateral only``: the FPN's level-0 path without its top-down term (lateral
  ``Linear + LayerNorm``, then the projection), the control for ``FPN add``: as non-linear,
  no context;
- ``FPN add``: the same with ``use_fpn=True`` (lateral, top-down and add on the 8x8/4x4/2x2
  levels of the frozen tokens), so each fine cell also reads its coarse context;
- ``hypercolumn``: every pooled level upsampled to the finest grid and concatenated, then a
  linear classifier (the parameter-free context, learned only in its classifier).

``FPN add`` minus ``FPN lateral only`` is what the top-down pathway buys when it is trained
for the task. Scored on the test cells of level 0
(:func:`hjepa_lite.evaluation.dense_probe.score_dense`). Prints Markdown, the command on its first
line: mean ± sd over seeds, each head minus the linear probe, and the top-down pathway's part,
paired by seed. One thread is enough (a few minutes per data set).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from dense_claims import mean_sd
from einops import rearrange
from torch import nn
from torch.utils.data import DataLoader

from hjepa_lite import FeaturePyramid
from hjepa_lite.evaluation.dense_probe import (
    PROBE_SETS,
    dense_truth,
    probe_splits,
    score_dense,
    untrained_like,
)
from hjepa_lite.train.run_checkpoint import load_trained, trained_config

HEADS = ("pooling-only", "FPN lateral only", "FPN add", "hypercolumn")
METRICS = ("all", "small", "medium", "large", "miou")


class DenseHead(nn.Module):
    """Frozen tokens ``(B, h*w, D)`` -> class logits of every level-0 cell ``(B, h*w, C)``."""

    def __init__(self, kind: str, dim: int, grid: tuple[int, int], classes: int) -> None:
        super().__init__()
        self.kind, self.grid = kind, grid
        self.pyramid = FeaturePyramid(dim, grid, 3, use_fpn=kind.startswith("FPN"))
        width = 3 * dim if kind == "hypercolumn" else dim
        self.classify = nn.Linear(width, classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if self.kind == "FPN lateral only":  # level 0's lateral and projection, nothing coarser
            lateral = self.pyramid.lateral[0](tokens)
            return self.classify(self.pyramid.project[0](lateral))
        if self.kind != "hypercolumn":
            return self.classify(self.pyramid(tokens)[0])
        h, w = self.grid
        levels = self.pyramid.pooled_levels(tokens)
        sizes = self.pyramid.level_sizes
        upsampled = [
            F.interpolate(rearrange(x, "b (h w) d -> b d h w", h=s[0]), size=(h, w))
            for x, s in zip(levels, sizes, strict=True)
        ]
        return self.classify(rearrange(torch.cat(upsampled, 1), "b d h w -> b (h w) d"))


@torch.no_grad()
def frozen_tokens(model, data) -> torch.Tensor:
    """The EMA encoder's layer-normed tokens of every image, ``(n, h*w, D)``."""
    model.eval()
    return torch.cat([model.target_tokens(x) for x, _ in DataLoader(data, batch_size=256)])


def train_head(kind, tokens, labels, classes, grid, seed, steps, batch) -> DenseHead:
    """A fresh head trained with class-balanced cross-entropy on the cells' labels."""
    torch.manual_seed(seed)
    head = DenseHead(kind, tokens.shape[-1], grid, classes)
    counts = torch.bincount(labels.flatten(), minlength=classes).float()
    weight = counts.sum() / (classes * counts.clamp(min=1))  # each label's cells weigh the same
    optimizer = torch.optim.AdamW(head.parameters(), lr=1e-3, weight_decay=1e-4)
    order = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        chosen = torch.randint(len(tokens), (batch,), generator=order)
        logits = head(tokens[chosen])
        loss = F.cross_entropy(logits.flatten(0, 1), labels[chosen].flatten(), weight=weight)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return head.eval()


def probe_encoder(model, seed: int, data: list, args) -> dict[str, dict[str, float]]:
    """``{head: {metric: %}}`` of the three heads on one encoder's frozen tokens."""
    encoder = model.context_encoder
    grid = tuple(encoder.grid_size)
    truths = [dense_truth(d) for d in data]
    (train_y, _), (test_y, test_sizes) = [t.cells(encoder.patch_size, 0) for t in truths]
    classes = 1 + len(truths[0].classes)
    train_x, test_x = (frozen_tokens(model, d) for d in data)
    flat = [rearrange(y, "n h w -> n (h w)") for y in (train_y, test_y, test_sizes)]
    found = {}
    for kind in HEADS:
        head = train_head(kind, train_x, flat[0], classes, grid, seed, args.steps, args.batch)
        with torch.no_grad():
            predicted = torch.cat([head(x).argmax(-1) for x in test_x.split(256)])
        row = score_dense(
            predicted.flatten(), flat[1].flatten(), flat[2].flatten(), truths[1].sizes, classes
        )
        found[kind] = {**row.objects, "miou": row.miou}
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=Path, required=True, help="train_runs.py's --out")
    parser.add_argument("--dataset", choices=PROBE_SETS, required=True)
    parser.add_argument("--variant", default="tiny_fpn_add", help="a sub-folder of --runs")
    parser.add_argument("--steps", type=int, default=400, help="head training steps")
    parser.add_argument("--batch", type=int, default=128, help="images per head step")
    parser.add_argument("--train-images", type=int, default=1500, help="Shapes only")
    parser.add_argument("--test-images", type=int, default=900, help="Shapes only")
    args = parser.parse_args()
    if args.steps < 1 or args.batch < 1:
        parser.error("--steps and --batch must be positive")
    checkpoints = sorted((args.runs / args.variant).glob("seed*/last.pt"))
    if not checkpoints:
        parser.error(f"no run (seed*/last.pt) under {args.runs / args.variant}")
    results = {"trained": [], "init": []}
    for checkpoint in checkpoints:
        model, _ = load_trained(checkpoint)
        seed = trained_config(checkpoint.parent).train.seed
        encoder = model.context_encoder
        data = probe_splits(
            args.dataset,
            encoder.img_size,
            encoder.patch_size,
            (args.train_images, args.test_images),
        )
        results["trained"].append(probe_encoder(model, seed, data, args))
        results["init"].append(probe_encoder(untrained_like(model, seed), seed, data, args))
        print(f"probed {checkpoint.parent}", file=sys.stderr, flush=True)

    command = " ".join(["python", "benchmarks/supervised_dense_head.py", *sys.argv[1:]])
    print(f"`{command}`\n")
    print(
        f"{datetime.datetime.now():%Y-%m-%d %H:%M}, {platform.machine()}, {os.cpu_count()} cores; "
        f"{args.dataset}; encoders: {len(checkpoints)} runs of {args.variant} and their inits; "
        f"heads trained {args.steps} steps of {args.batch} images\n"
    )
    print('Level 0, test cells, % (mean ± sd over seeds; "− linear": minus the pooling-only')
    print('head on the same encoder, paired by seed; "every seed": same sign in every seed).\n')
    print("| encoder | head | " + " | ".join(METRICS) + " | − linear (all) | − linear (small) |")
    print("|---|---|" + "---:|" * (len(METRICS) + 2))
    for encoder, runs in results.items():
        for kind in HEADS:
            cells = [mean_sd([run[kind][m] for run in runs]) for m in METRICS]
            gains = []
            for metric in ("all", "small"):
                diffs = [run[kind][metric] - run["pooling-only"][metric] for run in runs]
                sign = all(d > 0 for d in diffs) or all(d < 0 for d in diffs)
                note = " (every seed)" if sign and kind != "pooling-only" else ""
                gains.append("-" if kind == "pooling-only" else f"{mean_sd(diffs)}{note}")
            print(f"| {encoder} | {kind} | " + " | ".join(cells + gains) + " |")
    print("\nWhat the trained top-down pathway adds: FPN add − FPN lateral only, paired by seed.\n")
    print("| encoder | " + " | ".join(METRICS) + " |")
    print("|---|" + "---:|" * len(METRICS))
    for encoder, runs in results.items():
        diffs = [
            mean_sd([run["FPN add"][m] - run["FPN lateral only"][m] for run in runs])
            for m in METRICS
        ]
        print(f"| {encoder} | " + " | ".join(diffs) + " |")


if __name__ == "__main__":
    main()
