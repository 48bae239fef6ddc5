"""What a trained FPN's levels use their top-down path for, per cell, paired by seed.

    python benchmarks/top_down_knockout.py --runs RUNS/shapes --dataset shapes
    python benchmarks/top_down_knockout.py --runs RUNS/photo_objects --dataset photo_objects

Reads the run folders of ``benchmarks/train_runs.py`` (``RUNS/<variant>/seed<k>/last.pt``) whose
head is an FPN with ``add`` or ``concat`` fusion. For each run it probes the FPN's own maps
(``online_levels``, the dense probe's ``fpn`` source) twice: as trained, and with every
top-down term multiplied by ``--scale`` (default 0: no top-down path;
:func:`hjepa_lite.evaluation.fusion_learned.scale_top_down`), the same weights otherwise. This is
notebook 04's experiment at 3 seeds. The probe sets have ``benchmarks/dense_claims.py``'s default
sizes, so the "as trained" rows repeat its ``fpn`` rows. Prints Markdown, the command on its first
line: mean ± sd over seeds of both, and of the paired difference. One thread is enough.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import os
import platform
import sys
from pathlib import Path

import torch
from dense_claims import mean_sd

from hjepa_lite.evaluation.dense_probe import PROBE_SETS, probe_dense, probe_splits
from hjepa_lite.evaluation.fusion_learned import scale_top_down
from hjepa_lite.train.run_checkpoint import load_trained

METRICS = ("all", "small", "medium", "large", "miou")


def scores(model, train, test) -> dict[int, dict[str, float]]:
    """``{level: {metric: %}}`` of the dense probe of the FPN's own maps."""
    return {
        row.level: {**row.objects, "miou": row.miou}
        for row in probe_dense(model, train, test, sources=("fpn",))
    }


def knock_out(checkpoint: Path, dataset: str, sizes: tuple[int, int], scale: float) -> dict:
    """``{"trained": scores, "scaled": scores}`` of one run."""
    model, _ = load_trained(checkpoint)
    changed = copy.deepcopy(model)
    changed.hierarchy = scale_top_down(model.hierarchy, scale)
    encoder = model.context_encoder
    train, test = probe_splits(dataset, encoder.img_size, encoder.patch_size, sizes)
    return {"trained": scores(model, train, test), "scaled": scores(changed, train, test)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=Path, required=True, help="train_runs.py's --out")
    parser.add_argument("--dataset", choices=PROBE_SETS, required=True)
    parser.add_argument("--variants", nargs="*", help="sub-folders of --runs (default: all FPNs)")
    parser.add_argument("--scale", type=float, default=0.0, help="times every top-down term")
    parser.add_argument("--train-images", type=int, default=1500, help="Shapes only")
    parser.add_argument("--test-images", type=int, default=900, help="Shapes only")
    args = parser.parse_args()
    if not args.runs.is_dir():
        parser.error(f"--runs {args.runs} is not a folder")
    variants = args.variants or sorted(p.name for p in args.runs.iterdir() if p.is_dir())
    torch.manual_seed(0)
    sizes = (args.train_images, args.test_images)
    results: dict[str, list[dict]] = {}
    for variant in variants:
        checkpoints = sorted((args.runs / variant).glob("seed*/last.pt"))
        if not checkpoints:
            parser.error(f"no run (seed*/last.pt) under {args.runs / variant}")
        fpn = load_trained(checkpoints[0])[0].hierarchy
        if not fpn.use_fpn or fpn.fusion_method not in ("add", "concat"):
            print(f"skipped {variant}: no add or concat FPN", file=sys.stderr)
            continue
        results[variant] = []
        for checkpoint in checkpoints:
            results[variant].append(knock_out(checkpoint, args.dataset, sizes, args.scale))
            print(f"probed {checkpoint.parent}", file=sys.stderr, flush=True)
    if not results:
        parser.error(f"no FPN run with add or concat fusion under {args.runs}")

    command = " ".join(["python", "benchmarks/top_down_knockout.py", *sys.argv[1:]])
    print(f"`{command}`\n")
    print(
        f"{datetime.datetime.now():%Y-%m-%d %H:%M}, {platform.machine()}, {os.cpu_count()} cores; "
        f"{args.dataset}; seeds per variant: { {v: len(r) for v, r in results.items()} }\n"
    )
    print(
        f"Dense probe of the FPN's own maps (source `fpn`), %: as trained, with every top-down "
        f"term x {args.scale:g}, and the difference paired by seed (mean ± sd over seeds; "
        f"'every seed' = the difference has the same sign in every seed).\n"
    )
    print(
        "| variant | level | metric | as trained | top-down x "
        f"{args.scale:g} | difference | every seed |"
    )
    print("|---|---:|---|---:|---:|---:|---|")
    for variant, runs in results.items():
        for level in sorted(runs[0]["trained"]):
            for metric in METRICS:
                trained = [run["trained"][level][metric] for run in runs]
                scaled = [run["scaled"][level][metric] for run in runs]
                diffs = [b - a for a, b in zip(trained, scaled, strict=True) if a == a and b == b]
                if not diffs:
                    continue
                same = (
                    "lower"
                    if all(d < 0 for d in diffs)
                    else ("higher" if all(d > 0 for d in diffs) else "no")
                )
                print(
                    f"| {variant} | {level} | {metric} | {mean_sd(trained)} | {mean_sd(scaled)} "
                    f"| {mean_sd(diffs)} | {same} |"
                )


if __name__ == "__main__":
    main()
