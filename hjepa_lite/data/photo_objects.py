"""Photo objects: a dense data set of real textures, with per-pixel truth (no download).

Each image is a crop of a real photograph (the background), with 2-6 objects pasted on it.
An object is a smooth random blob filled with a crop of one of the 12 photos of
:mod:`hjepa_lite.data.photo_crops` (its class: astronaut, cat, coffee, ..., gravel), at one of
three sizes relative to a ViT patch: small (1-1.5 patches across), medium (2-3) or large
(3.5-5). Sizes and classes mix within an image; larger objects are pasted first, so a small
one is never hidden under a large one. Backgrounds come from eight other photos that ship in
scikit-image (moon, page, motorcycle, IHC stain, cell, colour chart, clock, microaneurysms),
so the background is real texture too, and never one of the classes.

As in ``photo_crops``, training and test images take their textures and backgrounds from
DISJOINT regions of every photo (the same split blocks), so a dense probe measures
recognition of unseen texture. ``.dense`` holds the per-pixel truth
(:class:`~hjepa_lite.data.dense_labels.DenseLabels`); an image's global label is the class that
covers the most pixels.

    >>> objects = render_photo_objects("train", img_size=64, patch_size=8)
    >>> objects.images.shape, objects.pixel_labels.shape
    (torch.Size([3000, 3, 64, 64]), torch.Size([3000, 64, 64]))
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .dense_labels import DenseLabels
from .image_set import ImageSet
from .photo_crops import CLASSES, photos, read_photo, split_blocks, split_grid

__all__ = [
    "BACKGROUNDS",
    "CLASSES",
    "SIZES",
    "SPLITS",
    "PhotoObjects",
    "PhotoObjectsDataset",
    "render_photo_objects",
]

SIZES = ("small", "medium", "large")
_DIAMETER_IN_PATCHES = {0: (1.0, 1.5), 1: (2.0, 3.0), 2: (3.5, 5.0)}
_COUNT = (2, 6)  # objects per image
_ZOOM = (1.5, 3.0)  # a texture crop spans this many photo pixels per image pixel
_WOBBLE = 0.12  # largest amplitude of each harmonic of a blob's outline
BACKGROUNDS = (
    "moon.png",
    "page.png",
    "motorcycle_left.png",
    "ihc.png",
    "cell.png",
    "color.png",
    "clock_motion.png",
    "microaneurysms.png",
)
_BACKGROUND_SIDE = (48, 90)  # a background crop's side in photo pixels (inside one block)
_BACKGROUND_SEED = 3  # which blocks of the background photos are test
SPLITS = {"train": (3000, 11), "test": (900, 12)}  # (number of images, seed)


@functools.lru_cache(maxsize=1)
def _backgrounds() -> tuple[tuple[torch.Tensor, dict[str, list[tuple]]], ...]:
    """Per background photo: the photo and its split blocks (disjoint train and test)."""
    g = torch.Generator().manual_seed(_BACKGROUND_SEED)
    result = []
    for file in BACKGROUNDS:
        photo = read_photo(file)
        result.append((photo, split_grid(photo.shape[1], photo.shape[2], g)))
    return tuple(result)


def _uniform(low: float, high: float, g: torch.Generator) -> float:
    return low + (high - low) * float(torch.rand((), generator=g))


def _randint(low: int, high: int, g: torch.Generator) -> int:
    """A uniform integer in [low, high]."""
    return int(torch.randint(low, high + 1, (), generator=g))


def _crop(photo: torch.Tensor, blocks: list[tuple], side: int, out: int, g) -> torch.Tensor:
    """A square crop of ``side`` photo pixels inside one random block, resized to ``out``:
    float ``(3, out, out)`` in [0, 1]."""
    top, bottom, left, right = blocks[_randint(0, len(blocks) - 1, g)]
    side = min(side, bottom - top, right - left)
    y, x = _randint(top, bottom - side, g), _randint(left, right - side, g)
    crop = photo[:, y : y + side, x : x + side].float().unsqueeze(0) / 255
    return F.interpolate(crop, size=out, mode="bilinear", antialias=True)[0]


def _blob(size: int, g: torch.Generator) -> torch.Tensor:
    """A smooth random blob filling a ``size x size`` square: bool ``(size, size)``. Its
    outline is a circle whose radius wobbles with harmonics 2-4 of the angle."""
    pixel = (torch.arange(size) + 0.5) / size * 2 - 1  # pixel centres in [-1, 1]
    v, u = pixel.view(-1, 1), pixel.view(1, -1)
    angle, radius = torch.atan2(v, u), torch.sqrt(u**2 + v**2)
    outline = torch.ones(())
    for k in (2, 3, 4):
        amplitude, phase = _WOBBLE * float(torch.rand((), generator=g)), _uniform(0, 6.3, g)
        outline = outline + amplitude * torch.cos(k * angle + phase)
    return radius <= outline / (1 + 3 * _WOBBLE)  # the whole blob inside the square


@dataclass(frozen=True)
class PhotoObjects:
    """``images`` uint8 ``(n, 3, H, W)``; ``labels`` long ``(n,)`` (each image's largest
    class, indices into CLASSES); ``pixel_labels`` long ``(n, H, W)`` (0 background,
    ``c + 1`` class ``c``) and ``pixel_sizes`` long ``(n, H, W)`` (index into SIZES, -1 on
    background)."""

    images: torch.Tensor
    labels: torch.Tensor
    pixel_labels: torch.Tensor
    pixel_sizes: torch.Tensor


def _render_one(split: str, img_size: int, patch_size: int, g: torch.Generator):
    """One image: (float image (3, H, W), pixel labels (H, W), pixel sizes (H, W))."""
    photo, blocks = _backgrounds()[_randint(0, len(BACKGROUNDS) - 1, g)]
    side = _randint(*_BACKGROUND_SIDE, g)
    image = _crop(photo, blocks[split], side, img_size, g)
    labels = torch.zeros(img_size, img_size, dtype=torch.long)
    sizes = torch.full((img_size, img_size), -1, dtype=torch.long)
    count = _randint(*_COUNT, g)
    buckets = sorted((_randint(0, len(SIZES) - 1, g) for _ in range(count)), reverse=True)
    for bucket in buckets:  # large first: a small object is pasted over a large one
        low, high = _DIAMETER_IN_PATCHES[bucket]
        diameter = min(img_size, round(_uniform(low, high, g) * patch_size))
        label = _randint(0, len(CLASSES) - 1, g)
        zoom = _uniform(*_ZOOM, g)
        texture = _crop(
            photos()[label], split_blocks()[label][split], round(diameter * zoom), diameter, g
        )
        y, x = _randint(0, img_size - diameter, g), _randint(0, img_size - diameter, g)
        blob = _blob(diameter, g)
        window = (slice(y, y + diameter), slice(x, x + diameter))
        image[(slice(None), *window)] = torch.where(blob, texture, image[(slice(None), *window)])
        labels[window] = torch.where(blob, label + 1, labels[window])
        sizes[window] = torch.where(blob, bucket, sizes[window])
    return image, labels, sizes


def render_photo_objects(split: str, img_size: int = 64, patch_size: int = 8) -> PhotoObjects:
    """All images of ``split`` (``SPLITS``), deterministically for given arguments."""
    if split not in SPLITS:
        raise ValueError(
            f"split={split!r} is not a photo_objects split; valid choices: {tuple(SPLITS)}"
        )
    if patch_size < 1 or img_size < math.ceil(_DIAMETER_IN_PATCHES[2][1] * patch_size):
        raise ValueError(
            f"img_size={img_size} must hold a large object (5 patches of {patch_size} pixels)"
        )
    n, seed = SPLITS[split]
    g = torch.Generator().manual_seed(seed)
    rendered = [_render_one(split, img_size, patch_size, g) for _ in range(n)]
    images, labels, sizes = zip(*rendered, strict=True)
    pixel_labels, pixel_sizes = torch.stack(labels), torch.stack(sizes)
    flat = pixel_labels.flatten(1)
    counts = torch.zeros(n, len(CLASSES) + 1).scatter_add_(1, flat, torch.ones(flat.shape))
    return PhotoObjects(
        (torch.stack(images).clamp(0, 1) * 255).round().to(torch.uint8),
        counts[:, 1:].argmax(1),
        pixel_labels,
        pixel_sizes,
    )


@functools.lru_cache(maxsize=4)
def _cached_render(split: str, img_size: int, patch_size: int) -> PhotoObjects:
    return render_photo_objects(split, img_size, patch_size)


class PhotoObjectsDataset(ImageSet):
    """The images of one split as ``(image, label)`` like torchvision data sets, with
    ``.dense`` (per-pixel truth for dense probes), ``.classes`` and ``.size_names``.

    ``image`` is ``transform(x)`` for ``x`` a float ``(3, H, W)`` tensor in [0, 1]. Splits:
    "train" (3000 images) and "test" (900), textures and backgrounds from disjoint regions
    of every photo; rendering is cached per process."""

    classes = CLASSES
    size_names = SIZES

    def __init__(
        self, split: str = "train", img_size: int = 64, patch_size: int = 8, transform=None
    ) -> None:
        rendered = _cached_render(split, img_size, patch_size)
        self.images, self.labels = rendered.images, rendered.labels
        self._rendered = rendered
        self.transform = transform

    @property
    def dense(self) -> DenseLabels:
        """Per-pixel class and size truth of every image."""
        return DenseLabels(
            self._rendered.pixel_labels, self._rendered.pixel_sizes, self.classes, SIZES
        )
