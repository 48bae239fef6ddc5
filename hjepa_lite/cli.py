"""Command line: ``python -m hjepa_lite <command>``.

python -m hjepa_lite train --config configs/tiny_fpn_add.yaml --steps 800 --out runs/add
python -m hjepa_lite probe runs/add --baselines
python -m hjepa_lite params configs/tiny_fpn_add.yaml configs/seed_fpn_add.yaml
python -m hjepa_lite weights build tiny_fpn_add     # reproduce a shipped pre-trained file
python -m hjepa_lite weights check                  # every shipped file against its manifest
python -m hjepa_lite weights list                   # the manifest as a Markdown table
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from .checkpoint import check_writable_folder
from .config import Config, load_config
from .hjepa import create_hjepa_from_config
from .params import parameter_breakdown

__all__ = ["main"]


def _params(args: argparse.Namespace) -> None:
    columns = ("context_encoder", "predictor", "fpn", "project", "trainable", "target_ema")
    print(f"{'config':40s}" + "".join(f"{c:>17s}" for c in columns))
    for path in args.configs:
        counts = parameter_breakdown(create_hjepa_from_config(load_config(path)))
        print(f"{path:40s}" + "".join(f"{counts[c]:>17,d}" for c in columns))


def _train(args: argparse.Namespace) -> None:
    from .trainer import Trainer  # imports the data and training stack only when training

    config = Config.from_yaml(args.config)
    out = args.out or str(Path("runs") / Path(args.config).stem)
    check_writable_folder(out, "--out")  # a file or a read-only folder fails before training
    if args.steps is not None:
        config.train.steps, config.train.epochs = args.steps, None
    if args.epochs is not None:
        config.train.epochs = args.epochs
    trainer = Trainer(
        config,
        out_dir=out,
        device=args.device,
        progress=not args.no_progress,
        resume=not args.fresh,
    )
    history = trainer.fit()
    if trainer.rank == 0:
        last = {key: round(values[-1], 4) for key, values in history.items() if values}
        print(f"finished step {trainer.step} of {trainer.total_steps}; last values: {last}")
        print(f"checkpoint: {trainer.checkpoint_path}")


def _probe(args: argparse.Namespace) -> None:
    import torch

    from .datasets import eval_transform
    from .evaluate import format_probe_table, pixel_features, probe_levels, probe_model
    from .hjepa import build_model
    from .shapes import SIZES, SPLITS, ShapesDataset
    from .trainer import load_trained

    train_images = args.images or SPLITS["train"][0]  # (images, seed) per split
    if not 1 <= args.k <= train_images:
        raise ValueError(
            f"--k must be between 1 and the number of training images ({train_images}); "
            f"got {args.k}"
        )
    rows, first, data = [], None, {}
    for run in args.runs:
        model, _ = load_trained(run)
        # the built encoder's sizes: a config may leave patch_size null (the timm model's)
        encoder = model.context_encoder
        key = (encoder.img_size, encoder.patch_size)
        if key not in data:
            data[key] = [
                ShapesDataset(split, *key, num_images=args.images, transform=eval_transform(key[0]))
                for split in ("train", "test")
            ]
        rows += probe_model(model, *data[key], name=str(run), k=args.k)
        first = first or (model.config, key)
    if args.baselines:
        config, key = first
        train, test = data[key]
        torch.manual_seed(args.seed)
        rows += probe_model(build_model(config), train, test, name="random init", k=args.k)
        features = [pixel_features(d) for d in (train, test)]
        rows += probe_levels(*features, name="pixels 16x16", k=args.k)
    print(format_probe_table(rows, SIZES))


def _weights(args: argparse.Namespace) -> None:
    from . import pretrained

    if args.action == "list":
        print(pretrained.manifest_table(tuple(args.names) or None, args.folder))
    elif args.action == "build":
        _build(args, pretrained)
    else:
        _check(args, pretrained)


def _build(args: argparse.Namespace, pretrained) -> None:
    names = args.names or pretrained.SHIPPED
    for name in names:  # every name is checked before the first one trains
        pretrained.build_target(name)
    check_writable_folder(args.folder or pretrained.weights_folder(), "--folder")
    pretrained.manifest(args.folder)  # a damaged manifest is named now, not after training
    for name in names:
        entry = pretrained.build_weights(name, args.folder, progress=not args.no_progress)
        print(f"{name}: {entry['file']}, {entry['bytes']:,} bytes, sha256 {entry['sha256']}")
        print(f"  linear probe % per level: {entry['probe']['linear']}")


def _check(args: argparse.Namespace, pretrained) -> None:
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
        measured = pretrained.probe_accuracies(pretrained.load_pretrained(name, args.folder))
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
        if gap > pretrained.probe_tolerance():
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
        "probe", help="kNN and linear probe per level of trained runs on the Shapes test split"
    )
    probe.add_argument("runs", nargs="+", help="run folders or checkpoint files")
    probe.add_argument("--baselines", action="store_true", help="add random init and pixels")
    probe.add_argument("--k", type=_positive_int, default=20, help="neighbours of the kNN probe")
    probe.add_argument("--seed", type=int, default=0, help="seed of the random-init baseline")
    probe.add_argument(
        "--images",
        type=_positive_int,
        help="Shapes images per split (default: 6000 train, 1800 test)",
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
