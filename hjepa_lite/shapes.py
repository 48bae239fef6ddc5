"""Shapes: the embedded default data set, generated deterministically (no download).

Each image holds ONE object of a known class (circle, square, triangle, cross, ring,
diamond) at a known size relative to a ViT patch (small ~ 1 patch across, medium ~ 2-3,
large ~ 4-6), at a random position, in a random colour, on a varied background (solid,
gradient, stripes or smooth noise). Colour and background never depend on the class, so
only shape tells the classes apart. Knowing each object's size lets a later notebook ask
which level of the pyramid recognises *small* objects.

    >>> batch = render_shapes(36, img_size=64, patch_size=8, seed=0)
    >>> batch.images.shape, batch.images.dtype, batch.labels[:6].tolist()
    (torch.Size([36, 3, 64, 64]), torch.uint8, [...])
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

__all__ = ["CLASSES", "SIZES", "ShapesBatch", "ShapesDataset", "render_shapes"]

CLASSES = ("circle", "square", "triangle", "cross", "ring", "diamond")
SIZES = ("small", "medium", "large")
# Object extent (diameter of its bounding circle) in patches, per size bucket.
_EXTENT_IN_PATCHES = {0: (0.9, 1.3), 1: (2.0, 3.0), 2: (4.0, 6.0)}
_SPLITS = {"train": (6000, 0), "test": (1800, 1)}  # (number of images, seed)
_SUPERSAMPLE = 2
_CHUNK = 512


@dataclass(frozen=True)
class ShapesBatch:
    """``images`` uint8 ``(n, 3, H, W)``; ``labels`` and ``sizes`` long ``(n,)`` (indices into
    CLASSES and SIZES); ``masks`` bool ``(n, H, W)``, the object's pixels."""

    images: torch.Tensor
    labels: torch.Tensor
    sizes: torch.Tensor
    masks: torch.Tensor


def _shape_masks(labels: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Coverage of each shape in coordinates ``u, v`` scaled so the shape fits [-1, 1]^2."""
    radius = torch.sqrt(u**2 + v**2)
    shapes = torch.stack(
        [
            radius <= 1.0,  # circle
            torch.maximum(u.abs(), v.abs()) <= 0.78,  # square
            (v <= 0.75) & (v >= -1.0 + 1.75 * u.abs()),  # triangle, apex up
            ((u.abs() <= 0.3) | (v.abs() <= 0.3)) & (torch.maximum(u.abs(), v.abs()) <= 1.0),
            (radius <= 1.0) & (radius >= 0.55),  # ring
            u.abs() + v.abs() <= 1.0,  # diamond
        ]
    )
    return shapes[labels, torch.arange(len(labels))]


def _backgrounds(n: int, size: int, g: torch.Generator) -> torch.Tensor:
    """``(n, 3, size, size)`` float backgrounds of four kinds, chosen at random."""
    kind = torch.randint(0, 4, (n,), generator=g)
    first = torch.rand(n, 3, 1, 1, generator=g)
    second = torch.rand(n, 3, 1, 1, generator=g)
    coords = torch.linspace(-1, 1, size)
    y, x = coords.view(1, size, 1), coords.view(1, 1, size)
    angle = torch.rand(n, 1, 1, generator=g) * math.pi
    along = x * torch.cos(angle) + y * torch.sin(angle)  # (n, size, size)
    gradient = (along + 1) / 2
    frequency = 2 + 4 * torch.rand(n, 1, 1, generator=g)
    stripes = (torch.sin(math.pi * frequency * along) > 0).float()
    noise = F.interpolate(
        torch.rand(n, 1, 4, 4, generator=g), size=(size, size), mode="bicubic", align_corners=True
    ).clamp(0, 1)[:, 0]
    blend = torch.stack([torch.zeros_like(gradient), gradient, stripes, noise])
    weight = blend[kind, torch.arange(n)].unsqueeze(1)  # (n, 1, size, size)
    return first + (second - first) * weight


def _render_chunk(labels, sizes, img_size, patch_size, g):
    n, big = len(labels), img_size * _SUPERSAMPLE
    low = torch.tensor([_EXTENT_IN_PATCHES[int(s)][0] for s in sizes])
    high = torch.tensor([_EXTENT_IN_PATCHES[int(s)][1] for s in sizes])
    diameter = (low + (high - low) * torch.rand(n, generator=g)) * patch_size
    radius = (diameter / 2).clamp(max=img_size / 2 - 1)
    center = radius.unsqueeze(1) + torch.rand(n, 2, generator=g) * (
        img_size - 2 * radius
    ).unsqueeze(1)
    pixel = (torch.arange(big) + 0.5) / _SUPERSAMPLE  # pixel centres in image coordinates
    u = (pixel.view(1, 1, big) - center[:, 0].view(n, 1, 1)) / radius.view(n, 1, 1)
    v = (pixel.view(1, big, 1) - center[:, 1].view(n, 1, 1)) / radius.view(n, 1, 1)
    coverage = F.avg_pool2d(_shape_masks(labels, u, v).float().unsqueeze(1), _SUPERSAMPLE)

    background = _backgrounds(n, img_size, g)
    colour = torch.rand(n, 3, 1, 1, generator=g)
    # Keep the object visible: push its colour away from the mean background colour.
    bg_mean = background.mean((2, 3), keepdim=True)
    too_close = (colour - bg_mean).norm(dim=1, keepdim=True) < 0.45
    colour = torch.where(too_close, (bg_mean + 0.5) % 1.0, colour)
    image = background * (1 - coverage) + colour * coverage
    image = image + 0.02 * torch.randn(image.shape, generator=g)
    images = (image.clamp(0, 1) * 255).round().to(torch.uint8)
    return images, coverage[:, 0] > 0.5


def render_shapes(n: int, img_size: int = 64, patch_size: int = 8, seed: int = 0) -> ShapesBatch:
    """Render ``n`` labelled images, deterministically for given arguments.

    Every (class, size) pair is equally frequent (up to ``n mod 18``), in shuffled order.
    """
    if n < 1 or img_size < 8 or patch_size < 1:
        raise ValueError(
            f"need n >= 1, img_size >= 8, patch_size >= 1; got {n}, {img_size}, {patch_size}"
        )
    g = torch.Generator().manual_seed(seed)
    pairs = torch.arange(n) % (len(CLASSES) * len(SIZES))
    pairs = pairs[torch.randperm(n, generator=g)]
    labels, sizes = pairs % len(CLASSES), pairs // len(CLASSES)
    images, masks = [], []
    for start in range(0, n, _CHUNK):
        chunk = slice(start, start + _CHUNK)
        chunk_images, chunk_masks = _render_chunk(
            labels[chunk], sizes[chunk], img_size, patch_size, g
        )
        images.append(chunk_images)
        masks.append(chunk_masks)
    return ShapesBatch(torch.cat(images), labels, sizes, torch.cat(masks))


@functools.lru_cache(maxsize=8)
def _cached_render(n: int, img_size: int, patch_size: int, seed: int) -> ShapesBatch:
    return render_shapes(n, img_size, patch_size, seed)


class ShapesDataset(Dataset):
    """The Shapes images of one split, as ``(image, label)`` like torchvision data sets.

    ``image`` is ``transform(x)`` for ``x`` a float ``(3, H, W)`` tensor in [0, 1] (or ``x``
    itself without transform). ``.labels`` and ``.sizes`` hold every item's class and size
    bucket; ``.classes`` and ``.size_names`` their names. Splits: "train" (6000 images) and
    "test" (1800), rendered from different seeds; rendering is cached per process.
    """

    classes = CLASSES
    size_names = SIZES

    def __init__(
        self,
        split: str = "train",
        img_size: int = 64,
        patch_size: int = 8,
        num_images: int | None = None,
        transform=None,
    ) -> None:
        if split not in _SPLITS:
            raise ValueError(
                f"split={split!r} is not a Shapes split; valid choices: {tuple(_SPLITS)}"
            )
        default_n, seed = _SPLITS[split]
        batch = _cached_render(num_images or default_n, img_size, patch_size, seed)
        self.images, self.labels, self.sizes = batch.images, batch.labels, batch.sizes
        self.transform = transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = self.images[index].float() / 255
        if self.transform is not None:
            image = self.transform(image)
        return image, int(self.labels[index])
