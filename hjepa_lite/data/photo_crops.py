"""Photo crops: a labelled set of real photographs that ships inside scikit-image (no download).

The 12 photos are sample images in the ``skimage/data`` folder of the scikit-image wheel
(public domain or CC0; see ``data/README.md``): six in colour (astronaut, cat, coffee, rocket
launch, retina, Hubble deep field) and six grey (cameraman, coins, handwritten notes, and the
brick, grass and gravel textures). Each class is ONE photo; an image is a square crop of it
and its label says which photo it comes from. Telling crops apart takes colour, texture and
local structure (the night sky of the rocket launch against the deep field, gravel against
grass) rather than the layout of a whole scene.

Train and test crops come from DISJOINT regions of every photo. Each photo, resampled to the
area of a 384 x 384 square, is cut into a grid of blocks of about 96 x 96 pixels; a fixed
random quarter of the blocks is the test region. A crop lies inside one block of its split
(side 40-80 pixels, resized to ``img_size``), so no test pixel is ever seen in training and
the probe measures generalisation to unseen parts of each scene. Blocks, crops and order come
from fixed seeds: the same on every machine.

    >>> crops = render_photo_crops("train", img_size=64)
    >>> crops.images.shape, crops.images.dtype, crops.labels.shape, crops.boxes.shape
    (torch.Size([2400, 3, 64, 64]), torch.uint8, torch.Size([2400]), torch.Size([2400, 3]))
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .image_set import ImageSet

__all__ = [
    "CLASSES",
    "FILES",
    "PhotoCrops",
    "PhotoCropsDataset",
    "photo_dir",
    "photos",
    "read_photo",
    "render_photo_crops",
    "split_blocks",
    "split_grid",
]

# class name -> its photo in skimage/data (every one of them inside the scikit-image wheel)
FILES = {
    "astronaut": "astronaut.png",
    "cat": "chelsea.png",
    "coffee": "coffee.png",
    "rocket": "rocket.jpg",
    "retina": "retina.jpg",
    "galaxies": "hubble_deep_field.jpg",
    "cameraman": "camera.png",
    "coins": "coins.png",
    "notes": "text.png",
    "brick": "brick.png",
    "grass": "grass.png",
    "gravel": "gravel.png",
}
CLASSES = tuple(FILES)
_SIDE = 384  # every photo is resampled to the area of a _SIDE x _SIDE square (aspect kept)
_BLOCK = 96  # ... and cut into a grid of blocks of about _BLOCK x _BLOCK, each train or test
_TEST_FRACTION = 0.25
_CROP = (40, 80)  # crop side range in resampled pixels (every block is larger)
_SPLITS = {"train": (200, 1), "test": (50, 2)}  # (crops per class, seed)
_SPLIT_SEED = 0  # which blocks are test


def photo_dir() -> Path:
    """The ``skimage/data`` folder of the installed scikit-image (found without importing it)."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "the photo_crops data set needs scikit-image: pip install scikit-image"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def read_photo(file: str) -> torch.Tensor:
    """One photo of :func:`photo_dir`, uint8 ``(3, h, w)``, resampled to the area of a
    384 x 384 square (aspect kept); a grey photo repeated to 3 channels."""
    path = photo_dir() / file
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: reinstall scikit-image")
    with Image.open(path) as image:
        image = image.convert("RGB")
        scale = _SIDE / (image.width * image.height) ** 0.5
        size = (round(image.width * scale), round(image.height * scale))
        image = image.resize(size, Image.Resampling.LANCZOS)
        return torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1)


@functools.lru_cache(maxsize=1)
def photos() -> tuple[torch.Tensor, ...]:
    """Every class's photo (:func:`read_photo`), in CLASSES order."""
    return tuple(read_photo(FILES[name]) for name in CLASSES)


def split_grid(height: int, width: int, g: torch.Generator) -> dict[str, list[tuple]]:
    """The blocks ``(top, bottom, left, right)`` of each split in one photo: a grid of blocks
    of about ``_BLOCK`` pixels, a random quarter of them (at least one) for "test"."""
    ys = torch.linspace(0, height, max(1, round(height / _BLOCK)) + 1).round().long().tolist()
    xs = torch.linspace(0, width, max(1, round(width / _BLOCK)) + 1).round().long().tolist()
    grid = [(t, b, le, r) for t, b in pairwise(ys) for le, r in pairwise(xs)]
    n_test = max(1, round(_TEST_FRACTION * len(grid)))
    is_test = torch.zeros(len(grid), dtype=torch.bool)
    is_test[torch.randperm(len(grid), generator=g)[:n_test]] = True
    return {
        "train": [b for b, t in zip(grid, is_test.tolist(), strict=True) if not t],
        "test": [b for b, t in zip(grid, is_test.tolist(), strict=True) if t],
    }


@functools.lru_cache(maxsize=1)
def split_blocks() -> tuple[dict[str, list[tuple]], ...]:
    """Per photo (in CLASSES order), ``{"train": blocks, "test": blocks}`` with a block
    ``(top, bottom, left, right)`` in the resampled photo; fixed by ``_SPLIT_SEED``."""
    g = torch.Generator().manual_seed(_SPLIT_SEED)
    return tuple(split_grid(photo.shape[1], photo.shape[2], g) for photo in photos())


def _randint(low: int, high: int, g: torch.Generator) -> int:
    """A uniform integer in [low, high]."""
    return int(torch.randint(low, high + 1, (1,), generator=g))


@dataclass(frozen=True)
class PhotoCrops:
    """``images`` uint8 ``(n, 3, img_size, img_size)``; ``labels`` long ``(n,)`` (indices into
    CLASSES); ``boxes`` long ``(n, 3)``, each crop's ``(top, left, side)`` in its photo
    resampled to the common area (see :func:`photos`)."""

    images: torch.Tensor
    labels: torch.Tensor
    boxes: torch.Tensor


def render_photo_crops(split: str, img_size: int = 64) -> PhotoCrops:
    """All crops of ``split``, classes interleaved in a fixed shuffled order; deterministic.

    A crop picks one of the split's blocks of its photo, a side in ``_CROP`` and a position
    inside that block: training and test crops never share a pixel."""
    if split not in _SPLITS:
        raise ValueError(
            f"split={split!r} is not a photo_crops split; valid choices: {tuple(_SPLITS)}"
        )
    per_class, seed = _SPLITS[split]
    g = torch.Generator().manual_seed(seed)
    images, boxes = [], []
    for photo, blocks in zip(photos(), split_blocks(), strict=True):
        for _ in range(per_class):
            top, bottom, left, right = blocks[split][_randint(0, len(blocks[split]) - 1, g)]
            side = _randint(*_CROP, g)
            y, x = _randint(top, bottom - side, g), _randint(left, right - side, g)
            crop = photo[:, y : y + side, x : x + side].float().unsqueeze(0)
            images.append(F.interpolate(crop, size=img_size, mode="bilinear", antialias=True))
            boxes.append((y, x, side))
    labels = torch.arange(len(CLASSES)).repeat_interleave(per_class)
    order = torch.randperm(len(labels), generator=g)
    images = torch.cat(images).round().clamp(0, 255).to(torch.uint8)
    return PhotoCrops(images[order], labels[order], torch.tensor(boxes)[order])


@functools.lru_cache(maxsize=4)
def _cached_render(split: str, img_size: int) -> PhotoCrops:
    return render_photo_crops(split, img_size)


class PhotoCropsDataset(ImageSet):
    """The crops of one split as ``(image, label)`` like torchvision data sets.

    ``image`` is ``transform(x)`` for ``x`` a float ``(3, img_size, img_size)`` tensor in
    [0, 1] (or ``x`` itself without transform). ``.images`` (uint8) and ``.labels`` hold all
    items, ``.boxes`` where each crop lies in its photo and ``.classes`` the class names.
    Splits: "train" (200 crops per class, 2400) and "test" (50 per class, 600), from
    disjoint regions of each photo; rendering is cached per process.
    """

    classes = CLASSES

    def __init__(self, split: str = "train", img_size: int = 64, transform=None) -> None:
        crops = _cached_render(split, img_size)
        self.images, self.labels, self.boxes = crops.images, crops.labels, crops.boxes
        self.transform = transform
