"""The geometry of a pyramid: how a pooling layout groups the patch grid, the grid size of
every level, and :class:`PyramidGeometry`, all of it computed once and handed to the parts.

A ViT turns an image into a grid of ``h x w`` patch tokens. Level 0 of the pyramid is that
grid; level ``l`` pools each 2x2 block of level ``l - 1`` (``pooling="2d"``), so one level-``l``
cell covers a ``2**l x 2**l`` square of patches. Odd sizes round up (``ceil``): a 7x7 grid
pools to 4x4. ``pooling="1d_seed"`` (the seed's flawed variant, for teaching) pools the
flattened sequence in pairs: its layout is one row ``(1, h * w)`` and its factor ``(1, 2)``.

    >>> geometry = PyramidGeometry((7, 7), num_levels=3)
    >>> geometry.level_sizes, geometry.num_cells, geometry.factor
    (((7, 7), (4, 4), (2, 2)), (49, 16, 4), (2, 2))
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..config import DEFAULT_POOLING, Pooling
from ..core.grid import GridSize
from ..core.registry import resolve

__all__ = [
    "POOLINGS",
    "POOLING_MODES",
    "PoolingLayout",
    "PyramidGeometry",
    "level_grid_sizes",
    "max_levels",
    "pooling_factor",
    "pooling_layout",
]


@dataclass(frozen=True)
class PoolingLayout:
    """How a ``model.pooling`` choice groups the patch grid: on the grid itself (2-D blocks),
    or, ``flat``, on the patches in reading order as one long row (the seed's 1-D pooling)."""

    flat: bool

    def kernel(self, factor: int = 2) -> tuple[int, int]:
        """The pooling window per axis of the layout: ``(f, f)``, or ``(1, f)`` when flat."""
        return (1, factor) if self.flat else (factor, factor)

    def layout(self, grid_size: GridSize) -> GridSize:
        """The (rows, cols) shape pooling works on: the grid, or ``(1, h * w)`` when flat."""
        h, w = grid_size
        return (1, h * w) if self.flat else (h, w)


POOLINGS = {"2d": PoolingLayout(flat=False), "1d_seed": PoolingLayout(flat=True)}
POOLING_MODES = tuple(POOLINGS)  # the valid model.pooling values


def pooling_layout(pooling: Pooling) -> PoolingLayout:
    """The :class:`PoolingLayout` of a ``model.pooling`` name (ValueError naming the choices)."""
    return resolve(POOLINGS, "pooling", pooling)


def pooling_factor(pooling: Pooling = DEFAULT_POOLING) -> tuple[int, int]:
    """How many cells of a level one cell of the next level covers, per axis of the
    pooling layout: ``(2, 2)`` for ``"2d"``, ``(1, 2)`` for ``"1d_seed"``."""
    return pooling_layout(pooling).kernel()


def max_levels(grid_size: GridSize, pooling: Pooling = DEFAULT_POOLING) -> int:
    """Number of levels until the pyramid reaches a single cell (8x8 -> 4: 8, 4, 2, 1)."""
    size = pooling_layout(pooling).layout(grid_size)
    return 1 + math.ceil(math.log2(max(size))) if max(size) > 1 else 1


def level_grid_sizes(
    grid_size: GridSize, num_levels: int, pooling: Pooling = DEFAULT_POOLING
) -> list[GridSize]:
    """Grid size of every level, finest first; raises ValueError if the grid is too small."""
    limit = max_levels(grid_size, pooling)
    if not 1 <= num_levels <= limit:
        raise ValueError(
            f"num_hierarchies={num_levels} does not fit the {grid_size[0]}x{grid_size[1]} patch "
            f"grid with pooling={pooling!r}: valid range is 1..{limit} "
            f"(pooling stops at a single cell)"
        )
    layout = pooling_layout(pooling)
    kh, kw = layout.kernel()
    sizes = [layout.layout(grid_size)]
    for _ in range(num_levels - 1):
        sizes.append((math.ceil(sizes[-1][0] / kh), math.ceil(sizes[-1][1] / kw)))
    return sizes


@dataclass(frozen=True)
class PyramidGeometry:
    """The shape of one pyramid, computed once from its patch grid, depth and pooling.

    Given: ``grid_size`` ``(h, w)`` (the patch grid), ``num_levels`` L, ``pooling``. Derived
    (ValueError if the grid is too small for L levels):

    - ``layout``: the :class:`PoolingLayout`; ``factor``: cells of level l per cell of level
      l + 1, per axis (``(2, 2)``, or ``(1, 2)`` for ``"1d_seed"``);
    - ``level_sizes``: ``(h_l, w_l)`` per level, finest first, on the layout;
    - ``num_cells``: ``h_l * w_l`` per level (``N_l``, the token count of level l);
    - ``cell_patches``: level-0 patches a level-l cell covers per axis, ``factor ** l``.
    """

    grid_size: GridSize
    num_levels: int
    pooling: Pooling = DEFAULT_POOLING
    layout: PoolingLayout = field(init=False)
    factor: tuple[int, int] = field(init=False)
    level_sizes: tuple[GridSize, ...] = field(init=False)
    num_cells: tuple[int, ...] = field(init=False)
    cell_patches: tuple[tuple[int, int], ...] = field(init=False)

    def __post_init__(self) -> None:
        sizes = level_grid_sizes(tuple(self.grid_size), self.num_levels, self.pooling)
        layout = pooling_layout(self.pooling)
        factor = layout.kernel()
        derived = {
            "grid_size": tuple(self.grid_size),
            "layout": layout,
            "factor": factor,
            "level_sizes": tuple(sizes),
            "num_cells": tuple(h * w for h, w in sizes),
            "cell_patches": tuple((factor[0] ** n, factor[1] ** n) for n in range(len(sizes))),
        }
        for name, value in derived.items():
            object.__setattr__(self, name, value)  # frozen: set once, here
