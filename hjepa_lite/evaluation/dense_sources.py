"""The feature sources of the dense probes (:mod:`hjepa_lite.evaluation.dense_probe`), ``SOURCES``,
each a map per level ``(n, h_l, w_l, D)``:

* ``targets``: :meth:`HJEPA.extract_features`, the target branch (with ``targets: pooled``
  the pooled EMA encoder tokens, for every config);
* ``fpn``: :meth:`HJEPA.online_levels`, the trained hierarchy head (the FPN) on the encoder's
  tokens of the whole image;
* ``encoder``: the EMA encoder's tokens, finest level only;
* ``hypercolumn``: the parameter-free pyramid of those tokens, every level resized (nearest)
  to the finest grid and concatenated, finest level only: what an FPN must beat to be worth
  its parameters;
* ``depths``: the EMA encoder's tokens after every block, each layer-normed, concatenated
  (``depth * D`` numbers a cell), finest level only: a CNN's FPN takes its fine laterals from
  shallow stages and DINOv2's dense probes read the last 4 layers, so this is the
  parameter-free bar for laterals from several depths;
* ``simple_pyramid``: ViTDet's simple feature pyramid without its learned layers: the last
  layer's tokens at the finest level and max-pooled by ``2**l`` at level ``l``;
* ``pixels``: each cell's pixels averaged to a 4 x 4 grid (48 numbers), every level.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from einops import rearrange
from torch.utils.data import DataLoader, Dataset

__all__ = ["FINEST_ONLY", "PIXEL_GRID", "SOURCES", "dense_features", "source_levels"]

SOURCES = ("targets", "fpn", "encoder", "hypercolumn", "depths", "simple_pyramid", "pixels")
FINEST_ONLY = ("encoder", "hypercolumn", "depths")  # sources with one level, the finest
PIXEL_GRID = 4  # the pixels source: each cell's pixels averaged to a 4 x 4 grid


def _grid(tokens: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``(B, h*w, D) -> (B, h, w, D)``."""
    return rearrange(tokens, "b (h w) d -> b h w d", h=size[0], w=size[1])


def source_levels(
    model, images: torch.Tensor, source: str, tokens: torch.Tensor | None = None
) -> list[torch.Tensor]:
    """The feature maps of one source for a batch: ``[(B, h_l, w_l, D)]``, finest first
    (one entry for the sources in ``FINEST_ONLY``). ``tokens``: the batch's
    :meth:`HJEPA.target_tokens` if already computed (several sources share them)."""
    if source not in SOURCES:
        raise ValueError(f"source={source!r} is not a dense source; valid choices: {SOURCES}")
    sizes = list(model.hierarchy.level_sizes)
    if source == "fpn":
        return [_grid(x, s) for x, s in zip(model.online_levels(images), sizes, strict=True)]
    if source == "pixels":
        return [
            rearrange(
                F.adaptive_avg_pool2d(images, (h * PIXEL_GRID, w * PIXEL_GRID)),
                "b c (h i) (w j) -> b h w (c i j)",
                i=PIXEL_GRID,
                j=PIXEL_GRID,
            )
            for h, w in sizes
        ]
    flat = model.target_tokens(images) if tokens is None else tokens  # (B, N, D), layer-normed
    if source == "targets":  # what extract_features(images, level) returns, every level
        return [_grid(x, s) for x, s in zip(model.target_pyramid(flat), sizes, strict=True)]
    if source == "encoder":
        return [_grid(flat, sizes[0])]
    if source == "depths":
        blocks = model.target_encoder.intermediates(images)  # [(B, N, D)] * depth
        normed = [F.layer_norm(x, x.shape[-1:]) for x in blocks]
        return [_grid(torch.cat(normed, -1), sizes[0])]
    if source == "simple_pyramid":
        maps = rearrange(flat, "b (h w) d -> b d h w", h=sizes[0][0])
        pooled = [F.max_pool2d(maps, 2**level, ceil_mode=True) for level in range(len(sizes))]
        return [rearrange(x, "b d h w -> b h w d") for x in pooled]
    # hypercolumn: the parameter-free pyramid, every level resized to the finest grid
    upsampled = [
        F.interpolate(rearrange(x, "b (h w) d -> b d h w", h=s[0]), size=sizes[0])
        for x, s in zip(model.hierarchy.pooled_levels(flat), sizes, strict=True)
    ]
    return [rearrange(torch.cat(upsampled, 1), "b d h w -> b h w d")]


@torch.no_grad()
def dense_features(
    model, dataset: Dataset, sources: Sequence[str] = SOURCES, batch_size: int = 128
) -> dict[str, list[torch.Tensor]]:
    """Every source's feature maps of a whole data set, ``{source: [(n, h_l, w_l, D)]}``
    float32, in one pass over the data (the encoder runs once per batch for all sources)."""
    model.eval()
    device = next(model.parameters()).device
    batches = {source: [] for source in sources}
    for images, _ in DataLoader(dataset, batch_size=batch_size, shuffle=False):
        images = images.to(device)
        tokens = model.target_tokens(images)
        for source in sources:
            levels = source_levels(model, images, source, tokens)
            batches[source].append([x.float().cpu() for x in levels])
    return {
        source: [torch.cat(level) for level in zip(*maps, strict=True)]
        for source, maps in batches.items()
    }
