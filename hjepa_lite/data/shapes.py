"""Shapes: the embedded default data set, generated deterministically (no download).

Each image shows objects of ONE class (circle, square, triangle, cross, ring, diamond) at
ONE size relative to a ViT patch: small (about one patch across, 3-8 objects), medium
(2-3 patches, 2-4 objects) or large (4-6 patches, one object). Objects sit in
non-overlapping slots at jittered positions, each in a random bright colour, on a varied
dark background (solid, gradient, stripes or smooth noise). Colour and background never
depend on the class, and every class covers the same area at a given size (so an image's
brightness does not give the class away either): only shape tells the classes apart. Because
an image repeats its class, a hidden object can be predicted from its visible siblings only
by encoding shape, which is what I-JEPA's objective rewards. Knowing the size lets a later
notebook ask which level of the pyramid recognises *small* objects.

Why dark backgrounds and bright objects: a ViT's patch embedding is linear, so when object
and background colours are both arbitrary the sign of every edge is random, and the tiny ViT
of ``configs/tiny_*.yaml`` trained from scratch *with labels* for 600 steps reached only
29 % test accuracy (6 classes) on an earlier version of this data set with backgrounds of any
brightness. With the contrast's sign fixed it reaches 94 % (``python
benchmarks/supervised_ceiling.py``; output in ``benchmarks/results/``).

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
from einops import rearrange

from .dense_labels import DenseLabels
from .image_set import ImageSet

__all__ = ["CLASSES", "SIZES", "SPLITS", "ShapesBatch", "ShapesDataset", "render_shapes"]

CLASSES = ("circle", "square", "triangle", "cross", "ring", "diamond")
SIZES = ("small", "medium", "large")
# Per size bucket: object extent (diameter of its bounding circle, before the equal-area
# shrinking of up to 1.34x) in patches, and how many objects an image holds, placed in a grid
# of (img_size // (2 * patch * 2**bucket))^2 slots.
_EXTENT_IN_PATCHES = {0: (1.0, 1.5), 1: (2.3, 3.4), 2: (4.6, 6.9)}
_COUNT = {0: (3, 8), 1: (2, 4), 2: (1, 1)}
SPLITS = {"train": (6000, 0), "test": (1800, 1)}  # (number of images, seed)
_FRESH_SEED = 10_000  # fresh training images of epoch e use seed 10_000 + 1_000 e + split seed
_SUPERSAMPLE = 2
_BACKGROUND_MAX = 0.35  # backgrounds are dark: every channel in [0, 0.35] ...
_OBJECT_MIN = 0.5  # ... and objects bright: every channel in [0.5, 1]
_CHUNK = 256


@dataclass(frozen=True)
class ShapesBatch:
    """``images`` uint8 ``(n, 3, H, W)``; ``labels`` and ``sizes`` long ``(n,)`` (indices into
    CLASSES and SIZES); ``masks`` bool ``(n, H, W)``, the object's pixels."""

    images: torch.Tensor
    labels: torch.Tensor
    sizes: torch.Tensor
    masks: torch.Tensor


def _radius(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return torch.sqrt(u**2 + v**2)


def _ring(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    radius = _radius(u, v)
    return (radius <= 1.0) & (radius >= 0.55)


# Coverage of each class's shape at coordinates u, v (broadcast together), in coordinates where
# the shape fits [-1, 1]^2; in the order of CLASSES.
_UNIT_SHAPES = {
    "circle": lambda u, v: _radius(u, v) <= 1.0,
    "square": lambda u, v: torch.maximum(u.abs(), v.abs()) <= 0.78,
    "triangle": lambda u, v: (v <= 0.75) & (v >= -1.0 + 1.75 * u.abs()),  # apex up
    "cross": lambda u, v: (
        ((u.abs() <= 0.3) | (v.abs() <= 0.3)) & (torch.maximum(u.abs(), v.abs()) <= 1.0)
    ),
    "ring": _ring,
    "diamond": lambda u, v: u.abs() + v.abs() <= 1.0,
}
assert tuple(_UNIT_SHAPES) == CLASSES


def _equal_area_scale(resolution: int = 801) -> torch.Tensor:
    """Per class, the factor by which to shrink its unit shape so that every class covers the
    same area as the smallest (the triangle): then an image's brightness, which grows with
    the area its objects cover, says nothing about their class."""
    grid = torch.linspace(-1, 1, resolution)
    u, v = grid.view(1, -1), grid.view(-1, 1)
    area = torch.stack([shape(u, v).float().mean() for shape in _UNIT_SHAPES.values()])
    return torch.sqrt(area / area.min())


_AREA_SCALE = _equal_area_scale()


def _shape_masks(labels: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Coverage ``(n, ...)`` of shape ``labels[i]`` at coordinates ``u[i], v[i]`` (the unit of
    ``u, v`` is the object's radius), every class with the same area."""
    masks = torch.empty(torch.broadcast_shapes(u.shape, v.shape), dtype=torch.bool)
    for label, shape in enumerate(_UNIT_SHAPES.values()):  # each object's own shape only
        chosen = (labels == label).nonzero()[:, 0]
        if len(chosen):
            scale = _AREA_SCALE[label]
            masks[chosen] = shape(u[chosen] * scale, v[chosen] * scale)
    return masks


def _backgrounds(n: int, size: int, g: torch.Generator) -> torch.Tensor:
    """``(n, 3, size, size)`` float backgrounds of four kinds, chosen at random."""
    kind = torch.randint(0, 4, (n,), generator=g)
    first = _BACKGROUND_MAX * torch.rand(n, 3, 1, 1, generator=g)
    second = _BACKGROUND_MAX * torch.rand(n, 3, 1, 1, generator=g)
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


def _slot_objects(labels, bucket, img_size, patch_size, g):
    """Objects of one size bucket, one per active slot: coverage ``(n, 1, S, S)`` at the
    supersampled size ``S``, and each pixel's object colour at full size
    ``(n, 3, img_size, img_size)`` (what averaging the supersampled colours down gives)."""
    n = len(labels)
    per_side = max(1, img_size // (2 * patch_size * 2**bucket))
    slot = img_size // per_side
    slots = per_side * per_side
    low_count, high_count = _COUNT[bucket]
    high_count = min(high_count, slots)
    count = torch.randint(min(low_count, high_count), high_count + 1, (n,), generator=g)
    rank = torch.rand(n, slots, generator=g).argsort(1).argsort(1)
    active = rank < count.unsqueeze(1)  # (n, slots): a random subset of `count` slots

    low, high = (e * patch_size for e in _EXTENT_IN_PATCHES[bucket])
    radius = (low + (high - low) * torch.rand(n, slots, generator=g)) / 2
    radius = radius.clamp(max=slot / 2 - 0.5)
    offset = (slot / 2 - radius).unsqueeze(-1) * (2 * torch.rand(n, slots, 2, generator=g) - 1)
    center = slot / 2 + offset  # (n, slots, 2) in slot coordinates (x, y)
    big = slot * _SUPERSAMPLE
    pixel = (torch.arange(big) + 0.5) / _SUPERSAMPLE
    u = (pixel.view(1, 1, 1, big) - center[..., 0, None, None]) / radius[..., None, None]
    v = (pixel.view(1, 1, big, 1) - center[..., 1, None, None]) / radius[..., None, None]
    flat_labels = labels.repeat_interleave(slots)
    shape = _shape_masks(flat_labels, u.flatten(0, 1), v.flatten(0, 1)).view(n, slots, big, big)
    shape = shape & active[..., None, None]
    colour = _OBJECT_MIN + (1 - _OBJECT_MIN) * torch.rand(n, slots, 3, generator=g)

    def tile(x):  # (n, slots, c, big, big) -> (n, c, per_side * big, per_side * big)
        return rearrange(x, "n (ky kx) c h w -> n c (ky h) (kx w)", ky=per_side)

    coverage = tile(shape.float().unsqueeze(2))
    # Each slot is one colour, so the supersampled colour image, averaged down, is that colour
    # averaged over a window of equal values: do that once per slot, then tile at full size.
    window = colour[..., None, None].expand(-1, -1, -1, _SUPERSAMPLE, _SUPERSAMPLE)
    colour = F.avg_pool2d(window.flatten(0, 1), _SUPERSAMPLE).view(n, slots, 3, 1, 1)
    colours = tile(colour.expand(-1, -1, -1, slot, slot))
    pad = img_size - colours.shape[-1]  # img_size not a multiple of slots
    return (
        F.pad(coverage, (0, _SUPERSAMPLE * pad, 0, _SUPERSAMPLE * pad)),
        F.pad(colours, (0, pad, 0, pad)),
    )


def _render_chunk(labels, sizes, img_size, patch_size, g):
    n, big = len(labels), img_size * _SUPERSAMPLE
    coverage = torch.zeros(n, 1, big, big)
    colours = torch.zeros(n, 3, img_size, img_size)  # at full size already (_slot_objects)
    for bucket in range(len(SIZES)):
        chosen = sizes == bucket
        if chosen.any():
            coverage[chosen], colours[chosen] = _slot_objects(
                labels[chosen], bucket, img_size, patch_size, g
            )
    coverage = F.avg_pool2d(coverage, _SUPERSAMPLE)

    background = _backgrounds(n, img_size, g)
    # Keep objects visible: push a colour that is close to the background away from it.
    bg_mean = background.mean((2, 3), keepdim=True)
    # (a sum of squares: torch's norm over the channel axis is ~30x slower here)
    too_close = (colours - bg_mean).square().sum(1, keepdim=True).sqrt() < 0.45
    colours = torch.where(too_close, (bg_mean + 0.5) % 1.0, colours)
    image = background * (1 - coverage) + colours * coverage
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


class ShapesDataset(ImageSet):
    """The Shapes images of one split, as ``(image, label)`` like torchvision data sets.

    ``image`` is ``transform(x)`` for ``x`` a float ``(3, H, W)`` tensor in [0, 1] (or ``x``
    itself without transform). ``.labels`` and ``.sizes`` hold every item's class and size
    bucket, ``.masks`` its object pixels (bool ``(n, H, W)``), ``.dense`` the per-pixel
    truth of dense probes (:class:`~hjepa_lite.data.dense_labels.DenseLabels`); ``.classes`` and
    ``.size_names`` their names. Splits: "train" (6000 images) and
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
        fresh: bool = False,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(
                f"split={split!r} is not a Shapes split; valid choices: {tuple(SPLITS)}"
            )
        default_n, self.seed = SPLITS[split]
        self.num_images = num_images or default_n
        self.img_size, self.patch_size = img_size, patch_size
        self.fresh = fresh
        self.transform = transform
        self._use(_cached_render(self.num_images, img_size, patch_size, self.seed))

    def _use(self, batch: ShapesBatch) -> None:
        self.images, self.labels, self.sizes = batch.images, batch.labels, batch.sizes
        self.masks = batch.masks

    @property
    def dense(self) -> DenseLabels:
        """Per-pixel truth for dense probes: each object pixel has its image's class and size
        bucket (an image holds one class at one size), the rest is background."""
        labels = torch.where(self.masks, self.labels[:, None, None] + 1, 0)
        sizes = torch.where(self.masks, self.sizes[:, None, None], -1)
        return DenseLabels(labels, sizes, self.classes, self.size_names)

    def set_epoch(self, epoch: int) -> None:
        """With ``fresh=True``, epoch ``e > 0`` shows newly rendered images (seeded by the
        split and ``e``, never the seed of another split): unbounded data. Else a no-op."""
        if self.fresh:
            seed = self.seed if epoch == 0 else _FRESH_SEED + 1_000 * epoch + self.seed
            self._use(render_shapes(self.num_images, self.img_size, self.patch_size, seed))
