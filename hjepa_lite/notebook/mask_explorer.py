"""The mask explorer of notebook 05: which cells of each pyramid level the loss can use.

I-JEPA's multi-block masks are drawn on the patch grid (level 0). A level-``l`` cell enters
the loss only if the whole ``2**l x 2**l`` square of patches it covers is a target
(:func:`hjepa_lite.model.pyramid.target_mask_pyramid`). Small target blocks therefore leave the
coarse levels with few valid cells, or none: the explorer shows how often, for any target
scale, aspect ratio, number of targets and grid size.

Three layers, kept apart:

- computation, pure functions returning tensors, in :mod:`hjepa_lite.notebook.mask_statistics`;
- plotting: :func:`plot_explorer` draws one state into a matplotlib figure;
- the widget :class:`MaskExplorer`: sliders, redraw on every change, errors shown in the widget
  (``class='hjepa-error'``) and kept in ``explorer.error``, never raised.
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from .mask_statistics import (
    LEVEL_WEIGHTINGS,
    effective_weights,
    level_maps,
    make_sampler,
    mask_statistics,
)

__all__ = ["MaskExplorer", "plot_explorer"]


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
