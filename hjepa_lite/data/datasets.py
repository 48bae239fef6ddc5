"""One entry point for image data, and the I-JEPA transforms.

``build_dataset(name, split, img_size)`` returns a data set of ``(image, label)`` with
``image`` a normalised float tensor ``(3, img_size, img_size)``:

* ``"shapes"``: the embedded Shapes data set (:mod:`hjepa_lite.data.shapes`), no download;
* ``"photo_crops"``: crops of 12 real photographs that ship inside scikit-image, labelled by
  photo, train and test from disjoint regions (:mod:`hjepa_lite.data.photo_crops`), no download;
* ``"cifar10"``, ``"stl10"``: torchvision data sets under ``root`` (``download=True`` fetches
  them, which needs internet);
* ``"imagefolder"``: your own images in ``root/<split>/<class>/<image>``.

The only augmentation is I-JEPA's: ``RandomResizedCrop(scale=(0.3, 1.0))``.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch.utils.data import Dataset
from torchvision import datasets
from torchvision.transforms import v2

from .photo_crops import PhotoCropsDataset
from .photo_objects import PhotoObjectsDataset
from .shapes import ShapesDataset

__all__ = [
    "DATASETS",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "build_dataset",
    "eval_transform",
    "train_transform",
]

DATASETS = ("shapes", "cifar10", "stl10", "imagefolder", "photo_crops", "photo_objects")
_SPLITS = {
    "shapes": ("train", "test"),
    "cifar10": ("train", "test"),
    "stl10": ("train", "test", "unlabeled", "train+unlabeled"),
    "imagefolder": None,  # any sub-folder of root
    "photo_crops": ("train", "test"),
    "photo_objects": ("train", "test"),
}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _to_float() -> list:
    """PIL image or tensor -> float tensor in [0, 1]."""
    return [v2.ToImage(), v2.ToDtype(torch.float32, scale=True)]


def train_transform(img_size: int) -> v2.Compose:
    """I-JEPA's only augmentation: a random crop of 30-100 % of the image, then normalise."""
    return v2.Compose(
        [
            *_to_float(),
            v2.RandomResizedCrop(img_size, scale=(0.3, 1.0), antialias=True),
            v2.Normalize(IMAGENET_MEAN, IMAGENET_STD),
        ]
    )


def eval_transform(img_size: int) -> v2.Compose:
    """Resize the short side, centre crop, normalise."""
    return v2.Compose(
        [
            *_to_float(),
            v2.Resize(img_size, antialias=True),
            v2.CenterCrop(img_size),
            v2.Normalize(IMAGENET_MEAN, IMAGENET_STD),
        ]
    )


def build_dataset(
    name: str,
    split: str = "train",
    img_size: int = 64,
    root: str | os.PathLike = "data",
    download: bool = False,
    augment: bool | None = None,
    patch_size: int = 8,
    fresh_images: bool = False,
) -> Dataset:
    """A data set of ``(normalised image (3, img_size, img_size), label)``.

    ``augment`` None -> random crops for training splits ("train", "unlabeled", ...), plain
    resize + centre crop otherwise. ``patch_size`` sets the object sizes of Shapes;
    ``fresh_images`` renders new Shapes images every epoch (Shapes only).
    """
    if name not in DATASETS:
        raise ValueError(f"dataset {name!r} is not supported; valid choices: {DATASETS}")
    if fresh_images and name != "shapes":
        raise ValueError(
            f"data.fresh_images=true works with data.dataset 'shapes' only (got {name!r}): "
            "the other data sets are a fixed set of images"
        )
    splits = _SPLITS[name]
    if splits is not None and split not in splits:
        raise ValueError(f"split={split!r} is not a {name} split; valid choices: {splits}")
    if augment is None:
        augment = split != "test"
    transform = train_transform(img_size) if augment else eval_transform(img_size)
    root = Path(root)
    if name == "shapes":
        return ShapesDataset(split, img_size, patch_size, transform=transform, fresh=fresh_images)
    if name == "photo_crops":
        return PhotoCropsDataset(split, img_size=img_size, transform=transform)
    if name == "photo_objects":
        return PhotoObjectsDataset(split, img_size, patch_size, transform=transform)
    try:
        if name == "cifar10":
            return datasets.CIFAR10(
                root, train=split == "train", transform=transform, download=download
            )
        if name == "stl10":
            return datasets.STL10(root, split=split, transform=transform, download=download)
        return datasets.ImageFolder(root / split, transform=transform)
    except (RuntimeError, FileNotFoundError) as error:
        where = root / split if name == "imagefolder" else root
        hint = (
            "put images in <root>/<split>/<class>/*.png"
            if name == "imagefolder"
            else "pass download=True (needs internet) or point root at a downloaded copy"
        )
        raise FileNotFoundError(f"no {name} data found at {where}: {hint} ({error})") from error
