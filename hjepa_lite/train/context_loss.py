"""A loss on the visible cells too: V-JEPA 2.1's dense predictive loss, per pyramid level.

I-JEPA computes its loss on hidden cells only, so nothing asks the context encoder (or the
hierarchy head on top of it) to keep what each *visible* token holds: only what helps guess
the hidden ones. V-JEPA 2.1 (Mur-Labadia et al. 2026) adds a term on the context tokens,
comparing them with the EMA teacher's tokens of the same places (which saw the whole image),
weighted by ``lambda / sqrt(d)``, ``d`` the distance to the nearest hidden patch: a visible
cell next to the mask must carry what its full-image view carries, a far one less so.

Here the online hierarchy already computes every level on the whole grid (context tokens at
visible cells, predictions at hidden ones), so the term reads the same ``predictions`` and
``targets`` as :func:`~hjepa_lite.train.loss.hierarchical_loss`, on the cells of each level that lie
wholly in the visible region::

    loss_ctx = sum_l w_l * sum_i c_i * err_i / n_l     (i: wholly visible cells of level l)

with ``c_i`` the mean of ``1 / sqrt(d)`` over the cell's patches and ``n_l`` the number of
such cells. Its gradient reaches the FPN's lateral and top-down paths at the visible cells:
the grid the dense probes read (:meth:`~hjepa_lite.model.hjepa.HJEPA.online_levels`).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import torch

from ..core.grid import GridSize
from ..model.geometry import PyramidGeometry
from ..model.pyramid import mask_levels, pool_levels
from .loss import regression_error

__all__ = ["context_loss", "context_weights", "distance_to_hidden"]


@lru_cache(maxsize=8)
def _patch_distances(grid_size: GridSize) -> torch.Tensor:
    """``(N, N)``: the Euclidean distance, in patches, between every two patches of a grid."""
    rows, cols = torch.meshgrid(
        torch.arange(grid_size[0]), torch.arange(grid_size[1]), indexing="ij"
    )
    points = torch.stack([rows.flatten(), cols.flatten()], dim=1).float()
    return torch.cdist(points, points)


def distance_to_hidden(mask: torch.Tensor, grid_size: GridSize) -> torch.Tensor:
    """``(B, N)`` bool mask (True = hidden) -> ``(B, N)``: each patch's Euclidean distance,
    in patches, to the nearest hidden patch (0 for a hidden patch)."""
    between = _patch_distances(tuple(grid_size)).to(mask.device)
    far = torch.finfo(between.dtype).max
    to_hidden = between.unsqueeze(0).masked_fill(~mask.unsqueeze(1), far)  # (B, N, N)
    return to_hidden.amin(dim=2)


def context_weights(mask: torch.Tensor, geometry: PyramidGeometry) -> list[torch.Tensor]:
    """Per-level weights ``[(B, N_l)]`` of the visible cells: the mean of ``1 / sqrt(d)``
    over a cell's patches if every one is visible, else 0."""
    distance = distance_to_hidden(mask, geometry.grid_size)
    per_patch = torch.where(mask, 0.0, distance.clamp_min(1.0).rsqrt())
    levels = pool_levels(per_patch.unsqueeze(-1), geometry)
    visible = mask_levels(~mask, geometry)
    return [level.squeeze(-1) * cells for level, cells in zip(levels, visible, strict=True)]


def context_loss(
    outputs: dict,
    mask: torch.Tensor,
    geometry: PyramidGeometry,
    weights: Sequence[float],
    loss_type: str = "smooth_l1",
) -> torch.Tensor:
    """``outputs`` of :meth:`HJEPA.forward`, its ``(B, N)`` mask and the pyramid's geometry
    (``model.hierarchy.geometry``) -> the weighted error of the online levels against the
    targets on the visible cells (a scalar; 0, in the graph, if no level has a visible cell)."""
    error = regression_error(loss_type)
    predictions, targets = outputs["predictions"], outputs["targets"]
    cells = context_weights(mask.bool(), geometry)
    total = predictions[0].sum() * 0.0
    for weight, pred, target, cell in zip(weights, predictions, targets, cells, strict=True):
        visible = cell > 0
        if visible.any():
            err = error(pred, target.detach(), reduction="none").mean(dim=-1)  # (B, N_l)
            total = total + weight * (cell * err)[visible].sum() / visible.sum()
    return total
