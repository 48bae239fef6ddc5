"""Command line: ``python -m hjepa_lite <command>``.

python -m hjepa_lite train --config configs/tiny_fpn_add.yaml --steps 800 --out runs/add
python -m hjepa_lite probe runs/add --baselines
python -m hjepa_lite probe tiny_pool tiny_fpn_add --dense --dataset photo_objects --baselines
python -m hjepa_lite params configs/tiny_fpn_add.yaml configs/seed_fpn_add.yaml
python -m hjepa_lite weights build tiny_fpn_add     # reproduce a shipped pre-trained file
python -m hjepa_lite weights check                  # every shipped file against its manifest
python -m hjepa_lite weights list                   # the manifest as a Markdown table
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from .config import Config, load_config
from .evaluation.dense_probe import PROBE_SETS
from .evaluation.dense_sources import SOURCES
from .model.factory import create_hjepa_from_config
from .model.params import parameter_breakdown
from .train.checkpoint import check_writable_folder

__all__ = ["main"]

DENSE_SHAPES_IMAGES = 1000  # Shapes images per split of probe --dense (cells: 64 per image)


def _params(args: argparse.Namespace) -> None:
    columns = ("context_encoder", "predictor", "fpn", "project", "trainable", "target_ema")
    print(f"{'config':40s}" + "".join(f"{c:>17s}" for c in columns))
    for path in args.configs:
        counts = parameter_breakdown(create_hjepa_from_config(load_config(path)))
        print(f"{path:40s}" + "".join(f"{counts[c]:>17,d}" for c in columns))


def _train(args: argparse.Namespace) -> None:
    from .train.distributed import close_distributed
    from .train.trainer import Trainer  # imports the data and training stack only when training

    config = Config.from_yaml(args.config)
    out = args.out or str(Path("runs") / Path(args.config).stem)
    check_writable_folder(out, "--out")  # a file or a read-only folder fails before training
    if args.steps is not None:
        config.train.steps, config.train.epochs = args.steps, None
    if args.epochs is not None:
        config.train.epochs = args.epochs
    try:
        trainer = Trainer(
            config,
            out_dir=out,
            device=args.device,
            progress=not args.no_progress,
            resume=not args.fresh,
        )
        history = trainer.fit()
    finally:
        close_distributed()  # under torchrun: leave the group before the process exits
    if trainer.rank == 0:
        last = {key: round(values[-1], 4) for key, values in history.items() if values}
        print(f"finished step {trainer.step} of {trainer.total_steps}; last values: {last}")
        print(f"checkpoint: {trainer.checkpoint_path}")


def _load(run: str):
    """(model, the seed it trained with) from a run folder, a checkpoint file or a shipped
    name (paths first)."""
    from .shipped import pretrained
    from .train.run_checkpoint import load_trained, trained_config

    if Path(run).exists():
        return load_trained(run)[0], trained_config(run).train.seed
    names = sorted(pretrained.manifest()["models"])
    if run in names:
        return pretrained.load_pretrained(run), pretrained.RECIPE["seed"]
    raise ValueError(
        f"{run!r} is neither a run folder, a checkpoint file nor a shipped name {names}"
    )


def _init_seed(args: argparse.Namespace, trained_seed: int) -> int:
    """--seed, else the seed the run trained with: the baseline is its initial weights."""
    return trained_seed if args.seed is None else args.seed


def _probe(args: argparse.Namespace) -> None:
    from .data.photo_objects import SPLITS as PHOTO_SPLITS
    from .data.shapes import SIZES, SPLITS
    from .evaluation.dense_probe import (
        format_dense_table,
        probe_dense,
        probe_splits,
        untrained_like,
    )
    from .evaluation.evaluate import format_probe_table, pixel_features, probe_levels, probe_model

    if args.dataset == "photo_objects" and args.images:
        raise ValueError("--images is for Shapes; photo_objects has fixed splits (3000 / 900)")
    images = args.images or (DENSE_SHAPES_IMAGES if args.dense else None)
    splits = PHOTO_SPLITS if args.dataset == "photo_objects" else SPLITS
    train_images = images or splits["train"][0]  # (images, seed) per split
    if not args.dense and not 1 <= args.k <= train_images:  # --dense has no kNN
        raise ValueError(
            f"--k must be between 1 and the number of training images ({train_images}); "
            f"got {args.k}"
        )
    rows, names, first, data = [], [], None, {}
    for run in args.runs:
        model, trained_seed = _load(run)
        # the built encoder's sizes: a config may leave patch_size null (the timm model's)
        encoder = model.context_encoder
        key = (encoder.img_size, encoder.patch_size)
        if key not in data:
            data[key] = probe_splits(args.dataset, *key, (images, images))
        models = [(str(run), model)]
        if args.baselines and args.dense:
            models.append((f"{run} at init", untrained_like(model, _init_seed(args, trained_seed))))
        for name, chosen in models:
            if args.dense:
                found = probe_dense(chosen, *data[key], sources=args.sources)
                rows += found
                names += [name] * len(found)
            else:
                rows += probe_model(chosen, *data[key], name=name, k=args.k)
        first = first or (model, key, trained_seed)
    if args.baselines:
        model, key, trained_seed = first
        train, test = data[key]
        if args.dense:
            found = probe_dense(model, train, test, sources=("pixels",))
            rows += found
            names += ["pixels"] * len(found)
        else:
            init = untrained_like(model, _init_seed(args, trained_seed))
            rows += probe_model(init, train, test, name="random init", k=args.k)
            features = [pixel_features(d) for d in (train, test)]
            rows += probe_levels(*features, name="pixels 16x16", k=args.k)
    if args.dense:
        print(format_dense_table(rows, names))
    else:
        print(format_probe_table(rows, SIZES if args.dataset == "shapes" else ()))


def _weights(args: argparse.Namespace) -> None:
    from .shipped import pretrained, weights_probe

    if args.action == "list":
        print(weights_probe.manifest_table(tuple(args.names) or None, args.folder))
    elif args.action == "build":
        _build(args, pretrained)
    else:
        _check(args, pretrained)


def _build(args: argparse.Namespace, pretrained) -> None:
    from .shipped.weights_build import build_target, build_weights

    names = args.names or pretrained.SHIPPED
    for name in names:  # every name is checked before the first one trains
        build_target(name)
    check_writable_folder(args.folder or pretrained.weights_folder(), "--folder")
    pretrained.manifest(args.folder)  # a damaged manifest is named now, not after training
    for name in names:
        entry = build_weights(name, args.folder, progress=not args.no_progress)
        print(f"{name}: {entry['file']}, {entry['bytes']:,} bytes, sha256 {entry['sha256']}")
        print(f"  linear probe % per level: {entry['probe']['linear']}")


def _check(args: argparse.Namespace, pretrained) -> None:
    from .shipped import weights_probe

    folder = Path(args.folder or pretrained.weights_folder())
    if not folder.is_dir():
        raise ValueError(f"no folder {folder}")
    entries = pretrained.manifest(folder)["models"]
    if not entries:
        raise ValueError(f"no weights in {folder} (no manifest.json entries)")
    unknown = [name for name in args.names if name not in entries]
    if unknown:
        raise ValueError(f"not in {folder}: {unknown}; there: {sorted(entries)}")
    failures = []
    for name in args.names or entries:
        measured = weights_probe.probe_accuracies(pretrained.load_pretrained(name, args.folder))
        shipped = entries[name]["probe"]  # load_pretrained refused an unknown name
        gap = max(
            abs(a - b)
            for probe in ("linear", "knn")
            for a, b in zip(measured[probe], shipped[probe], strict=True)
        )
        print(
            f"{name}: sha256 ok; linear probe % per level {measured['linear']} (manifest "
            f"{shipped['linear']}); largest difference {gap:.2f} points"
        )
        if gap > weights_probe.probe_tolerance():
            failures.append(name)
    if failures:
        raise SystemExit(f"probe numbers differ from the manifest for: {failures}")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m hjepa_lite", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="pre-train an H-JEPA from a YAML config")
    train.add_argument("--config", required=True, help="YAML config file")
    length = train.add_mutually_exclusive_group()
    length.add_argument(
        "--steps", type=_positive_int, help="optimizer steps (overrides train.steps)"
    )
    length.add_argument("--epochs", type=_positive_int, help="epochs (overrides train.epochs)")
    train.add_argument("--out", help="run folder for checkpoints (default: runs/<config name>)")
    train.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint")
    train.add_argument("--device", help="cpu, cuda or mps (default: the best available)")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.set_defaults(run=_train)

    probe = commands.add_parser(
        "probe",
        help="linear and kNN probe per level (global label, or per cell with --dense) of "
        "trained runs or shipped models on a test split",
    )
    probe.add_argument("runs", nargs="+", help="run folders, checkpoint files or shipped names")
    probe.add_argument(
        "--dense", action="store_true", help="a linear probe per cell (objects by size, mIoU)"
    )
    probe.add_argument("--dataset", choices=PROBE_SETS, default="shapes", help="probe data")
    probe.add_argument(
        "--sources",
        nargs="+",
        choices=SOURCES,
        default=["targets", "fpn", "hypercolumn"],
        help="--dense: feature sources (default: targets fpn hypercolumn)",
    )
    probe.add_argument(
        "--baselines",
        action="store_true",
        help="add random init (--dense: each run's own) and pixels",
    )
    probe.add_argument("--k", type=_positive_int, default=20, help="neighbours of the kNN probe")
    probe.add_argument(
        "--seed", type=int, help="seed of the random-init baseline (default: the run's)"
    )
    probe.add_argument(
        "--images",
        type=_positive_int,
        help=f"Shapes images per split (default: 6000 train, 1800 test; "
        f"--dense: {DENSE_SHAPES_IMAGES} each)",
    )
    probe.set_defaults(run=_probe)

    weights = commands.add_parser(
        "weights", help="build, check or list the shipped pre-trained weights"
    )
    actions = weights.add_subparsers(dest="action", required=True)
    for action, about in (
        ("list", "the manifest as a Markdown table"),
        ("build", "train configs with the recipe and write their files (~3 min each)"),
        ("check", "each file's sha256 and probe numbers against its manifest"),
    ):
        sub = actions.add_parser(action, help=about)
        sub.add_argument(
            "names", nargs="*", help="config names or YAML files (default: every shipped one)"
        )
        sub.add_argument(
            "--folder", help="weights folder (default: the package's hjepa_lite/weights)"
        )
        if action == "build":
            sub.add_argument("--no-progress", action="store_true", help="no progress bar")
    weights.set_defaults(run=_weights)

    params = commands.add_parser("params", help="exact parameter counts of configs")
    params.add_argument("configs", nargs="+", help="YAML config files")
    params.set_defaults(run=_params)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Run one command. Bad input (a ValueError or a missing file, raised before any work)
    exits with its message and status 1, not a traceback."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.run(args)
    except (ValueError, FileNotFoundError) as err:
        command = " ".join(filter(None, (args.command, getattr(args, "action", None))))
        raise SystemExit(f"{parser.prog} {command}: error: {err}") from err
