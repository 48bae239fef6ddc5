"""How well can the tiny encoder recognise Shapes at all? A supervised reference for the probes.

    python benchmarks/supervised_ceiling.py [--steps 600] [--batch 64] [--seed 0] [--model cnn]

Trains the tiny config's ViT encoder (``configs/tiny_pool.yaml``: the encoder all tiny configs
share) *with the labels*: mean-pooled tokens -> LayerNorm -> Linear classifier, AdamW, and
I-JEPA's RandomResizedCrop augmentation (which the tiny configs' self-supervised pre-training
turns off: ``data.augment: false``). The test accuracy, overall and per object size,
is a rough ceiling for what a linear probe on self-supervised features of this encoder could
reach after the same number of images; if it is low, the task (not the self-supervised
recipe) is what limits the probes in ``benchmarks/quality.py``.

``--model cnn`` trains a small CNN (four conv-BatchNorm-ReLU-maxpool blocks, global average
pool) the same way instead: a reference for how learnable the images are with a
convolutional prior, which the ViT lacks.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import os
import platform
import time

import torch
from torch import nn
from torch.utils.data import DataLoader

from hjepa_lite import PatchEncoder
from hjepa_lite.config import Config
from hjepa_lite.data.datasets import eval_transform, train_transform
from hjepa_lite.data.shapes import CLASSES, SIZES, ShapesDataset
from hjepa_lite.evaluation.evaluate import accuracy_by_group

CONFIG = os.path.join(os.path.dirname(__file__), "..", "configs", "tiny_pool.yaml")


class Classifier(nn.Module):
    """(B, 3, H, W) -> (B, classes): encoder tokens, mean over the grid, LayerNorm, Linear."""

    def __init__(self, encoder: PatchEncoder, classes: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Sequential(
            nn.LayerNorm(encoder.embed_dim), nn.Linear(encoder.embed_dim, classes)
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(images).mean(1))


def small_cnn(classes: int) -> nn.Sequential:
    """(B, 3, H, W) -> (B, classes): four conv-BN-ReLU-maxpool blocks, global average pool."""

    def block(c_in: int, c_out: int) -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2)
        )

    widths = (3, 32, 64, 128, 128)
    blocks = [block(c_in, c_out) for c_in, c_out in itertools.pairwise(widths)]
    return nn.Sequential(*blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, classes))


TITLES = {"vit": "supervised tiny encoder", "cnn": "supervised small CNN"}


def build_classifier(name: str) -> nn.Module:
    """The tiny configs' ViT encoder with a linear head, or the small CNN."""
    if name == "cnn":
        return small_cnn(len(CLASSES))
    m = Config.from_yaml(CONFIG).model
    encoder = PatchEncoder(m.encoder_type, m.img_size, m.patch_size, m.depth, m.num_heads)
    return Classifier(encoder, len(CLASSES))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", choices=tuple(TITLES), default="vit")
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    model = build_classifier(args.model)
    m = Config.from_yaml(CONFIG).model
    train = ShapesDataset("train", transform=train_transform(m.img_size))
    test = ShapesDataset("test", transform=eval_transform(m.img_size))
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.05)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, args.lr, total_steps=args.steps)
    loader = DataLoader(
        train, args.batch, shuffle=True, drop_last=True, generator=torch.Generator().manual_seed(0)
    )
    step, start = 0, time.perf_counter()
    model.train()
    while step < args.steps:
        for images, labels in loader:
            loss = nn.functional.cross_entropy(model(images), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            step += 1
            if step % 100 == 0 or step == args.steps:
                print(f"step {step}: loss {loss.item():.3f}", flush=True)
            if step == args.steps:
                break
    minutes = (time.perf_counter() - start) / 60
    model.eval()
    with torch.no_grad():
        predicted = torch.cat([model(x).argmax(1) for x, _ in DataLoader(test, 256)])
    accuracy = accuracy_by_group(predicted, test.labels, test.sizes)
    print(
        f"\n`python benchmarks/supervised_ceiling.py --steps {args.steps} --batch {args.batch} "
        f"--seed {args.seed} --model {args.model}`\n\n"
        f"{datetime.date.today()}, {platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__}; {minutes:.1f} min of training\n"
    )
    print(f"| {TITLES[args.model]} | all | " + " | ".join(SIZES) + " |")
    print("|---|---:|" + "---:|" * len(SIZES))
    cells = [f"{100 * accuracy[str(g)]:.1f}" for g in range(len(SIZES))]
    print(f"| test accuracy (%) | {100 * accuracy['all']:.1f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
