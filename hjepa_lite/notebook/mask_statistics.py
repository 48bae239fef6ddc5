"""How many cells of each pyramid level the loss can use under I-JEPA's multi-block masks:
the computation behind notebook 05's mask explorer (:mod:`hjepa_lite.notebook.mask_explorer` draws
it).

A level-``l`` cell enters the loss only if the whole ``2**l x 2**l`` square of patches it
covers is a target (:func:`hjepa_lite.model.pyramid.target_mask_pyramid`). Pure functions returning
tensors: :func:`make_sampler` (the library's :class:`~hjepa_lite.core.masks.MultiBlockMaskSampler`),
:func:`level_maps` (context, target and valid-cell maps per level), :func:`mask_statistics`
(a few hundred seeded draws) and :func:`effective_weights` (what a weighting of the levels
becomes in the loss).

    >>> stats = mask_statistics(make_sampler(8), draws=64, batch=32)
    >>> stats["image_any"].shape, stats["cells"].shape
    (torch.Size([3]), torch.Size([64, 3]))
"""

from __future__ import annotations

import torch

from ..core.masks import MaskBatch, MultiBlockMaskSampler
from ..model.geometry import PyramidGeometry
from ..model.pyramid import pool_tokens, target_mask_pyramid

__all__ = ["LEVEL_WEIGHTINGS", "effective_weights", "level_maps", "make_sampler", "mask_statistics"]

# The loss's level weights compared in the explorer: the default 0.5**l and the seed's advice
# for an FPN (weight the coarser levels more).
LEVEL_WEIGHTINGS = {
    "default": (1.0, 0.5, 0.25),  # 0.5**l
    "seed's FPN advice": (1.0, 0.7, 0.5),
}


def make_sampler(
    grid: int,
    num_targets: int = 4,
    target_scale: tuple[float, float] = (0.15, 0.2),
    target_aspect: tuple[float, float] = (0.75, 1.5),
) -> MultiBlockMaskSampler:
    """The library's sampler on a ``grid x grid`` patch grid, context settings left at
    I-JEPA's defaults (raises the sampler's ValueError for settings it refuses)."""
    return MultiBlockMaskSampler(
        (grid, grid),
        num_targets=num_targets,
        target_scale=tuple(target_scale),
        target_aspect=tuple(target_aspect),
    )


def level_maps(masks: MaskBatch, num_levels: int = 3) -> dict[str, list[torch.Tensor]]:
    """Per-level maps of a batch of ``B`` masks, each a list over levels of ``(B, h_l, w_l)``:

    - ``"context"``: float, the share of the cell's patches the context encoder sees;
    - ``"target"``: float, the share of the cell's patches inside a target block;
    - ``"valid"``: bool, the cell is wholly inside the targets (``target_mask_pyramid``): the
      only cells of that level the loss uses.

    The shares pool the level-0 masks like the pyramid pools tokens (``pool_tokens``).
    """
    grid = masks.grid_size
    sizes = PyramidGeometry(grid, num_levels).level_sizes
    valid = target_mask_pyramid(masks.target_mask, grid, num_levels)
    out: dict[str, list[torch.Tensor]] = {"context": [], "target": [], "valid": []}
    batch = masks.mask.shape[0]
    for level, size in enumerate(sizes):
        for name, mask in (("context", ~masks.mask), ("target", masks.target_mask)):
            pooled = pool_tokens(mask.float()[..., None], grid, factor=2**level)
            out[name].append(pooled.view(batch, *size))
        out["valid"].append(valid[level].view(batch, *size))
    return out


def mask_statistics(
    sampler: MultiBlockMaskSampler,
    num_levels: int = 3,
    draws: int = 512,
    batch: int = 32,
    seed: int = 0,
) -> dict[str, torch.Tensor]:
    """Draw ``draws`` masks (``draws // batch`` batches of ``batch``, as training draws them,
    from ``torch.Generator().manual_seed(seed)``) and count each level's valid cells.

    Returns (``L = num_levels``, ``D = draws // batch * batch``):

    - ``"cells"``: ``(D, L)`` long, valid cells of each draw per level;
    - ``"image_any"``: ``(L,)`` float in [0, 1], share of the draws (images) with at least one
      valid cell at that level;
    - ``"batch_any"``: ``(L,)`` float in [0, 1], share of the batches with at least one: a
      batch without one skips that level's loss term (its loss is NaN, its weight unused);
    - ``"mean_cells"``: ``(L,)`` float, mean valid cells per image;
    - ``"level_cells"``: ``(L,)`` long, the number of cells of each level;
    - ``"first"``: the first batch's :class:`~hjepa_lite.core.masks.MaskBatch` (for pictures),
      under the key ``"first"`` (not a tensor).
    """
    if draws < batch or batch < 1:
        raise ValueError(f"draws={draws} must be at least batch={batch} >= 1")
    geometry = PyramidGeometry(sampler.grid_size, num_levels)
    generator = torch.Generator().manual_seed(seed)
    counts, first = [], None
    for _ in range(draws // batch):
        masks = sampler(batch, generator=generator)
        first = masks if first is None else first
        valid = target_mask_pyramid(masks.target_mask, sampler.grid_size, num_levels)
        counts.append(torch.stack([v.sum(1) for v in valid], dim=1))  # (batch, L)
    cells = torch.cat(counts)
    per_batch = torch.stack([c.sum(0) for c in counts])  # (batches, L)
    return {
        "cells": cells,
        "image_any": (cells > 0).float().mean(0),
        "batch_any": (per_batch > 0).float().mean(0),
        "mean_cells": cells.float().mean(0),
        "level_cells": torch.tensor(geometry.num_cells),
        "first": first,
    }


def effective_weights(
    stats: dict, weights: tuple[float, ...], batch: int = 32
) -> dict[str, torch.Tensor]:
    """What level weights ``w_l`` become in the loss, ``(L,)`` float each.

    The loss is ``sum_l w_l * loss_l`` with ``loss_l`` the mean error over the batch's valid
    level-``l`` cells (:func:`hjepa_lite.train.loss.hierarchical_loss`), and a level without a valid
    cell in the batch adds nothing. So:

    - ``"per_step"``: ``w_l * batch_any_l``, the weight level ``l`` gets in an average step;
    - ``"share"``: ``per_step`` as a share of its sum (what the levels split between them);
    - ``"per_image"``: ``w_l * image_any_l``: only images with a valid cell at level ``l``
      receive that level's gradient;
    - ``"per_cell"``: ``w_l / (batch * mean_cells_l)``, about what one valid cell weighs
      (the level's weight shared by its cells in a batch), relative to a level-0 cell; ``inf``
      when the level never has a cell. Large = a few cells carry the level: a noisy term.
    """
    w = torch.tensor(weights, dtype=torch.float32)
    if w.shape != stats["image_any"].shape:
        raise ValueError(f"{len(weights)} weights for {len(stats['image_any'])} levels")
    per_step = w * stats["batch_any"]
    per_cell = w / (batch * stats["mean_cells"])
    return {
        "per_step": per_step,
        "share": per_step / per_step.sum().clamp_min(1e-12),
        "per_image": w * stats["image_any"],
        "per_cell": per_cell / per_cell[0],
    }
