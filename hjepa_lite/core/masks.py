"""I-JEPA multi-block masks on the 2-D patch grid.

I-JEPA (Assran et al. 2023) hides several *large* rectangular target blocks (4 blocks of
15-20 % of the image each): big enough that predicting them needs semantics, not just
copying texture from a neighbour. The context is one big block (85-100 % of the image) with
the target blocks cut out, so the context never contains the answer. The model sees the
context and predicts the target blocks' features.

Token index = ``row * w + col`` (row-major, like the patch tokens). Everything is sampled
with batched tensor ops; retries are bounded (the official sampler can loop forever on an
8x8 grid with ``min_keep=10``).

    >>> sampler = MultiBlockMaskSampler((8, 8))
    >>> masks = sampler(16, generator=torch.Generator().manual_seed(0))
    >>> masks.mask.shape, masks.target_blocks.shape
    (torch.Size([16, 64]), torch.Size([16, 4, 64]))
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from einops import rearrange

__all__ = ["MaskBatch", "MultiBlockMaskSampler"]


@dataclass(frozen=True)
class MaskBatch:
    """One batch of masks. ``B`` samples, ``N = h * w`` tokens, ``T`` target blocks.

    Attributes:
        mask: ``(B, N)`` bool, True = hidden from the context encoder (the seed's 1).
            Every sample hides the same number of tokens.
        target_mask: ``(B, N)`` bool, True = in a target block: the cells the loss uses.
            A subset of ``mask``.
        target_blocks: ``(B, T, N)`` bool, each target block separately (for pictures).
        grid_size: ``(h, w)``.
    """

    mask: torch.Tensor
    target_mask: torch.Tensor
    target_blocks: torch.Tensor
    grid_size: tuple[int, int]

    @property
    def num_context(self) -> int:
        return int((~self.mask[0]).sum())

    @property
    def context_idx(self) -> torch.Tensor:
        """``(B, N_ctx)`` sorted indices of the visible tokens."""
        order = torch.argsort(self.mask.to(torch.uint8), dim=1, stable=True)
        return order[:, : self.num_context]


def _check_range(name: str, value: tuple[float, float], low: float, high: float) -> None:
    if len(value) != 2 or not (low < value[0] <= value[1] <= high):
        raise ValueError(
            f"{name}={tuple(value)} must be an ordered (min, max) pair in ({low}, {high}]"
        )


class MultiBlockMaskSampler:
    """Sample I-JEPA masks: ``sampler(batch_size, generator) -> MaskBatch``.

    Args:
        grid_size: ``(h, w)`` patch grid (or one int for a square grid).
        num_targets: target blocks per sample.
        target_scale / context_scale: (min, max) block area as a fraction of the grid.
        target_aspect / context_aspect: (min, max) aspect ratio height / width (uniform).
        min_context: fewest context cells a sample may keep; default ``max(1, round(0.1 N))``.
        max_tries: resampling rounds for samples whose context is too small, before a
            ValueError.
    """

    def __init__(
        self,
        grid_size: tuple[int, int] | int,
        num_targets: int = 4,
        target_scale: tuple[float, float] = (0.15, 0.2),
        target_aspect: tuple[float, float] = (0.75, 1.5),
        context_scale: tuple[float, float] = (0.85, 1.0),
        context_aspect: tuple[float, float] = (1.0, 1.0),
        min_context: int | None = None,
        max_tries: int = 20,
    ) -> None:
        if isinstance(grid_size, int):
            grid_size = (grid_size, grid_size)
        if len(grid_size) != 2 or min(grid_size) < 1:
            raise ValueError(f"grid_size={grid_size} must be (h, w) with h, w >= 1")
        if num_targets < 1:
            raise ValueError(f"num_targets={num_targets} must be >= 1")
        _check_range("target_scale", target_scale, 0.0, 1.0)
        _check_range("context_scale", context_scale, 0.0, 1.0)
        _check_range("target_aspect", target_aspect, 0.0, math.inf)
        _check_range("context_aspect", context_aspect, 0.0, math.inf)
        num_tokens = grid_size[0] * grid_size[1]
        if min_context is None:
            min_context = max(1, round(0.1 * num_tokens))
        if not 1 <= min_context < num_tokens:
            raise ValueError(f"min_context={min_context} must be in 1..{num_tokens - 1}")
        if max_tries < 1:
            raise ValueError(f"max_tries={max_tries} must be >= 1")
        self.grid_size = tuple(grid_size)
        self.num_targets = num_targets
        self.target_scale, self.target_aspect = target_scale, target_aspect
        self.context_scale, self.context_aspect = context_scale, context_aspect
        self.min_context = min_context
        self.max_tries = max_tries

    def draw_blocks(
        self, shape: tuple[int, ...], scale, aspect, generator: torch.Generator | None
    ) -> torch.Tensor:
        """Random filled rectangles: ``shape + (h, w)`` bool (public: notebook 05 builds the
        sampler from its pieces and checks them against these)."""
        h, w = self.grid_size

        def uniform(low: float, high: float) -> torch.Tensor:
            return low + (high - low) * torch.rand(shape, generator=generator)

        area = uniform(*scale) * (h * w)
        ratio = uniform(*aspect)
        height = torch.sqrt(area * ratio).round().clamp(1, h)
        width = torch.sqrt(area / ratio).round().clamp(1, w)
        top = (uniform(0.0, 1.0) * (h - height + 1)).floor()
        left = (uniform(0.0, 1.0) * (w - width + 1)).floor()
        rows = torch.arange(h).view(h, 1)
        cols = torch.arange(w).view(1, w)

        def inside(coord, start, size):
            start, size = start[..., None, None], size[..., None, None]
            return (coord >= start) & (coord < start + size)

        return inside(rows, top, height) & inside(cols, left, width)

    def draw_targets_and_context(self, batch: int, generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Target blocks ``(B, T, N)`` and context ``(B, N)`` (block minus targets), before
        the minimum-context and equal-count rules of ``__call__``."""
        targets = self.draw_blocks(
            (batch, self.num_targets), self.target_scale, self.target_aspect, generator
        )
        context = self.draw_blocks((batch,), self.context_scale, self.context_aspect, generator)
        targets = rearrange(targets, "b t h w -> b t (h w)")
        context = rearrange(context, "b h w -> b (h w)") & ~targets.any(1)
        return targets, context

    def _redraw_below(self, targets, context, floor: int, generator) -> torch.Tensor:
        """Redraw (at most ``max_tries`` times) the samples with fewer than ``floor`` context
        cells, keeping a redraw only if it has ``min_context`` cells or more (else the sample
        stays as it was); returns the mask of samples still below ``floor``."""
        for _ in range(self.max_tries):
            short = (context.sum(1) < floor).nonzero().squeeze(1)
            if not len(short):
                break
            new_targets, new_context = self.draw_targets_and_context(len(short), generator)
            kept = new_context.sum(1) >= self.min_context
            targets[short[kept]], context[short[kept]] = new_targets[kept], new_context[kept]
        return context.sum(1) < floor

    def __call__(self, batch_size: int, generator: torch.Generator | None = None) -> MaskBatch:
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size} must be >= 1")
        targets, context = self.draw_targets_and_context(batch_size, generator)
        if self._redraw_below(targets, context, self.min_context, generator).any():
            raise ValueError(
                f"could not keep min_context={self.min_context} context cells on the "
                f"{self.grid_size[0]}x{self.grid_size[1]} grid in {self.max_tries} tries "
                f"(target_scale={self.target_scale}, num_targets={self.num_targets}, "
                f"context_scale={self.context_scale}): lower min_context or "
                "num_targets/target_scale, or raise context_scale"
            )
        # All samples keep the batch minimum of context cells. So that one unlucky sample does
        # not shrink everyone's context, samples below 3/4 of the median are redrawn first.
        floor = max(self.min_context, int(0.75 * context.sum(1).float().median()))
        self._redraw_below(targets, context, floor, generator)
        context = self.equalise(context, generator)
        return MaskBatch(
            mask=~context,
            target_mask=targets.any(1),
            target_blocks=targets,
            grid_size=self.grid_size,
        )

    @staticmethod
    def equalise(context: torch.Tensor, generator) -> torch.Tensor:
        """Keep a random subset of each sample's context so all keep the batch minimum."""
        keep = int(context.sum(1).min())
        scores = torch.rand(context.shape, generator=generator).masked_fill(~context, -1.0)
        kept = scores.topk(keep, dim=1).indices
        return torch.zeros_like(context).scatter_(1, kept, True)
