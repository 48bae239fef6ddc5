"""The mask explorer of notebook 05: which cells of each pyramid level the loss can use.

I-JEPA's multi-block masks are drawn on the patch grid (level 0). A level-``l`` cell enters
the loss only if the whole ``2**l x 2**l`` square of patches it covers is a target
(:func:`hjepa_lite.pyramid.target_mask_pyramid`). Small target blocks therefore leave the
coarse levels with few valid cells, or none: the explorer shows how often, for any target
scale, aspect ratio, number of targets and grid size.

Three layers, kept apart:

- computation, pure functions returning tensors: :func:`make_sampler` (the library's
  :class:`~hjepa_lite.masks.MultiBlockMaskSampler`), :func:`level_maps` (context, target and
  valid-cell maps per level), :func:`mask_statistics` (a few hundred seeded draws) and
  :func:`effective_weights` (what a weighting of the levels becomes in the loss);
- plotting: :func:`plot_explorer` draws one state into a matplotlib figure;
- the widget :class:`MaskExplorer`: sliders, redraw on every change, errors shown in the widget
  (``class='hjepa-error'``) and kept in ``explorer.error``, never raised.

    >>> stats = mask_statistics(make_sampler(8), draws=64, batch=32)
    >>> stats["image_any"].shape, stats["cells"].shape
    (torch.Size([3]), torch.Size([64, 3]))
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from .masks import MaskBatch, MultiBlockMaskSampler
from .pyramid import level_grid_sizes, pool_tokens, target_mask_pyramid

__all__ = [
    "LEVEL_WEIGHTINGS",
    "MaskExplorer",
    "effective_weights",
    "level_maps",
    "make_sampler",
    "mask_statistics",
    "plot_explorer",
]

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
    sizes = level_grid_sizes(grid, num_levels)
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
    - ``"first"``: the first batch's :class:`~hjepa_lite.masks.MaskBatch` (for pictures),
      under the key ``"first"`` (not a tensor).
    """
    if draws < batch or batch < 1:
        raise ValueError(f"draws={draws} must be at least batch={batch} >= 1")
    sizes = level_grid_sizes(sampler.grid_size, num_levels)
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
        "level_cells": torch.tensor([h * w for h, w in sizes]),
        "first": first,
    }


def effective_weights(
    stats: dict, weights: tuple[float, ...], batch: int = 32
) -> dict[str, torch.Tensor]:
    """What level weights ``w_l`` become in the loss, ``(L,)`` float each.

    The loss is ``sum_l w_l * loss_l`` with ``loss_l`` the mean error over the batch's valid
    level-``l`` cells (:func:`hjepa_lite.loss.hierarchical_loss`), and a level without a valid
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


def _clean_axes(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


def plot_explorer(
    stats: dict,
    sample: int = 0,
    num_levels: int = 3,
    weightings: dict[str, tuple[float, ...]] | None = None,
    batch: int = 32,
    figure: Figure | None = None,
) -> Figure:
    """Draw one state: maps of draw ``sample`` of the first batch (rows: context, target,
    valid cells; one column per level) and, beside them, bar charts over all draws (how often
    a level has a loss cell, mean valid cells, each weighting's share of the loss)."""
    weightings = LEVEL_WEIGHTINGS if weightings is None else weightings
    fig = figure or plt.figure(figsize=(13, 6.2))
    grid = fig.add_gridspec(3, num_levels + 2, width_ratios=[1] * num_levels + [0.15, 1.7])
    maps = level_maps(stats["first"], num_levels)
    rows = [
        ("context", "Greens", "context (share seen)"),
        ("target", "Reds", "targets (share hidden)"),
        ("valid", "Purples", "valid cells (in the loss)"),
    ]
    for row, (name, cmap, label) in enumerate(rows):
        for level in range(num_levels):
            ax = fig.add_subplot(grid[row, level])
            image = maps[name][level][sample].float().numpy()
            ax.imshow(image, cmap=cmap, vmin=0, vmax=1)
            h, w = image.shape
            title = f"level {level} ({h}x{w})" if row == 0 else ""
            if name == "valid":
                title = f"{int(image.sum())} of {h * w} valid"
            ax.set_title(title, fontsize=8)
            _clean_axes(ax)
            if level == 0:
                ax.set_ylabel(label, fontsize=8)
    levels = torch.arange(num_levels).numpy()
    draws = len(stats["cells"])

    ax = fig.add_subplot(grid[0, -1])
    width = 0.38
    ax.bar(
        levels - width / 2, stats["image_any"].numpy(), width, label="images", color="tab:purple"
    )
    ax.bar(
        levels + width / 2,
        stats["batch_any"].numpy(),
        width,
        label=f"batches of {batch}",
        color="0.6",
    )
    for level in range(num_levels):
        value = float(stats["image_any"][level])
        ax.text(level - width / 2, value + 0.02, f"{value:.2f}", ha="center", fontsize=7)
    ax.set(ylim=(0, 1.4), xticks=levels.tolist())
    ax.set_title(f"share with any loss cell ({draws} draws)", fontsize=9)
    ax.legend(fontsize=7, loc="upper center", ncol=2)

    ax = fig.add_subplot(grid[1, -1])
    ax.bar(levels, stats["mean_cells"].numpy(), color="tab:purple")
    for level in range(num_levels):
        cells, total = float(stats["mean_cells"][level]), int(stats["level_cells"][level])
        ax.text(level, cells, f"{cells:.2f} of {total}", ha="center", va="bottom", fontsize=7)
    ax.set(xticks=levels.tolist(), ylim=(0, 1.2 * max(float(stats["mean_cells"].max()), 1e-3)))
    ax.set_title("valid cells per image (mean)", fontsize=9)

    ax = fig.add_subplot(grid[2, -1])
    width = 0.8 / max(len(weightings), 1)
    for index, (name, weights) in enumerate(weightings.items()):
        weight = effective_weights(stats, weights, batch)
        offset = (index - (len(weightings) - 1) / 2) * width
        ax.bar(levels + offset, weight["share"].numpy(), width, label=f"{name} {list(weights)}")
        for level in range(num_levels):
            per_cell = float(weight["per_cell"][level])
            text = "none" if per_cell == float("inf") else f"x{per_cell:.0f}"
            top = float(weight["share"][level]) + 0.02
            ax.text(level + offset, top, text, ha="center", fontsize=6, rotation=90)
    ax.set(xticks=levels.tolist(), xlabel="level", ylim=(0, 1.2))
    ax.set_title("share of the loss weight per step (xN: one cell vs a level-0 cell)", fontsize=8)
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return fig


class MaskExplorer(widgets.VBox):
    """``MaskExplorer()``: sliders for the target blocks (scale range, aspect-ratio range,
    number) and the grid side; every change redraws the maps of one draw and the statistics
    over ``draws`` seeded draws (batches of ``batch``).

    After each redraw: ``stats`` (:func:`mask_statistics`'s dict, or None after an error),
    ``error`` (None or the text shown), ``runs`` (number of redraws), ``figure`` (the last
    figure drawn, None after an error).
    """

    def __init__(
        self,
        grid: int = 8,
        num_targets: int = 4,
        target_scale: tuple[float, float] = (0.15, 0.2),
        target_aspect: tuple[float, float] = (0.75, 1.5),
        num_levels: int = 3,
        draws: int = 512,
        batch: int = 32,
        seed: int = 0,
    ):
        self.num_levels, self.draws, self.batch, self.seed = num_levels, draws, batch, seed
        common = {"continuous_update": False, "style": {"description_width": "7em"}}
        self.target_scale = widgets.FloatRangeSlider(
            value=target_scale, min=0.01, max=1.0, step=0.01, description="target scale", **common
        )
        self.target_aspect = widgets.FloatRangeSlider(
            value=target_aspect, min=0.25, max=4.0, step=0.05, description="aspect h/w", **common
        )
        self.num_targets = widgets.IntSlider(
            num_targets, min=1, max=8, description="targets", **common
        )
        self.grid = widgets.IntSlider(grid, min=4, max=16, description="grid side", **common)
        self.sample = widgets.IntSlider(0, min=0, max=batch - 1, description="draw shown", **common)
        self.status = widgets.HTML()
        self.output = widgets.Output()
        self.stats: dict | None = None
        self.error: str | None = None
        self.figure: Figure | None = None
        self.runs = 0
        for control in (self.target_scale, self.target_aspect, self.num_targets, self.grid):
            control.observe(lambda _: self.update(), names="value")
        self.sample.observe(lambda _: self.draw(), names="value")
        controls = widgets.HBox(
            [
                widgets.VBox([self.target_scale, self.target_aspect, self.num_targets]),
                widgets.VBox([self.grid, self.sample]),
            ]
        )
        super().__init__([controls, self.status, self.output])
        self.update()

    def settings(self) -> dict:
        """The sliders' values, as :func:`make_sampler` takes them."""
        return {
            "grid": self.grid.value,
            "num_targets": self.num_targets.value,
            "target_scale": tuple(self.target_scale.value),
            "target_aspect": tuple(self.target_aspect.value),
        }

    def update(self) -> None:
        """Draw the masks for the current sliders, count, then redraw (errors shown)."""
        try:
            sampler = make_sampler(**self.settings())
            self.stats = mask_statistics(
                sampler, self.num_levels, draws=self.draws, batch=self.batch, seed=self.seed
            )
            self.error = None
            self.runs += 1
            any_cell = ", ".join(f"{float(v):.2f}" for v in self.stats["image_any"])
            self.status.value = (
                f"{len(self.stats['cells'])} draws (run {self.runs}): share of images with any "
                f"loss cell per level: {any_cell}"
            )
        except ValueError as error:  # the sampler or the pyramid refuses the setting
            self.stats = None
            self.error = f"{type(error).__name__}: {error}"
            self.status.value = (
                "<b class='hjepa-error' style='color:#b00'>This setting cannot be drawn: "
                f"{html.escape(self.error)}</b>"
            )
        self.draw()

    def draw(self) -> None:
        """Redraw the last statistics (cheap); nothing when the last setting failed."""
        self.output.clear_output(wait=True)
        self.figure = None
        if self.stats is None:
            return
        with self.output:
            self.figure = plot_explorer(
                self.stats, self.sample.value, self.num_levels, batch=self.batch
            )
            plt.show()
            plt.close(self.figure)
