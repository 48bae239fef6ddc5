"""Command line: ``python -m hjepa_lite <command>``.

python -m hjepa_lite params configs/tiny_fpn_add.yaml configs/seed_fpn_add.yaml
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from .config import create_hjepa_from_config, load_config
from .params import parameter_breakdown

__all__ = ["main"]


def _params(args: argparse.Namespace) -> None:
    columns = ("context_encoder", "predictor", "fpn", "project", "trainable", "target_ema")
    print(f"{'config':40s}" + "".join(f"{c:>17s}" for c in columns))
    for path in args.configs:
        counts = parameter_breakdown(create_hjepa_from_config(load_config(path)))
        print(f"{path:40s}" + "".join(f"{counts[c]:>17,d}" for c in columns))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m hjepa_lite", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    params = commands.add_parser("params", help="exact parameter counts of configs")
    params.add_argument("configs", nargs="+", help="YAML config files")
    params.set_defaults(run=_params)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.run(args)
