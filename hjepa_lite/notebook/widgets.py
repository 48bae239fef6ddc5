"""The fusion comparison widget of notebook 04.

Controls (each has a tooltip saying what it changes; notebook 04 explains them):

* weights: "random init" (every head, untrained, on one encoder) or "pre-trained" (each
  column a shipped model: its trained encoder and head);
* fusion: the FPN variants drawn beside pooling-only (several: ctrl/cmd-click);
* FPN dim: the FPN width F (random init only; a shipped head has its config's width);
* upsample: how the coarse level reaches the fine grid (attention fusion ignores it);
* PANet bottom-up path: add PANet's path after the top-down one (FPN columns only);
* image, level: what is drawn. The expensive work runs on the "Compare" button; changing
  the level only redraws.

Every map has its own PCA basis (see :mod:`hjepa_lite.notebook.compare` for why not one per level).
The callback calls the pure functions :func:`hjepa_lite.notebook.compare.compare_fusion` (random
init: every head on the given encoder), :func:`hjepa_lite.notebook.compare.compare_pretrained` (pre-
trained: each variant is a shipped model, its encoder and its trained head, at its own image
size) and :func:`hjepa_lite.notebook.compare.plot_comparison`, which the notebooks also call
directly.
Errors are shown in the widget (marked ``class='hjepa-error'``, which the notebook tests look
for in stored widget state) *and* kept in ``widget.error``.
"""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch

from ..data.datasets import IMAGENET_MEAN, IMAGENET_STD
from ..data.shapes import CLASSES, SIZES, render_shapes
from ..model.encoder import PatchEncoder
from ..model.fusion import FUSION_METHODS
from ..model.hjepa import HJEPA
from ..model.resample import UPSAMPLE_MODES
from ..shipped.pretrained import load_pretrained
from .compare import (
    POOLING_ONLY,
    compare_fusion,
    compare_pretrained,
    plot_comparison,
    pretrained_variant,
)
from .viz import load_sample_photo

__all__ = ["PRETRAINED", "WEIGHTS", "FusionWidget", "widget_images"]

PRETRAINED = "pre-trained"
WEIGHTS = ("random init", PRETRAINED)


def widget_images(size: int = 224, shapes: int = 2, patch_size: int = 16) -> dict:
    """The notebooks' widget images, normalised ``(3, size, size)``: a photo (Grace Hopper)
    and the first ``shapes`` (at most 18) images of a Shapes batch (seed 1), named by class and
    size."""
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    batch = render_shapes(18, img_size=size, patch_size=patch_size, seed=1)  # each class x size
    images = {"Grace Hopper (photo)": (load_sample_photo(size) - mean) / std}
    for index in range(shapes):
        label, bucket = CLASSES[int(batch.labels[index])], SIZES[int(batch.sizes[index])]
        images[f"Shapes: {label}, {bucket}"] = (batch.images[index].float() / 255 - mean) / std
    return images


class FusionWidget(widgets.VBox):
    """``FusionWidget(images, encoder)``; ``images``: ``{name: (3, H, W) normalised}``;
    ``methods``: the fusion methods selected at first (any of ``FUSION_METHODS``);
    ``weights``: "random init" or "pre-trained" at first; ``load``: config name -> model
    (the shipped weights by default; loaded once, on first use).

    After each comparison: ``results`` (``{variant: VariantResult}``), ``error`` (None or
    the exception text), ``runs`` (number of comparisons made).
    """

    def __init__(
        self,
        images: dict[str, torch.Tensor],
        encoder: PatchEncoder,
        num_levels: int = 3,
        methods: tuple[str, ...] = ("add", "concat"),
        weights: str = "random init",
        load: Callable[[str], HJEPA] = load_pretrained,
    ):
        self.images, self.encoder, self.num_levels = images, encoder, num_levels
        self.load, self.models = load, {}  # config name -> loaded pre-trained model
        self.weights = widgets.ToggleButtons(
            options=WEIGHTS,
            value=weights,
            description="weights",
            style={"button_width": "7em"},
            tooltip="random init: untrained heads on one encoder; pre-trained: shipped models",
        )
        dims = sorted({encoder.embed_dim // 4, encoder.embed_dim // 2, encoder.embed_dim})
        self.methods = widgets.SelectMultiple(
            options=FUSION_METHODS,
            value=tuple(methods),
            description="fusion",
            rows=len(FUSION_METHODS),
            tooltip="FPN variants beside pooling-only (ctrl/cmd-click for several)",
        )
        self.feature_dim = widgets.Dropdown(
            options=dims,
            value=dims[-1],
            description="FPN dim",
            tooltip="the FPN width F (random init only)",
        )
        self.upsample = widgets.Dropdown(
            options=UPSAMPLE_MODES,
            description="upsample",
            tooltip="coarse level -> fine grid (attention fusion resamples by itself)",
        )
        self.bottom_up = widgets.Checkbox(
            False, description="PANet bottom-up path", tooltip="fine -> coarse path after FPN"
        )
        self.level = widgets.IntSlider(
            0, min=0, max=num_levels - 1, description="level", continuous_update=False
        )
        self.image = widgets.Dropdown(options=list(images), description="image")
        self.button = widgets.Button(description="Compare", button_style="primary", icon="play")
        self.status = widgets.HTML()
        self.output = widgets.Output()
        self.results: dict = {}
        self.error: str | None = None
        self.runs = 0
        self.button.on_click(lambda _: self.compare())
        self.level.observe(lambda _: self.draw(), names="value")
        self.weights.observe(lambda _: self._sync_controls(), names="value")
        self._sync_controls()
        controls = widgets.HBox(
            [
                widgets.VBox([self.weights, self.methods, self.feature_dim]),
                widgets.VBox([self.upsample, self.bottom_up]),
                widgets.VBox([self.image, self.level, self.button]),
            ]
        )
        super().__init__([controls, self.status, self.output])

    def compare(self) -> None:
        """Build and time every chosen variant for the current settings, then draw."""
        self.status.value = "<i>measuring...</i>"
        try:
            image = self.images[self.image.value]
            if self.weights.value == PRETRAINED:
                configs = self._pretrained_configs()
                models = {name: self._model(config) for name, config in configs.items()}
                self.results = compare_pretrained(image, models)
                shown = ", ".join(configs.values())
            else:
                self.results = compare_fusion(
                    image,
                    self.encoder,
                    fusion_methods=tuple(self.methods.value),
                    feature_dim=self.feature_dim.value,
                    num_levels=self.num_levels,
                    upsample=self.upsample.value,
                    bottom_up=self.bottom_up.value,
                )
                shown = "random init heads on one encoder"
            self.error = None
            self.runs += 1
            self.status.value = f"measured {len(self.results)} variants (run {self.runs}): {shown}"
        except Exception as error:  # shown to the learner and kept for tests
            self.error = f"{type(error).__name__}: {error}"
            self.status.value = f"<b class='hjepa-error' style='color:#b00'>{self.error}</b>"
        self.draw()

    def _pretrained_configs(self) -> dict[str, str]:
        """``{variant name: shipped config}`` for the current settings."""
        configs = {POOLING_ONLY: pretrained_variant(None)}
        for method in self.methods.value:
            configs[f"FPN {method}"] = pretrained_variant(
                method, self.upsample.value, self.bottom_up.value
            )
        return configs

    def _model(self, config: str) -> HJEPA:
        if config not in self.models:
            self.models[config] = self.load(config)
        return self.models[config]

    def _sync_controls(self) -> None:
        """Pre-trained heads have their config's width: the FPN dim does not apply."""
        self.feature_dim.disabled = self.weights.value == PRETRAINED

    def draw(self) -> None:
        """Redraw the chosen level of the last results (cheap)."""
        self.output.clear_output(wait=True)
        if not self.results or self.error:
            return
        with self.output:
            plot_comparison(self.results, self.level.value)
            plt.tight_layout()
            plt.show()
