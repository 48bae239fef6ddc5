"""Pre-train configs x seeds at one budget and keep the runs, with snapshots along the way.

    python benchmarks/train_runs.py --variants tiny_pool tiny_fpn_add --seeds 0 1 2 \
        --steps 1000 --batch 32 --snapshots 100 250 500 --out runs/research/shapes

Each run goes to ``OUT/<variant><tag>/seed<k>/`` (``tag`` names the ``--set`` overrides):
``last.pt`` (the Trainer's checkpoint, resumed if the run was interrupted; a finished run is
skipped) and ``step<n>.pt`` at every ``--snapshots`` step, each loadable with
``hjepa_lite.train.run_checkpoint.load_trained``. The probes that read them
(``benchmarks/dense_claims.py``) run apart from training, so a probe can change without
training again. Budget, seed and
overrides go through ``benchmarks/quality.py``'s helpers, the same as its runs.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from quality import with_budget, with_overrides

from hjepa_lite.config import Config
from hjepa_lite.train.checkpoint import atomic_save
from hjepa_lite.train.trainer import Trainer


def run_folder(out: Path, variant: str, overrides: list[str], seed: int) -> Path:
    """Where a run lives: the overrides, if any, in the folder name."""
    tag = "".join(f"+{item}" for item in overrides)
    return out / f"{variant}{tag}" / f"seed{seed}"


def train_one(
    config: Config, folder: Path, snapshots: set[int], progress: bool
) -> tuple[float, bool]:
    """Train (or finish) one run in ``folder``; (minutes, trained now)."""
    if (folder / "done").exists():
        return 0.0, False
    trainer = Trainer(config, out_dir=folder, progress=progress)

    def snapshot(t: Trainer) -> None:
        if t.step in snapshots:
            atomic_save(t.state_dict(), folder / f"step{t.step}.pt")

    start = time.perf_counter()
    trainer.fit(callback=snapshot)
    (folder / "done").write_text(f"{trainer.step}\n")
    return (time.perf_counter() - start) / 60, True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variants", nargs="+", required=True, help="configs/<name>")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--dataset", help="data.dataset for training (default: the config's)")
    parser.add_argument("--snapshots", type=int, nargs="*", default=[100, 250, 500])
    parser.add_argument("--set", dest="overrides", nargs="*", default=[], metavar="KEY=VALUE")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args()
    # every config and override is checked before the first run trains
    configs = {
        (variant, seed): with_overrides(
            with_budget(Config.from_yaml(variant), args.steps, args.batch, seed),
            args.overrides,
            args.dataset,
        )
        for variant in args.variants
        for seed in args.seeds
    }
    for (variant, seed), config in configs.items():
        folder = run_folder(args.out, variant, args.overrides, seed)
        minutes, trained = train_one(config, folder, set(args.snapshots), args.progress)
        print(f"{folder}: " + (f"trained in {minutes:.1f} min" if trained else "done before"))


if __name__ == "__main__":
    main()
