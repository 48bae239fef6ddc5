"""Per-cell truth for dense probes: which object covers each cell of each pyramid level.

A dense data set knows, for every pixel, the class of the object there (or background) and
that object's size bucket. A pyramid level ``l`` of a ViT with patch side ``p`` cuts the
image into cells of ``p * 2**l`` pixels (the last row and column smaller when the grid is odd,
as :func:`hjepa_lite.model.geometry.level_grid_sizes` rounds up). A cell's label is the object class
covering the largest share of it if that share is at least ``MIN_COVER``, else background; its
size is the most common size bucket among that class's pixels in the cell.

    >>> truth = DenseLabels(pixel_labels, pixel_sizes, classes=("circle",), sizes=("small",))
    >>> labels, sizes = truth.cells(patch_size=8, level=1)   # (n, h1, w1) each
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange

__all__ = ["BACKGROUND", "MIN_COVER", "DenseLabels"]

BACKGROUND = 0  # the cell label of background; object class c is label c + 1
MIN_COVER = 0.25  # an object must cover this share of a cell to name it
_CHUNK = 256  # images per step (the one-hot of (class, size) pairs is ~C*S floats a pixel)


@dataclass(frozen=True)
class DenseLabels:
    """Per-pixel truth of ``n`` images of ``H x W`` pixels.

    ``pixel_labels`` long ``(n, H, W)``: 0 for background, ``c + 1`` for an object of class
    ``classes[c]``; ``pixel_sizes`` long ``(n, H, W)``: the object's index into ``sizes``,
    -1 on background."""

    pixel_labels: torch.Tensor
    pixel_sizes: torch.Tensor
    classes: tuple[str, ...]
    sizes: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.pixel_labels.shape != self.pixel_sizes.shape or self.pixel_labels.dim() != 3:
            raise ValueError(
                "pixel_labels and pixel_sizes must both be (n, H, W); got "
                f"{tuple(self.pixel_labels.shape)} and {tuple(self.pixel_sizes.shape)}"
            )
        background = self.pixel_labels == BACKGROUND
        if not torch.equal(background, self.pixel_sizes < 0):
            raise ValueError("pixel_sizes must be -1 exactly where pixel_labels is background")
        if self.pixel_labels.max() > len(self.classes) or self.pixel_sizes.max() >= len(self.sizes):
            raise ValueError("a pixel label or size is beyond the classes or sizes named")

    def __len__(self) -> int:
        return len(self.pixel_labels)

    @property
    def image_size(self) -> tuple[int, int]:
        return tuple(self.pixel_labels.shape[1:])

    def subset(self, index: torch.Tensor | slice) -> DenseLabels:
        """The truth of the images ``index`` selects."""
        return DenseLabels(
            self.pixel_labels[index], self.pixel_sizes[index], self.classes, self.sizes
        )

    def cells(self, patch_size: int, level: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(labels, sizes)``, long ``(n, h_l, w_l)`` each, for the cells of ``level`` of a
        pyramid over ``patch_size`` patches (labels: 0 background, ``c + 1`` class ``c``;
        sizes: -1 on background cells)."""
        height, width = self.image_size
        if patch_size < 1 or height % patch_size or width % patch_size:
            raise ValueError(
                f"patch_size={patch_size} must divide the image size {height} x {width}"
            )
        if level < 0:
            raise ValueError(f"level={level} must be >= 0")
        cell = patch_size * 2**level
        labels, sizes = zip(
            *(self._cells(chunk, cell) for chunk in torch.split(torch.arange(len(self)), _CHUNK)),
            strict=True,
        )
        return torch.cat(labels), torch.cat(sizes)

    def _cells(self, index: torch.Tensor, cell: int) -> tuple[torch.Tensor, torch.Tensor]:
        num_sizes = len(self.sizes)
        labels, sizes = self.pixel_labels[index], self.pixel_sizes[index]
        # one channel per (class, size) pair, and one for background
        pair = torch.where(labels > 0, (labels - 1) * num_sizes + sizes + 1, 0)
        onehot = F.one_hot(pair, 1 + len(self.classes) * num_sizes).float()
        onehot = rearrange(onehot, "n h w k -> n k h w")
        # pixel counts per cell; ceil_mode keeps the partial cells of the last row and column
        counts = F.avg_pool2d(onehot, cell, ceil_mode=True, divisor_override=1)
        area = counts.sum(1)  # pixels inside each (possibly partial) cell
        per_pair = rearrange(counts[:, 1:], "n (c s) h w -> n c s h w", s=num_sizes)
        share, best_class = (per_pair.sum(2) / area.unsqueeze(1)).max(1)
        best_size = per_pair.gather(1, best_class[:, None, None].expand(-1, 1, num_sizes, -1, -1))
        best_size = best_size[:, 0].argmax(1)
        named = share >= MIN_COVER
        return (
            torch.where(named, best_class + 1, BACKGROUND),
            torch.where(named, best_size, -1),
        )
