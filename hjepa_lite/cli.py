"""Command line: ``python -m hjepa_lite <command>``.

python -m hjepa_lite params configs/tiny_fpn_add.yaml configs/seed_fpn_add.yaml
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from .config import Config, create_hjepa_from_config, load_config
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

    params = commands.add_parser("params", help="exact parameter counts of configs")
    params.add_argument("configs", nargs="+", help="YAML config files")
    params.set_defaults(run=_params)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.run(args)
