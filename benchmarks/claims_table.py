"""The seed's claims for the FPN, each against a measurement of ``dense_claims.py``'s runs.

    python benchmarks/claims_table.py --pool tiny_pool --fpn tiny_fpn_add \
        shapes=benchmarks/results/dense/shapes_pool_vs_fpn_add.json \
        photo_objects=benchmarks/results/dense/photo_objects_pool_vs_fpn_add.json

Each claim of the seed's "Benefits of FPN" and "Expected Performance Improvements" gets one
number per data set: pooling-only, the FPN and their difference, paired by seed (the runs of
one seed share the encoder's initial weights and the data order), mean ± sd over seeds, in %.
Verdict per data set: "holds" when the FPN is ahead in every seed (for "+2-5 %": by at least
2 points in every seed; for scale variation, a smaller gap between its best and worst object
size), "does not hold" otherwise; with 3 seeds, "holds" with a difference inside the seeds'
spread is weak evidence. The claims are read on the FPN's own maps
(source ``fpn``: the trained head on the encoder's tokens) and on what ``extract_features``
returns (source ``targets``), the finest level unless the claim names another.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from dense_claims import mean_sd

SEED_CLAIMS = (
    # (claim, what is measured, key function -> value of one run, threshold)
    ("Semantically stronger fine-scale features", "level 0, object cells", "all", 0),
    ("Improved small object recognition", "level 0, small-object cells", "small", 0),
    ("Spatially precise coarse features", "coarsest level, mIoU", "coarse_miou", 0),
    (
        "Better handling of scale variation",
        "level 0, best − worst size (lower wins)",
        "size_gap",
        0,
    ),
    ("2-5 % better linear probing", "global linear probe, best level", "global", 2),
)
SNAPSHOT_STEPS = ("step100", "step250", "step500", "trained")


def value(run: dict, kind: str, source: str, measure: str) -> float:
    """One run's number for one measure (``kind``: trained, init or a snapshot)."""
    numbers = run[kind]
    levels = sorted(int(k.split("/")[1]) for k in numbers if k.startswith(f"{source}/"))
    if measure == "global":
        return max(v["all"] for k, v in run["trained"].items() if k.startswith("global/"))
    if measure == "coarse_miou":
        return numbers[f"{source}/{levels[-1]}"]["miou"]
    finest = numbers[f"{source}/0"]
    if measure == "size_gap":
        sizes = [finest[s] for s in ("small", "medium", "large")]
        return max(sizes) - min(sizes)
    return finest[measure]


def paired(runs, pool, fpn, kind, source, measure, pool_source=None):
    """(pool values, fpn values, fpn - pool per seed), over the seeds both have; the pool
    side reads ``pool_source`` if given (else ``source``)."""
    seeds = sorted(set(runs[pool]) & set(runs[fpn]))
    a = [value(runs[pool][s], kind, pool_source or source, measure) for s in seeds]
    b = [value(runs[fpn][s], kind, source, measure) for s in seeds]
    return a, b, [y - x for x, y in zip(a, b, strict=True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "results",
        nargs="+",
        metavar="NAME=FILE.json[,FILE.json...]",
        help="one data set's dense_claims.py JSON files (their runs are merged)",
    )
    parser.add_argument("--pool", default="tiny_pool")
    parser.add_argument("--fpn", default="tiny_fpn_add")
    args = parser.parse_args()
    data = {}
    for item in args.results:
        name, _, paths = item.partition("=")
        data[name] = {}
        for path in paths.split(","):
            data[name] |= json.loads(Path(path).read_text())["runs"]
    print(
        f"`python benchmarks/claims_table.py --pool {args.pool} --fpn {args.fpn} "
        + " ".join(args.results)
        + "`\n"
    )
    head = ["claim", "measured as", "source"]
    for name in data:
        head += [f"{name}: {args.pool}", args.fpn, "FPN − pool", "verdict"]
    print("| " + " | ".join(head) + " |")
    print("|---|---|---|" + "---:|---:|---:|---|" * len(data))
    for claim, measured, measure, threshold in SEED_CLAIMS:
        for source in ("fpn", "targets") if measure != "global" else ("targets",):
            cells = [claim, measured, "global" if measure == "global" else source]
            for runs in data.values():
                a, b, d = paired(runs, args.pool, args.fpn, "trained", source, measure)
                ahead = [-x for x in d] if measure == "size_gap" else d  # a smaller gap wins
                verdict = "holds" if min(ahead) > threshold else "does not hold"
                cells += [mean_sd(a), mean_sd(b), mean_sd(d), verdict]
            print("| " + " | ".join(cells) + " |")
    for measure in ("all", "small"):  # what an FPN must beat to be worth its parameters
        cells = ["(beats the parameter-free pyramid)", f"level 0, {measure}", "fpn vs hypercolumn"]
        for runs in data.values():
            a, b, d = paired(runs, args.pool, args.fpn, "trained", "fpn", measure, "hypercolumn")
            cells += [
                mean_sd(a),
                mean_sd(b),
                mean_sd(d),
                "holds" if min(d) > 0 else "does not hold",
            ]
        print("| " + " | ".join(cells) + " |")
    print("\nFaster convergence: level 0, object cells, FPN − pool per seed, mean ± sd, at")
    print("each snapshot (and the pool / FPN values).\n")
    print("| data | source | " + " | ".join(s.removeprefix("step") for s in SNAPSHOT_STEPS) + " |")
    print("|---|---|" + "---:|" * len(SNAPSHOT_STEPS))
    for name, runs in data.items():
        snapshots = [run.keys() for v in (args.pool, args.fpn) for run in runs[v].values()]
        if not all(set(SNAPSHOT_STEPS[:-1]) <= keys for keys in snapshots):
            print(f"| {name} | (runs probed without snapshots) |" + " |" * len(SNAPSHOT_STEPS))
            continue
        for source in ("fpn", "targets"):
            cells = []
            for step in SNAPSHOT_STEPS:
                a, b, d = paired(runs, args.pool, args.fpn, step, source, "all")
                cells.append(f"{mean_sd(d)} ({statistics.mean(a):.1f} / {statistics.mean(b):.1f})")
            print(f"| {name} | {source} | " + " | ".join(cells) + " |")
    print(
        "\nAgainst the runs' own initial weights (trained − init per seed, level 0, mean ± sd):\n"
    )
    print("| data | variant | source | objects | small |")
    print("|---|---|---|---:|---:|")
    for name, runs in data.items():
        for variant in (args.pool, args.fpn):
            for source in ("fpn", "targets", "hypercolumn"):
                cells = []
                for measure in ("all", "small"):
                    gains = [
                        value(run, "trained", source, measure) - value(run, "init", source, measure)
                        for run in runs[variant].values()
                    ]
                    cells.append(mean_sd(gains))
                print(f"| {name} | {variant} | {source} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
