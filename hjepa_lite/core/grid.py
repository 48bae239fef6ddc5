"""Tokens on a patch grid: the small helpers every other module shares.

A ViT stores an ``h x w`` grid of patch tokens row-major as ``(B, N, D)`` with ``N = h * w``.

* :data:`GridSize` is ``(h, w)``;
* :func:`on_grid` runs a 2-D op (pooling, interpolation, a convolution) on such tokens;
* :func:`gather_tokens` picks tokens by position (I-JEPA drops masked tokens this way);
* two fixed 2-D sin-cos position tables: :func:`sincos_pos_embed` for the patches of one grid
  (integer positions, timm's table), :func:`cell_centre_sincos` for the cells of any pyramid
  level, placed at their centres in level-0 patch units so that levels share one frame.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from einops import rearrange
from timm.layers import build_sincos2d_pos_embed

__all__ = ["GridSize", "cell_centre_sincos", "gather_tokens", "on_grid", "sincos_pos_embed"]

GridSize = tuple[int, int]


def on_grid(fn: Callable[[torch.Tensor], torch.Tensor], tokens: torch.Tensor, size: GridSize):
    """Apply a 2-D op to tokens: ``(B, h*w, C)`` on a ``size`` grid -> ``fn((B, C, h, w))``
    -> back to tokens ``(B, h'*w', C')`` of whatever grid ``fn`` returns."""
    grid = fn(rearrange(tokens, "b (h w) c -> b c h w", h=size[0], w=size[1]))
    return rearrange(grid, "b c h w -> b (h w) c")


def gather_tokens(tokens: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Select tokens by position: ``(B, N, D)``, ``(B, K)`` long -> ``(B, K, D)``."""
    return torch.gather(tokens, 1, index.unsqueeze(-1).expand(-1, -1, tokens.shape[-1]))


def sincos_pos_embed(grid_size: GridSize, dim: int) -> torch.Tensor:
    """Fixed 2-D sin-cos position table, ``(1, h*w, dim)``, row-major like the tokens."""
    return build_sincos2d_pos_embed(list(grid_size), dim=dim).unsqueeze(0)


def cell_centre_sincos(size: GridSize, cell: tuple[int, int], dim: int) -> torch.Tensor:
    """Fixed 2-D sin-cos codes of the centres of a ``size`` grid whose cells span ``cell``
    level-0 patches (``(2**l, 2**l)`` at level ``l``): ``(h*w, dim)``, ``dim % 4 == 0``.

    Centres are in level-0 patch units, so codes of different levels share one frame
    (timm's table assumes integer positions on one grid, which is not enough here).
    """
    if dim % 4:
        raise ValueError(f"sin-cos positions need a width divisible by 4; got {dim}")
    rows = (torch.arange(size[0], dtype=torch.float64) + 0.5) * cell[0]
    cols = (torch.arange(size[1], dtype=torch.float64) + 0.5) * cell[1]
    y, x = torch.meshgrid(rows, cols, indexing="ij")
    omega = 1.0 / 10000 ** (torch.arange(dim // 4, dtype=torch.float64) / (dim // 4))
    angles = [rearrange(axis, "h w -> (h w) 1") * omega for axis in (y, x)]
    return torch.cat([f(a) for a in angles for f in (torch.sin, torch.cos)], dim=1).float()
