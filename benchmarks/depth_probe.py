"""Where in the encoder do small objects live? The dense probe of every encoder depth.

    python benchmarks/depth_probe.py --runs /work/research/shapes --dataset shapes
    python benchmarks/depth_probe.py --runs /work/research/photo_objects --dataset photo_objects

A CNN's FPN takes its laterals from the backbone's stages, shallow ones for fine levels;
DINOv2's dense probes read the last 4 layers; the FPN of this project reads only the last. This
script asks whether the small objects a 1000-step JEPA fails to separate at the finest level
(README, "What the pyramid buys") are still separable earlier in the encoder. For every run
folder ``benchmarks/train_runs.py`` wrote (``RUNS/<variant>/seed<k>/last.pt``), trained and at
the initial weights its Trainer started from, it probes the finest cells (level 0) of:

* ``depth 0``: the patch embedding plus position table (what enters the first block);
* ``depth d``: the EMA (target) encoder's tokens after block ``d`` (the last is the
  ``encoder`` source of :mod:`hjepa_lite.evaluation.dense_probe`);
* ``all depths``: depths 1..last concatenated (the ``depths`` source of
  :mod:`hjepa_lite.evaluation.dense_probe`; DINOv2's recipe, the input of a multi-depth FPN);

each layer-normed (no affine) as :meth:`HJEPA.target_tokens` is, with the same class-balanced
closed-form probe (:func:`hjepa_lite.evaluation.dense_probe.fit_dense_probe`). Prints Markdown
(mean ± sd over seeds, %), the command on its first line. One thread is enough; run one at a time.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from dense_claims import mean_sd  # benchmarks/ is on sys.path when run as a script
from einops import rearrange
from torch.utils.data import DataLoader

from hjepa_lite.data.dense_labels import BACKGROUND
from hjepa_lite.evaluation.dense_probe import (
    PROBE_SETS,
    dense_truth,
    fit_dense_probe,
    probe_splits,
    score_dense,
    untrained_like,
)
from hjepa_lite.train.run_checkpoint import load_trained, trained_config

METRICS = ("all", "small", "medium", "large", "background", "miou")


@torch.no_grad()
def depth_maps(encoder, images: torch.Tensor) -> list[torch.Tensor]:
    """The layer-normed tokens of every depth of a :class:`PatchEncoder` on whole images:
    ``[(B, h, w, D)]`` for depth 0 (patch embedding + positions) .. ``encoder.depth``."""
    vit = encoder.vit
    embedded = vit.norm_pre(vit.patch_embed(images) + encoder.pos_embed)
    depths = [embedded, *encoder.intermediates(images)]
    h, w = encoder.grid_size
    return [
        rearrange(F.layer_norm(x, x.shape[-1:]), "b (h w) d -> b h w d", h=h, w=w) for x in depths
    ]


def features(model, dataset) -> dict[str, torch.Tensor]:
    """``{source: (n, h, w, D)}`` of the EMA encoder for a whole data set."""
    encoder = model.target_encoder.eval()
    batches = []
    for images, _ in DataLoader(dataset, batch_size=128, shuffle=False):
        batches.append(depth_maps(encoder, images))
    per_depth = [torch.cat(maps) for maps in zip(*batches, strict=True)]
    out = {f"depth {d}": x for d, x in enumerate(per_depth)}
    out["all depths"] = torch.cat(per_depth[1:], dim=-1)
    return out


def probe(model, train, test) -> dict[str, dict[str, float]]:
    """``{source: {metric: %}}`` of the finest level's dense probe."""
    truths = [dense_truth(train), dense_truth(test)]
    patch = model.context_encoder.patch_size
    (train_y, _), (test_y, test_sizes) = (truth.cells(patch, 0) for truth in truths)
    num_labels = 1 + len(truths[0].classes)
    maps = [features(model, data) for data in (train, test)]
    out = {}
    for source in maps[0]:
        predict = fit_dense_probe(maps[0][source].flatten(0, 2), train_y.flatten(), num_labels)
        row = score_dense(
            predict(maps[1][source].flatten(0, 2)),
            test_y.flatten(),
            test_sizes.flatten(),
            truths[1].sizes,
            num_labels,
            source,
        )
        out[source] = {**row.objects, "background": row.background, "miou": row.miou}
    return out


def table(runs: dict[str, dict[str, dict]], kind: str) -> list[str]:
    lines = [f"| variant | source | {' | '.join(METRICS)} |", "|---|---|" + "---:|" * len(METRICS)]
    for variant, seeds in runs.items():
        for source in next(iter(seeds.values()))[kind]:
            values = [run[kind][source] for run in seeds.values()]
            cells = [mean_sd([v.get(m, float("nan")) for v in values]) for m in METRICS]
            lines.append(f"| {variant} | {source} | {' | '.join(cells)} |")
    return lines


def gain_table(runs: dict[str, dict[str, dict]]) -> list[str]:
    """Trained − init per seed, object cells (all, small)."""
    head = "| variant | source | all: trained − init | small: trained − init |"
    lines = [head, "|---|---|---:|---:|"]
    for variant, seeds in runs.items():
        for source in next(iter(seeds.values()))["trained"]:
            gains = {
                m: [run["trained"][source][m] - run["init"][source][m] for run in seeds.values()]
                for m in ("all", "small")
            }
            cells = [mean_sd(values) for values in gains.values()]
            lines.append(f"| {variant} | {source} | {' | '.join(cells)} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=Path, required=True, help="train_runs.py's --out")
    parser.add_argument("--dataset", choices=PROBE_SETS, required=True)
    parser.add_argument("--variants", nargs="*", help="sub-folders of --runs (default: all)")
    parser.add_argument("--train-images", type=int, default=1500, help="Shapes only")
    parser.add_argument("--test-images", type=int, default=900, help="Shapes only")
    parser.add_argument("--json", type=Path, help="also write every seed's numbers here")
    args = parser.parse_args()
    variants = args.variants or sorted(p.name for p in args.runs.iterdir() if p.is_dir())
    folders = {variant: sorted((args.runs / variant).glob("seed*/last.pt")) for variant in variants}
    missing = [variant for variant, found in folders.items() if not found]
    if missing:
        raise SystemExit(f"no run (seed*/last.pt) under {args.runs} for: {missing}")
    torch.manual_seed(0)
    runs: dict[str, dict[str, dict]] = {}
    for variant, found in folders.items():
        runs[variant] = {}
        for checkpoint in found:
            model, _ = load_trained(checkpoint)
            encoder = model.context_encoder
            train, test = probe_splits(
                args.dataset,
                encoder.img_size,
                encoder.patch_size,
                (args.train_images, args.test_images),
            )
            init = untrained_like(model, trained_config(checkpoint).train.seed)
            runs[variant][checkpoint.parent.name] = {
                "trained": probe(model, train, test),
                "init": probe(init, train, test),
            }
            print(f"probed {checkpoint.parent}", file=sys.stderr, flush=True)
    command = " ".join(["python", "benchmarks/depth_probe.py", *sys.argv[1:]])
    print(f"`{command}`\n")
    print(
        f"{datetime.datetime.now():%Y-%m-%d %H:%M}, {platform.machine()}, {os.cpu_count()} cores; "
        f"{args.dataset}: {len(train)} train / {len(test)} test images; "
        f"seeds per variant: { {v: len(s) for v, s in runs.items()} }\n"
    )
    print("Dense probe of the finest cells (level 0), % (objects: accuracy on object cells,")
    print(f"all and by size; background = label {BACKGROUND}; mIoU); mean ± sd over seeds.\n")
    print("## Trained\n")
    print("\n".join(table(runs, "trained")))
    print("\n## Random init (each run's initial weights)\n")
    print("\n".join(table(runs, "init")))
    print("\n## What training added (trained − init, paired by seed)\n")
    print("\n".join(gain_table(runs)))
    if args.json:
        args.json.write_text(json.dumps(runs, indent=1) + "\n")


if __name__ == "__main__":
    main()
