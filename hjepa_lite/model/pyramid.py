"""The pooling hierarchy: a multi-scale pyramid of patch tokens built by 2x2 average pooling.

A ViT turns an image into a grid of ``h x w`` patch tokens, stored row-major as ``(B, N, D)``
with ``N = h * w``. Level 0 of the pyramid is that grid; level ``l`` pools each 2x2 block of
level ``l - 1``, so one level-``l`` cell covers a ``2**l x 2**l`` square of patches and holds
their mean.

Odd sizes round up (``ceil``): a 7x7 grid pools to 4x4, and the cells on the last row and
column average the 1x2, 2x1 or 1x1 patches that exist there. No patch is ever dropped, and
every cell is the exact mean of the patches it covers (each level is pooled from level 0
with a ``2**l`` window; on even grids that equals pooling level ``l - 1`` again, on odd grids
it weights the partial edge cells by their area).

``pooling="1d_seed"`` reproduces the seed's flawed variant for teaching: it pools the
*flattened* sequence in pairs, as if the image were one long row of N tokens (its level sizes
are ``(1, n)``), so groups join the end of one image row to the start of the next.

The level sizes and the pooling layouts (the pyramid's geometry) are in
:mod:`hjepa_lite.model.geometry`. The way back down (upsampling a level to the exact size of the
finer one) is in :mod:`hjepa_lite.model.resample`; ``upsample_tokens`` is importable from here too.

    >>> tokens = torch.randn(2, 7 * 7, 16)
    >>> levels, sizes = build_pyramid(tokens, (7, 7), num_levels=3)
    >>> [tuple(t.shape) for t in levels], sizes
    ([(2, 49, 16), (2, 16, 16), (2, 4, 16)], [(7, 7), (4, 4), (2, 2)])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange

from ..config import DEFAULT_POOLING, Pooling
from ..core.grid import GridSize, on_grid
from .geometry import PyramidGeometry, pooling_layout
from .resample import upsample_tokens  # re-exported: public API of this module too

__all__ = [
    "build_pyramid",
    "mask_levels",
    "pool_levels",
    "pool_mask",
    "pool_tokens",
    "pooling_groups",
    "target_mask_pyramid",
    "top_down_sum",
    "upsample_tokens",
]


def _kernel(pooling: Pooling, factor: int = 2) -> tuple[int, int]:
    return pooling_layout(pooling).kernel(factor)


def pool_tokens(
    tokens: torch.Tensor, size: GridSize, pooling: Pooling = DEFAULT_POOLING, factor: int = 2
) -> torch.Tensor:
    """Average ``factor x factor`` blocks: ``(B, h*w, D)`` on a ``size`` grid -> ``(B, h'*w', D)``
    with ``h' = ceil(h / factor)``; edge cells average only the patches that exist."""
    kernel = _kernel(pooling, factor)
    return on_grid(lambda grid: F.avg_pool2d(grid, kernel, ceil_mode=True), tokens, size)


def pool_levels(tokens: torch.Tensor, geometry: PyramidGeometry) -> list[torch.Tensor]:
    """Pool ``(B, N, D)`` patch tokens into ``geometry``'s levels ``[(B, N_l, D)]``, finest
    first; level 0 is ``tokens`` itself."""
    finest = geometry.level_sizes[0]
    if tokens.shape[1] != geometry.num_cells[0]:
        h, w = geometry.grid_size
        raise ValueError(
            f"tokens have {tokens.shape[1]} positions but the grid {geometry.grid_size} has {h * w}"
        )
    coarser = range(1, geometry.num_levels)
    pooling = geometry.pooling
    return [tokens] + [pool_tokens(tokens, finest, pooling, factor=2**level) for level in coarser]


def build_pyramid(
    tokens: torch.Tensor, grid_size: GridSize, num_levels: int, pooling: Pooling = DEFAULT_POOLING
) -> tuple[list[torch.Tensor], list[GridSize]]:
    """Pool ``(B, N, D)`` patch tokens into ``num_levels`` levels.

    Returns the per-level tokens ``[(B, N_0, D), (B, N_1, D), ...]`` (finest first) and
    their grid sizes. Level 0 is ``tokens`` itself. (A part that holds its
    :class:`PyramidGeometry` calls :func:`pool_levels`.)
    """
    geometry = PyramidGeometry(grid_size, num_levels, pooling)
    return pool_levels(tokens, geometry), list(geometry.level_sizes)


def top_down_sum(levels: list[torch.Tensor], sizes: list[GridSize]) -> list[torch.Tensor]:
    """The parameter-free top-down pathway: an FPN whose laterals are identities, whose
    upsampling is bilinear and whose fusion is add. The coarsest level is kept; every finer one
    becomes its own tokens plus the upsampled result of the level above it, so level 0 sums
    every level of the pyramid at the finest grid: ``[(B, N_l, D)] -> [(B, N_l, D)]``."""
    out = [levels[-1]]
    for level in reversed(range(len(levels) - 1)):
        coarse = upsample_tokens(out[0], sizes[level + 1], sizes[level], mode="bilinear")
        out.insert(0, levels[level] + coarse)
    return out


def pool_mask(
    mask: torch.Tensor, size: GridSize, pooling: Pooling = DEFAULT_POOLING
) -> torch.Tensor:
    """One step for a boolean ``(B, h*w)`` mask: a pooled cell is True only if *all* of the
    cells it covers are True."""
    h, w = size
    outside = rearrange(~mask, "b (h w) -> b 1 h w", h=h, w=w).float()
    any_outside = F.max_pool2d(outside, _kernel(pooling), ceil_mode=True)
    return rearrange(any_outside == 0, "b 1 h w -> b (h w)")


def mask_levels(mask: torch.Tensor, geometry: PyramidGeometry) -> list[torch.Tensor]:
    """Per-level masks ``[(B, N_l)]`` of a ``(B, N)`` boolean mask on ``geometry``'s grid: a
    level-l cell is True only if every patch it covers is True."""
    masks = [mask]
    for size in geometry.level_sizes[:-1]:
        masks.append(pool_mask(masks[-1], size, geometry.pooling))
    return masks


def target_mask_pyramid(
    target_mask: torch.Tensor,
    grid_size: GridSize,
    num_levels: int,
    pooling: Pooling = DEFAULT_POOLING,
) -> list[torch.Tensor]:
    """Per-level target masks ``[(B, N_l)]``: a level-l cell counts in the loss only if the
    whole area it covers is a target at level 0 (:func:`mask_levels` on a new geometry)."""
    return mask_levels(target_mask, PyramidGeometry(grid_size, num_levels, pooling))


def pooling_groups(
    grid_size: GridSize, num_levels: int, pooling: Pooling = DEFAULT_POOLING
) -> list[torch.Tensor]:
    """Which level-l cell each patch belongs to, as ``(h, w)`` long maps on the patch grid.

    Computed from the definition (cell of patch (i, j) is (i >> l, j >> l) in 2-D, and
    ``n >> l`` of the flattened index ``n`` in the seed's 1-D pooling), independently of
    :func:`pool_tokens`, so tests and pictures can check one against the other.
    """
    sizes = PyramidGeometry(grid_size, num_levels, pooling).level_sizes
    h, w = grid_size
    rows = torch.arange(h).view(h, 1)
    cols = torch.arange(w).view(1, w)
    flat = rows * w + cols
    groups = []
    for level, (_, level_w) in enumerate(sizes):
        if pooling_layout(pooling).flat:
            groups.append(flat >> level)
        else:
            groups.append((rows >> level) * level_w + (cols >> level))
    return groups
