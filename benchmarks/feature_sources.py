"""Where does pre-training lose the classes? Probes of encoder vs hierarchy, all vs object patches.

    python benchmarks/feature_sources.py [--config tiny_pool] [--steps 1000] [--seed 0] [--augment]

``benchmarks/quality.py`` probes the mean of a level's target tokens over the whole image.
Two things could hide what the encoder learned there: most patches of a Shapes image are
background, and the target tokens have passed through the EMA copy of
the hierarchy head, whose projection could throw directions away. This script pre-trains one
config (as ``quality.py`` does) and probes four features of the same model, before and after
training:

* ``encoder`` = :meth:`HJEPA.target_tokens`, the layer-normed tokens that enter the hierarchy;
* ``level 0`` = the hierarchy's level-0 target tokens (what ``quality.py`` probes at level 0);

each averaged over all patches, or only over the patches that an object covers by at least
``--min-cover`` (from the Shapes masks; an image without such a patch uses its most covered
one). Linear probe (closed-form ridge), kNN (k = 20) and RankMe on the test set, by
``hjepa_lite.evaluation.evaluate.probe_levels`` as in ``quality.py``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F
from einops import rearrange

# benchmarks/ is on sys.path when run as a script
from quality import add_augment_argument, augment_flag, with_augment, with_budget
from torch.utils.data import DataLoader

from hjepa_lite.config import Config
from hjepa_lite.data.datasets import build_dataset
from hjepa_lite.evaluation.evaluate import LevelFeatures, probe_levels
from hjepa_lite.model.factory import build_model
from hjepa_lite.train.trainer import Trainer

REPO = Path(__file__).parent.parent
SOURCES = ("encoder", "level 0")
POOLS = ("all patches", "object patches")
FEATURES = [(source, pool) for source in SOURCES for pool in POOLS]


@torch.no_grad()
def pooled_features(model, dataset, patch_size: int, min_cover: float) -> LevelFeatures:
    """The four :data:`FEATURES` of every image of a Shapes ``dataset`` (in order), as the
    "levels" of a :class:`LevelFeatures`, each ``(n, D)``."""
    model.eval()
    cover = F.avg_pool2d(dataset.masks.float().unsqueeze(1), patch_size)  # (n, 1, h, w)
    cover = rearrange(cover, "n 1 h w -> n (h w) 1")
    # an image whose objects cover no patch that much keeps its most covered patch(es)
    threshold = cover.amax(1, keepdim=True).clamp(max=min_cover)
    weights = (cover >= threshold).float()
    out = {key: [] for key in FEATURES}
    loader = DataLoader(dataset, batch_size=256, shuffle=False, num_workers=0)
    start = 0
    for images, _ in loader:
        w = weights[start : start + len(images)]
        start += len(images)
        tokens = model.target_tokens(images)  # one encoder pass for both sources
        for source, x in (("encoder", tokens), ("level 0", model.target_pyramid(tokens)[0])):
            out[source, "all patches"].append(x.mean(1))
            out[source, "object patches"].append((x * w).sum(1) / w.sum(1))
    return LevelFeatures([torch.cat(out[key]) for key in FEATURES], dataset.labels, None)


def probe_rows(name: str, model, train, test, patch_size: int, min_cover: float) -> list[str]:
    """Markdown rows ``| model | features | pooled over | linear | kNN | RankMe |``."""
    rows = probe_levels(
        pooled_features(model, train, patch_size, min_cover),
        pooled_features(model, test, patch_size, min_cover),
        name,
    )
    return [
        f"| {name} | {source} | {pool} | {100 * row.linear['all']:.1f} | "
        f"{100 * row.knn['all']:.1f} | {row.rankme:.1f} |"
        for (source, pool), row in zip(FEATURES, rows, strict=True)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="tiny_pool", help="configs/<name>")
    parser.add_argument("--steps", type=int, default=1000, help="optimizer steps")
    parser.add_argument("--batch", type=int, default=32, help="images per step")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--min-cover", type=float, default=0.25, help="object share of a patch to count it"
    )
    add_augment_argument(parser)
    parser.add_argument("--out", type=Path, help="also write the Markdown result to this file")
    args = parser.parse_args()

    base = with_augment(Config.from_yaml(REPO / "configs" / f"{args.config}.yaml"), args.augment)
    config = with_budget(base, args.steps, args.batch, args.seed)
    m = config.model
    train, test = (
        build_dataset("shapes", split, m.img_size, augment=False, patch_size=m.patch_size)
        for split in ("train", "test")
    )
    torch.manual_seed(args.seed)
    rows = probe_rows("random init", build_model(m), train, test, m.patch_size, args.min_cover)
    with tempfile.TemporaryDirectory() as runs:
        trainer = Trainer(config, out_dir=Path(runs) / "run", progress=False)
        trainer.fit()
        rows += probe_rows("trained", trainer.model, train, test, m.patch_size, args.min_cover)

    lines = [
        f"`python benchmarks/feature_sources.py --config {args.config} --steps {args.steps} "
        f"--batch {args.batch} --seed {args.seed} --min-cover {args.min_cover}"
        f"{augment_flag(args.augment)}`",
        "",
        f"{datetime.date.today()}, {platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; Shapes test set, "
        f"accuracy in %, chance = {100 / len(train.classes):.1f}",
        "",
        "| model | features | pooled over | linear | kNN | RankMe |",
        "|---|---|---|---:|---:|---:|",
        *rows,
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
