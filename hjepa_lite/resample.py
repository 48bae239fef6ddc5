"""Learned resampling between pyramid levels, aligned exactly with the pooling cells.

Two of the seed's "Future Enhancements" move tokens between levels with weights instead of
fixed interpolation:

* :class:`TransposedConvUpsample` (learnable upsampling, top-down): a transposed convolution
  with kernel = stride = the pooling factor (2x2 on the 2-D grid) gives every coarse cell its
  own learned pattern over exactly the children it was pooled from; on odd grids the extra
  last row/column is cropped, as pooling rounded up (7 -> 4 -> 7).
* :class:`StridedConvDownsample` (PANet's bottom-up path): a convolution with kernel =
  stride = the pooling factor maps each group of children to its parent; odd grids are
  zero-padded at the bottom/right first, so the output has the coarse level's exact size.

Both work on ``(B, h*w, C)`` tokens, like the rest of the pyramid; with ``pooling="1d_seed"``
the factor is ``(1, 2)`` on the ``(1, N)`` layout.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .pyramid import GridSize, on_grid

__all__ = ["StridedConvDownsample", "TransposedConvUpsample"]


class TransposedConvUpsample(nn.Module):
    """``(B, h*w, C_in)`` on the coarse grid -> ``(B, H*W, C_out)`` on the fine ``out_size``."""

    def __init__(
        self, in_dim: int, out_dim: int, size: GridSize, out_size: GridSize, factor=(2, 2)
    ) -> None:
        super().__init__()
        self.size, self.out_size = tuple(size), tuple(out_size)
        self.conv = nn.ConvTranspose2d(in_dim, out_dim, kernel_size=factor, stride=factor)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        h, w = self.out_size  # odd grids: drop the extra last row / column
        return on_grid(lambda grid: self.conv(grid)[..., :h, :w], tokens, self.size)


class StridedConvDownsample(nn.Module):
    """``(B, H*W, C_in)`` on the fine grid -> ``(B, h*w, C_out)`` on the coarse ``out_size``."""

    def __init__(
        self, in_dim: int, out_dim: int, size: GridSize, out_size: GridSize, factor=(2, 2)
    ) -> None:
        super().__init__()
        self.size = tuple(size)
        # zero rows/cols at the bottom/right so that every parent has a full group of children
        self.pad = (0, out_size[1] * factor[1] - size[1], 0, out_size[0] * factor[0] - size[0])
        self.conv = nn.Conv2d(in_dim, out_dim, kernel_size=factor, stride=factor)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return on_grid(lambda grid: self.conv(F.pad(grid, self.pad)), tokens, self.size)
