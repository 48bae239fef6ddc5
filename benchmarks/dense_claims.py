"""The dense probe of kept runs: every variant x seed, against its own random init.

    python benchmarks/dense_claims.py --runs runs/research/shapes --dataset shapes
    python benchmarks/dense_claims.py --runs runs/research/photo_objects --dataset photo_objects

Reads the run folders ``benchmarks/train_runs.py`` writes (``RUNS/<variant>/seed<k>/last.pt``
and its ``step<n>.pt`` snapshots). For each run it probes, per cell and per level
(:func:`hjepa_lite.evaluation.dense_probe.probe_dense`), the trained model and the same
architecture at the initial weights its Trainer started from (``untrained_like(model,
config.train.seed)``); raw pixels once. Snapshots are probed on the target and FPN levels only
(convergence), and the global linear probe of each level (mean-pooled target tokens, the image's
label) stands beside. Prints Markdown (mean ± sd over seeds, in %), the command on its first line;
``--json FILE`` keeps every seed's numbers for the claims table. One thread is enough; run one at a
time.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
from pathlib import Path

import torch

from hjepa_lite.evaluation.dense_probe import PROBE_SETS, probe_dense, probe_splits, untrained_like
from hjepa_lite.evaluation.evaluate import probe_model
from hjepa_lite.train.run_checkpoint import load_trained, trained_config

FINAL_SOURCES = ("targets", "fpn", "hypercolumn", "simple_pyramid")
SNAPSHOT_SOURCES = ("targets", "fpn")
METRICS = ("all", "small", "medium", "large", "background", "miou")


def numbers(rows) -> dict[str, dict[str, float]]:
    """``{"<source>/<level>": {metric: value}}`` of dense results."""
    return {
        f"{row.source}/{row.level}": {
            **row.objects,
            "background": row.background,
            "miou": row.miou,
        }
        for row in rows
    }


def global_linear(model, train, test) -> dict[str, dict[str, float]]:
    """The global linear probe (image label) of each level, as ``{"global/<l>": {"all": %}}``."""
    rows = probe_model(model, train, test, name="", k=1)
    return {f"global/{row.level}": {"all": 100 * row.linear["all"]} for row in rows}


def probe_run(folder: Path, data_name: str, sizes: tuple[int, int]) -> dict:
    """Every number of one run folder: trained, init, snapshots (``{kind: {key: metrics}}``)."""
    model, _ = load_trained(folder / "last.pt")
    encoder = model.context_encoder
    train, test = probe_splits(data_name, encoder.img_size, encoder.patch_size, sizes)
    result = {
        "final_step": int((folder / "done").read_text()) if (folder / "done").exists() else None,
        "trained": numbers(probe_dense(model, train, test, FINAL_SOURCES))
        | global_linear(model, train, test),
    }
    init = untrained_like(model, trained_config(folder).train.seed)
    result["init"] = numbers(probe_dense(init, train, test, FINAL_SOURCES)) | global_linear(
        init, train, test
    )
    for snapshot in sorted(folder.glob("step*.pt"), key=lambda p: int(p.stem[4:])):
        early, _ = load_trained(snapshot)
        result[snapshot.stem] = numbers(probe_dense(early, train, test, SNAPSHOT_SOURCES))
    return result


def mean_sd(values: list[float]) -> str:
    values = [v for v in values if v == v]
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f}"


def table(runs: dict[str, dict[str, dict]], kind: str, keys: list[str]) -> list[str]:
    """Markdown rows ``variant | source | level | metrics...`` for one kind of model."""
    lines = [
        f"| variant | source | level | {' | '.join(METRICS)} |",
        "|---|---|---|" + "---:|" * len(METRICS),
    ]
    for variant, seeds in runs.items():
        for key in keys:
            per_seed = [run[kind][key] for run in seeds.values() if key in run.get(kind, {})]
            if not per_seed:
                continue
            source, level = key.split("/")
            cells = [mean_sd([m.get(metric, float("nan")) for m in per_seed]) for metric in METRICS]
            lines.append(f"| {variant} | {source} | {level} | {' | '.join(cells)} |")
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
    sizes = (args.train_images, args.test_images)
    runs: dict[str, dict[str, dict]] = {}
    for variant, found in folders.items():
        runs[variant] = {}
        for checkpoint in found:
            runs[variant][checkpoint.parent.name] = probe_run(
                checkpoint.parent, args.dataset, sizes
            )
            print(f"probed {checkpoint.parent}", file=sys.stderr, flush=True)
    first = next(iter(folders.values()))[0]
    model, _ = load_trained(first)
    encoder = model.context_encoder
    train, test = probe_splits(args.dataset, encoder.img_size, encoder.patch_size, sizes)
    pixels = numbers(probe_dense(model, train, test, ("pixels",)))

    command = " ".join(["python", "benchmarks/dense_claims.py", *sys.argv[1:]])
    print(f"`{command}`\n")
    print(
        f"{datetime.datetime.now():%Y-%m-%d %H:%M}, {platform.machine()}, {os.cpu_count()} cores; "
        f"{args.dataset}: {len(train)} train / {len(test)} test images; "
        f"seeds per variant: { {v: len(s) for v, s in runs.items()} }; "
        f"steps: { {v: sorted({r['final_step'] for r in s.values()}) for v, s in runs.items()} }\n"
    )
    print("Dense probe, % (objects: accuracy on object cells, all and by size; background; mIoU)")
    print("mean ± sd over seeds.\n")
    dense_keys = sorted({k for s in runs.values() for r in s.values() for k in r["trained"]})
    dense_keys = [k for k in dense_keys if not k.startswith("global")]
    dense_keys.sort(key=lambda k: (FINAL_SOURCES.index(k.split("/")[0]), int(k.split("/")[1])))
    print("## Trained\n")
    print("\n".join(table(runs, "trained", dense_keys)))
    print("\n## Random init (the same architecture at each run's initial weights)\n")
    print("\n".join(table(runs, "init", dense_keys)))
    print("\n## Raw pixels (4 x 4 per cell)\n")
    print("\n".join(table({"pixels": {"-": {"trained": pixels}}}, "trained", list(pixels))))
    steps = sorted(
        {k for s in runs.values() for r in s.values() for k in r if k.startswith("step")}
    )
    for step in steps:
        keys = [k for k in dense_keys if k.split("/")[0] in SNAPSHOT_SOURCES]
        print(f"\n## Snapshot at {step[4:]} steps\n")
        print("\n".join(table(runs, step, keys)))
    global_keys = sorted({k for s in runs.values() for r in s.values() for k in r["trained"]})
    global_keys = [k for k in global_keys if k.startswith("global")]
    for kind in ("trained", "init"):
        print(f"\n## Global linear probe (mean-pooled target tokens, image label), {kind}\n")
        print("\n".join(table(runs, kind, global_keys)))
    if args.json:
        args.json.write_text(json.dumps({"runs": runs, "pixels": pixels}, indent=1) + "\n")


if __name__ == "__main__":
    main()
