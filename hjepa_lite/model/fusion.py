"""FPN fusion: how a level's lateral tokens meet what comes down from the coarser level.

* ``add``: ``lateral + top_down`` (the seed's default; no parameters).
* ``concat``: ``Linear([lateral, top_down])`` back to the level's width.
* ``attention`` (one of the seed's "Future Enhancements"): every fine token *queries* the
  coarse level's tokens with cross-attention, so it chooses which coarse cells to take
  context from instead of receiving its interpolated neighbourhood. Queries and keys carry
  fixed 2-D sin-cos positions of the cells' centres in one shared frame (level-0 patch
  units, :func:`~hjepa_lite.core.grid.cell_centre_sincos`), so a fine cell can find the coarse
  cells around it. It needs no upsampling: the attention itself resamples the coarse level
  to the fine grid.

``add`` and ``concat`` take the coarse level already upsampled to the fine grid,
``(B, N_fine, F)``; ``attention`` takes it at its own size, ``(B, N_coarse, F)``: its class
says so (``Fusion.resamples``). ``FUSIONS`` maps each ``fpn.fusion_method`` to its class; a new
fusion is one class and one entry there (and in ``config.FusionMethod``).
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from ..core.grid import GridSize, cell_centre_sincos
from ..core.registry import resolve

__all__ = [
    "FUSIONS",
    "FUSION_METHODS",
    "AddFusion",
    "ConcatFusion",
    "CrossAttentionFusion",
    "Fusion",
    "fusion_class",
    "make_fusion",
]


class Fusion(nn.Module):
    """A fusion: ``forward(lateral, top_down) -> (B, N_fine, F)``, one class per
    ``fpn.fusion_method`` choice (:data:`FUSIONS`).

    ``resamples``: True if it takes the coarse level at its own grid and resamples it itself
    (then the top-down step does not upsample). ``for_step`` builds it for one step."""

    resamples: ClassVar[bool] = False

    @classmethod
    def for_step(
        cls,
        feature_dim: int,
        num_heads: int,
        sizes: tuple[GridSize, GridSize],
        cells: tuple[tuple[int, int], tuple[int, int]],
    ) -> Fusion:
        """The fusion of a step of width ``feature_dim`` between the ``(fine, coarse)`` grid
        ``sizes`` (``cells``: level-0 patches per cell of each); most fusions need the width
        at most."""
        return cls()


class AddFusion(Fusion):
    """``lateral + top_down`` (no parameters)."""

    def forward(self, lateral: torch.Tensor, top_down: torch.Tensor) -> torch.Tensor:
        return lateral + top_down


class ConcatFusion(Fusion):
    """``Linear([lateral, top_down])``: (B, N, 2F) -> (B, N, F)."""

    def __init__(self, feature_dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(2 * feature_dim, feature_dim)

    @classmethod
    def for_step(cls, feature_dim, num_heads, sizes, cells) -> ConcatFusion:
        return cls(feature_dim)

    def forward(self, lateral: torch.Tensor, top_down: torch.Tensor) -> torch.Tensor:
        return self.proj(torch.cat([lateral, top_down], dim=-1))


class CrossAttentionFusion(Fusion):
    """``lateral + Attention(q = lateral + pos_fine, k = coarse + pos_coarse, v = coarse)``.

    Args:
        feature_dim: width F of both inputs (divisible by 4 and by ``num_heads``).
        num_heads: attention heads.
        fine_size / coarse_size: grid sizes of the two levels.
        fine_cell / coarse_cell: how many level-0 patches one cell spans, per axis.

    Shapes: ``forward((B, N_fine, F), (B, N_coarse, F)) -> (B, N_fine, F)``. With a single
    coarse token the softmax is 1, and every fine cell receives the same vector
    ``out_proj(v_proj(coarse))``: a broadcast, as ``add`` would give after upsampling.
    """

    resamples = True

    def __init__(
        self,
        feature_dim: int,
        num_heads: int,
        fine_size: GridSize,
        coarse_size: GridSize,
        fine_cell: tuple[int, int],
        coarse_cell: tuple[int, int],
    ) -> None:
        super().__init__()
        if feature_dim % num_heads:
            raise ValueError(
                f"attention fusion: feature_dim={feature_dim} is not divisible by "
                f"attention_heads={num_heads}"
            )
        self.attn = nn.MultiheadAttention(feature_dim, num_heads, batch_first=True)
        pos = {
            "pos_fine": cell_centre_sincos(fine_size, fine_cell, feature_dim),
            "pos_coarse": cell_centre_sincos(coarse_size, coarse_cell, feature_dim),
        }
        for name, table in pos.items():
            self.register_buffer(name, table.unsqueeze(0), persistent=False)

    @classmethod
    def for_step(cls, feature_dim, num_heads, sizes, cells) -> CrossAttentionFusion:
        return cls(feature_dim, num_heads, *sizes, *cells)

    def forward(self, lateral: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
        query, key = lateral + self.pos_fine, coarse + self.pos_coarse
        context, _ = self.attn(query, key, coarse, need_weights=False)
        return lateral + context


FUSIONS: dict[str, type[Fusion]] = {
    "add": AddFusion,
    "concat": ConcatFusion,
    "attention": CrossAttentionFusion,
}
FUSION_METHODS = tuple(FUSIONS)  # the valid fpn.fusion_method values


def fusion_class(method: str) -> type[Fusion]:
    """The class of ``fpn.fusion_method`` ``method``; a ValueError lists the valid ones."""
    return resolve(FUSIONS, "fusion_method", method)


def make_fusion(
    method: str,
    feature_dim: int,
    num_heads: int = 1,
    sizes: tuple[GridSize, GridSize] | None = None,
    cells: tuple[tuple[int, int], tuple[int, int]] | None = None,
) -> Fusion:
    """The fusion module of one top-down step. ``num_heads``, the ``(fine, coarse)`` grid
    ``sizes`` and the ``(fine, coarse)`` patches per cell ``cells`` are for attention only."""
    return fusion_class(method).for_step(feature_dim, num_heads, sizes, cells)
