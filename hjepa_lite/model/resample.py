"""Resampling between pyramid levels, aligned exactly with the pooling cells.

Pooling (:mod:`hjepa_lite.model.pyramid`) goes from a level to the next coarser one; everything
else that moves tokens between two level grids lives here.

Upsampling, coarse -> fine, always to the finer level's *exact* size: each axis that
pooling halved is doubled, then the extra last row/column is cropped (7 -> 4 -> 8 -> 7),
so every fine cell stays under the parent that pooled it.

* :func:`upsample_tokens`: fixed interpolation, ``"nearest"`` or ``"bilinear"``;
* the FPN's top-down upsamplers, one :class:`Upsampler` module per ``fpn.upsample`` choice:
  :class:`NearestUpsample` and :class:`BilinearUpsample` (no parameters),
  :class:`TransposedConvUpsample` (learned, one of the seed's "Future Enhancements": kernel =
  stride = the pooling factor gives every coarse cell its own learned pattern over exactly
  the children it was pooled from), and :class:`NoUpsample` for attention fusion, which
  resamples the coarse level itself.

Downsampling, fine -> coarse, with weights: :class:`StridedConvDownsample` (PANet's
bottom-up path) maps each group of children to its parent with kernel = stride = the pooling
factor; odd grids are zero-padded at the bottom/right first, so the output has the coarse
level's exact size.

All of them work on ``(B, h*w, C)`` tokens, like the rest of the pyramid; with
``pooling="1d_seed"`` the factor is ``(1, 2)`` on the ``(1, N)`` layout.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from ..core.grid import GridSize, on_grid
from ..core.registry import resolve

__all__ = [
    "UPSAMPLERS",
    "UPSAMPLE_MODES",
    "BilinearUpsample",
    "NearestUpsample",
    "NoUpsample",
    "StridedConvDownsample",
    "TransposedConvUpsample",
    "Upsampler",
    "make_upsampler",
    "upsample_tokens",
    "upsampler_class",
]


def upsample_tokens(
    tokens: torch.Tensor, size: GridSize, out_size: GridSize, mode: str = "nearest"
) -> torch.Tensor:
    """Upsample ``(B, h*w, D)`` tokens to the exact ``out_size`` of the finer level, following
    the pooling geometry: each axis that pooling halved is doubled, then the extra last
    row/column is cropped (7 -> 4 -> 8 -> 7), so every fine cell stays under its own parent.

    ``mode="nearest"`` copies each coarse cell to its own children (weight 1 on the parent);
    ``"bilinear"`` blends the 2-D neighbours at the 2x scale (at least 0.75 per axis on the
    parent). Interpolating straight to an odd ``out_size`` would stretch 4 cells over 7 and
    pull fine cells off their parents; on even sizes both give the same numbers.
    """
    if mode not in ("nearest", "bilinear"):
        raise ValueError(f"upsample mode {mode!r} is not supported; valid: ('nearest', 'bilinear')")
    axes = list(zip(size, out_size, strict=True))
    if any(n_out not in (n_in, 2 * n_in - 1, 2 * n_in) for n_in, n_out in axes):
        raise ValueError(
            f"cannot upsample a {size} grid to {out_size}: each axis of the finer level must "
            "pool to the coarser one (n_out = n_in, 2*n_in - 1 or 2*n_in)"
        )
    scale = [1 if n_in == n_out else 2 for n_in, n_out in axes]
    doubled = (size[0] * scale[0], size[1] * scale[1])

    def to_children(grid: torch.Tensor) -> torch.Tensor:
        if mode == "bilinear":
            grid = F.interpolate(grid, size=doubled, mode="bilinear", align_corners=False)
        else:
            for axis, factor in ((-2, scale[0]), (-1, scale[1])):
                grid = grid.repeat_interleave(factor, dim=axis)
        return grid[..., : out_size[0], : out_size[1]]

    return on_grid(to_children, tokens, size)


class Upsampler(nn.Module):
    """A top-down upsampler: ``(B, h*w, C)`` on the coarse grid -> ``(B, H*W, C')`` on the fine
    one (or, for :class:`NoUpsample`, unchanged).

    ``commutes_with_linear``: whether ``Linear(up(x)) == up(Linear(x))``. True for
    interpolation, whose weights for every fine cell sum to 1 (the bias passes through
    unchanged), so a Linear layer may run before it, on the 4x smaller coarse grid.
    ``learned``: whether it has parameters (a fusion that resamples by itself cannot use it).
    ``for_step`` builds it for one step of width ``width``.
    """

    commutes_with_linear: ClassVar[bool] = False
    learned: ClassVar[bool] = False

    @classmethod
    def for_step(cls, width: int, size: GridSize, out_size: GridSize, factor=(2, 2)) -> Upsampler:
        return cls(size, out_size)


class _Interpolation(Upsampler):
    """Fixed interpolation with :func:`upsample_tokens` (no parameters)."""

    commutes_with_linear = True
    mode: str

    def __init__(self, size: GridSize, out_size: GridSize) -> None:
        super().__init__()
        self.size, self.out_size = tuple(size), tuple(out_size)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return upsample_tokens(tokens, self.size, self.out_size, self.mode)

    def extra_repr(self) -> str:
        return f"{self.size} -> {self.out_size}"


class NearestUpsample(_Interpolation):
    """Every fine cell copies its parent."""

    mode = "nearest"


class BilinearUpsample(_Interpolation):
    """Every fine cell blends its parent and the parent's 2-D neighbours (the seed's linear
    interpolation, in 2-D)."""

    mode = "bilinear"


class NoUpsample(Upsampler):
    """Leaves the coarse level at its own size (attention fusion resamples it itself)."""

    commutes_with_linear = True

    @classmethod
    def for_step(cls, width, size, out_size, factor=(2, 2)) -> NoUpsample:
        return cls()

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return tokens


class TransposedConvUpsample(Upsampler):
    """``(B, h*w, C_in)`` on the coarse grid -> ``(B, H*W, C_out)`` on the fine ``out_size``."""

    learned = True

    @classmethod
    def for_step(cls, width, size, out_size, factor=(2, 2)) -> TransposedConvUpsample:
        return cls(width, width, size, out_size, factor)

    def __init__(
        self, in_dim: int, out_dim: int, size: GridSize, out_size: GridSize, factor=(2, 2)
    ) -> None:
        super().__init__()
        self.size, self.out_size = tuple(size), tuple(out_size)
        self.conv = nn.ConvTranspose2d(in_dim, out_dim, kernel_size=factor, stride=factor)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        h, w = self.out_size  # odd grids: drop the extra last row / column
        return on_grid(lambda grid: self.conv(grid)[..., :h, :w], tokens, self.size)


def make_upsampler(
    mode: str, width: int, size: GridSize, out_size: GridSize, factor=(2, 2)
) -> Upsampler:
    """The upsampler of one top-down step, from the coarse ``size`` to the fine ``out_size``:
    ``mode`` is one of :data:`UPSAMPLE_MODES`, or ``"none"`` (:class:`NoUpsample`)."""
    kind = NoUpsample if mode == "none" else upsampler_class(mode)
    return kind.for_step(width, size, out_size, factor)


UPSAMPLERS: dict[str, type[Upsampler]] = {
    "bilinear": BilinearUpsample,
    "nearest": NearestUpsample,
    "transposed_conv": TransposedConvUpsample,
}
UPSAMPLE_MODES = tuple(UPSAMPLERS)  # the valid fpn.upsample values


def upsampler_class(mode: str) -> type[Upsampler]:
    """The class of ``fpn.upsample`` ``mode``; a ValueError lists the valid ones."""
    return resolve(UPSAMPLERS, "upsample", mode)


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
