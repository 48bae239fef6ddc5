"""Probe quality of pooling-only vs FPN after the same pre-training budget, over several seeds.

    python benchmarks/quality.py   # every tiny config, 200 steps of 32, seeds 0 1 2: ~20 min
    python benchmarks/quality.py --steps 800 --variants tiny_pool tiny_fpn_add
    python benchmarks/quality.py --steps 1000 --seeds 0 --predictor-depth 4   # a deeper predictor
    python benchmarks/quality.py --steps 3000 --variants tiny_fpn_add --encoder-tokens
    python benchmarks/quality.py --steps 1000 --augment   # train with random crops

For every variant (a config in configs/) and seed: pre-train on the embedded Shapes data with
``hjepa_lite.Trainer`` (the same code as ``python -m hjepa_lite train``), then probe the frozen
target-branch features of every level (kNN and the closed-form linear probe, overall and per
object size). Beside each trained model: the same architecture at random init (same seed), and
raw pixels. With ``--encoder-tokens``, every model is also probed on its EMA encoder's tokens
before the hierarchy head (row "encoder"). Prints (with ``--out``, also writes) one Markdown
table of mean ± sd over seeds and a summary against the issue's targets (best-level linear
probe >= 25 points above random init and >= 10 points above pixels). Run folders go to a
temporary directory (nothing is kept).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import torch
import yaml

from hjepa_lite.config import Config
from hjepa_lite.data.datasets import build_dataset
from hjepa_lite.data.shapes import SIZES
from hjepa_lite.evaluation.evaluate import pixel_features, probe_levels, probe_model
from hjepa_lite.model.factory import build_model
from hjepa_lite.train.trainer import Trainer

REPO = Path(__file__).parent.parent
VARIANTS = (
    "tiny_pool",
    "tiny_pool_1d_seed",
    "tiny_fpn_add",
    "tiny_fpn_concat",
    "tiny_fpn_transposed",
    "tiny_fpn_attention",
    "tiny_fpn_widths",
    "tiny_fpn_panet",
)
COLUMNS = ("all", *[str(i) for i in range(len(SIZES))])


def with_budget(
    config: Config, steps: int, batch: int, seed: int, predictor_depth: int | None = None
) -> Config:
    """``config`` with the run's budget and seed (and the predictor's depth, when given)."""
    train = dataclasses.replace(config.train, steps=steps, epochs=None, seed=seed)
    data = dataclasses.replace(config.data, batch_size=batch)
    model = config.model
    if predictor_depth is not None:
        predictor = dataclasses.replace(model.predictor, depth=predictor_depth)
        model = dataclasses.replace(model, predictor=predictor)
    return dataclasses.replace(config, model=model, train=train, data=data)


def with_overrides(config: Config, overrides: list[str], dataset: str | None = None) -> Config:
    """``config`` with ``section.key=value`` overrides (values read as YAML) and, when given,
    ``data.dataset``; validated again as a whole."""
    tree = config.to_dict()
    if dataset is not None:
        overrides = [f"data.dataset={dataset}", *overrides]
    for item in overrides:
        path, _, text = item.partition("=")
        *sections, key = path.split(".")
        node = tree
        for section in sections:
            node = node[section]
        node[key] = yaml.safe_load(text)
    return Config.from_dict(tree)


def with_augment(config: Config, augment: bool | None) -> Config:
    """``config`` with ``data.augment`` set (random crops on or off); None keeps the config's."""
    if augment is None:
        return config
    return dataclasses.replace(config, data=dataclasses.replace(config.data, augment=augment))


def add_augment_argument(parser: argparse.ArgumentParser) -> None:
    """``--augment`` / ``--no-augment``: pre-train with or without random crops (None: as the
    config says). :func:`with_augment` applies it, :func:`augment_flag` prints it back."""
    parser.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        help="pre-train with (--augment) or without (--no-augment) random crops; "
        "default: as the config's data.augment says",
    )


def augment_flag(augment: bool | None) -> str:
    """The command-line flag that reproduces ``augment`` ('' for the config's own)."""
    return {None: "", True: " --augment", False: " --no-augment"}[augment]


def spread(values: list[float]) -> str:
    """'mean ± sd' in percent (sd over seeds; '' for one seed)."""
    mean = 100 * statistics.mean(values)
    if len(values) < 2:
        return f"{mean:.1f}"
    return f"{mean:.1f} ± {100 * statistics.stdev(values):.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=200, help="optimizer steps per run")
    parser.add_argument("--batch", type=int, default=32, help="images per step")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), help="configs/<name>")
    parser.add_argument("--k", type=int, default=20, help="neighbours of the kNN probe")
    parser.add_argument(
        "--predictor-depth", type=int, help="override every config's predictor depth"
    )
    parser.add_argument(
        "--encoder-tokens",
        action="store_true",
        help="also probe the encoder's tokens before the hierarchy head",
    )
    add_augment_argument(parser)
    parser.add_argument(
        "--dataset",
        choices=("shapes", "photo_crops"),
        default="shapes",
        help="pre-train and probe on this data set (both ship with the package)",
    )
    parser.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="config overrides for every variant, e.g. model.targets=pooled "
        "loss.regularizer=vicreg loss.regularizer_weight=1.0",
    )
    parser.add_argument("--out", type=Path, help="also write the Markdown result to this file")
    args = parser.parse_args()
    columns = COLUMNS if args.dataset == "shapes" else ("all",)

    # results[(model name, level or "encoder")][column] = one accuracy per seed
    Key = tuple[str, int | str]
    knn: dict[Key, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    linear: dict[Key, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    ranks: dict[Key, list[float]] = defaultdict(list)

    def record(rows, level: str | None = None) -> None:
        for row in rows:
            key = row.name, row.level if level is None else level
            ranks[key].append(row.rankme)
            for column in columns:
                knn[key][column].append(row.knn[column])
                linear[key][column].append(row.linear[column])

    def probe(model, name: str) -> None:
        record(probe_model(model, *data, name, args.k))
        if args.encoder_tokens:
            record(probe_model(model, *data, name, args.k, source="encoder"), "encoder")

    data = None
    minutes = []
    with tempfile.TemporaryDirectory() as runs:
        for variant in args.variants:
            base = Config.from_yaml(REPO / "configs" / f"{variant}.yaml")
            base = with_overrides(with_augment(base, args.augment), args.set, args.dataset)
            if data is None:
                m = base.model
                data = [
                    build_dataset(
                        args.dataset, s, m.img_size, augment=False, patch_size=m.patch_size
                    )
                    for s in ("train", "test")
                ]
                record(probe_levels(*(pixel_features(d) for d in data), "pixels 16x16", args.k))
            for seed in args.seeds:
                config = with_budget(base, args.steps, args.batch, seed, args.predictor_depth)
                torch.manual_seed(seed)
                random_init = build_model(config.model)
                probe(random_init, f"{variant} random init")
                start = time.perf_counter()
                trainer = Trainer(config, out_dir=Path(runs) / f"{variant}_{seed}", progress=False)
                history = trainer.fit()
                minutes.append((time.perf_counter() - start) / 60)
                probe(trainer.model, f"{variant} trained")
                print(
                    f"{variant} seed {seed}: {minutes[-1]:.1f} min, final loss "
                    f"{history['loss'][-1]:.3f}",
                    file=sys.stderr,
                    flush=True,
                )

    seeds = " ".join(map(str, args.seeds))
    variants = "" if args.variants == list(VARIANTS) else " --variants " + " ".join(args.variants)
    if args.predictor_depth is not None:
        variants += f" --predictor-depth {args.predictor_depth}"
    if args.encoder_tokens:
        variants += " --encoder-tokens"
    variants += augment_flag(args.augment)
    if args.dataset != "shapes":
        variants += f" --dataset {args.dataset}"
    if args.set:
        variants += " --set " + " ".join(args.set)
    chance = 100 / len(data[1].classes)
    sizes = SIZES if args.dataset == "shapes" else ()
    lines = [
        f"`python benchmarks/quality.py --steps {args.steps} --batch {args.batch} "
        f"--seeds {seeds}{variants}`",
        "",
        f"{datetime.date.today()}, {platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; {len(args.seeds)} seeds; "
        f"{statistics.mean(minutes):.1f} min of pre-training per run; "
        f"accuracy in %, mean ± sd over seeds; chance = {chance:.1f}",
        "",
        "| model | level | linear all | "
        + "".join(f"linear {s} | " for s in sizes)
        + "kNN all | RankMe |",
        "|---|---:|---:|" + "---:|" * len(sizes) + "---:|---:|",
    ]
    for name, level in linear:
        cells = [spread(linear[name, level][c]) for c in columns]
        cells += [spread(knn[name, level]["all"]), f"{statistics.mean(ranks[name, level]):.1f}"]
        lines.append(f"| {name} | {level} | " + " | ".join(cells) + " |")

    pixels = statistics.mean(linear["pixels 16x16", 0]["all"])
    lines += ["", "Best level (mean linear probe, all sizes) against the targets (+25 / +10):", ""]
    for variant in args.variants:
        levels = [lv for name, lv in linear if name == f"{variant} trained" and lv != "encoder"]
        best = max(levels, key=lambda lv: statistics.mean(linear[f"{variant} trained", lv]["all"]))
        for features in [best, "encoder"] if args.encoder_tokens else [best]:
            trained = statistics.mean(linear[f"{variant} trained", features]["all"])
            random_init = statistics.mean(linear[f"{variant} random init", features]["all"])
            where = "encoder tokens" if features == "encoder" else f"level {features}"
            lines.append(
                f"- {variant}: {where}, {100 * trained:.1f} %: "
                f"{100 * (trained - random_init):+.1f} vs random init, "
                f"{100 * (trained - pixels):+.1f} vs pixels"
            )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
