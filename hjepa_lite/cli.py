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
    if args.steps is not None:
        config.train.steps, config.train.epochs = args.steps, None
    if args.epochs is not None:
        config.train.epochs = args.epochs
    out = args.out or str(Path("runs") / Path(args.config).stem)
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
    from .shapes import SIZES, ShapesDataset
    from .trainer import load_trained

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
        print(pretrained.manifest_table(args.folder))
        return
    if args.action == "build":
        for name in args.names or pretrained.SHIPPED:
            entry = pretrained.build_weights(name, args.folder, progress=not args.no_progress)
            print(f"{name}: {entry['file']}, {entry['bytes']:,} bytes, sha256 {entry['sha256']}")
            print(f"  linear probe % per level: {entry['probe']['linear']}")
        return
    failures, entries = [], pretrained.manifest(args.folder)["models"]
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
    value = int(text)
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
    length.add_argument("--steps", type=int, help="optimizer steps (overrides train.steps)")
    length.add_argument("--epochs", type=int, help="epochs (overrides train.epochs)")
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
    probe.add_argument("--k", type=int, default=20, help="neighbours of the kNN probe")
    probe.add_argument("--seed", type=int, default=0, help="seed of the random-init baseline")
    probe.add_argument(
        "--images",
        type=_positive_int,
        help="Shapes images per split (default: 6000 train, 1800 test)",
    )
    probe.set_defaults(run=_probe)

    weights = commands.add_parser(
        "weights", help="build or check the shipped pre-trained weights (hjepa_lite/weights)"
    )
    weights.add_argument("action", choices=["list", "build", "check"])
    weights.add_argument("names", nargs="*", help="config names (default: every shipped one)")
    weights.add_argument("--folder", help="weights folder (default: the package's)")
    weights.add_argument("--no-progress", action="store_true", help="no progress bar")
    weights.set_defaults(run=_weights)

    params = commands.add_parser("params", help="exact parameter counts of configs")
    params.add_argument("configs", nargs="+", help="YAML config files")
    params.set_defaults(run=_params)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.run(args)
