"""A labelled set of images held in memory as uint8, served like a torchvision data set.

The embedded data sets (:mod:`~hjepa_lite.data.shapes`, :mod:`~hjepa_lite.data.photo_crops`) render
their images once and keep them as ``images`` uint8 ``(n, 3, H, W)`` with ``labels`` long
``(n,)``; item ``i`` is ``(transform(images[i] / 255), labels[i])``.
"""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

__all__ = ["ImageSet"]


class ImageSet(Dataset):
    """``(image, label)`` items of in-memory uint8 ``images`` and ``labels``; subclasses set
    both (and ``transform``: None gives the float ``(3, H, W)`` image in [0, 1])."""

    images: torch.Tensor
    labels: torch.Tensor
    transform = None

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = self.images[index].float() / 255
        if self.transform is not None:
            image = self.transform(image)
        return image, int(self.labels[index])
