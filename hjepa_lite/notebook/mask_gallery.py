"""The mask explorer's states as still images, for a page read without a kernel.

Like :mod:`hjepa_lite.notebook.widget_gallery` does for the fusion widget: :func:`save_gallery`
drives a
:class:`~hjepa_lite.notebook.mask_explorer.MaskExplorer` from code through a few slider states (grid
side x target scale x number of targets, :data:`GALLERY_STATES`), saves each state's figure
(the explorer's own, drawn by :func:`~hjepa_lite.notebook.mask_explorer.plot_explorer`) as a PNG and
returns an HTML fragment whose menus show the matching figure with a few lines of inline
JavaScript. No kernel, no network. Each state is computed with the explorer's own functions
and its other settings (aspect ratio, draws, batch, seed, draw shown); the explorer itself is
left as it was.
"""

from __future__ import annotations

import html
import itertools
from pathlib import Path

import matplotlib.pyplot as plt

from .mask_explorer import MaskExplorer, plot_explorer
from .mask_statistics import make_sampler, mask_statistics
from .widget_gallery import gallery_menu, gallery_page

__all__ = ["GALLERY_STATES", "gallery_keys", "save_gallery"]

# menu axis -> (label, slider attribute, values); every combination is one PNG
GALLERY_STATES = {
    "g": ("grid side", "grid", (8, 16)),
    "s": ("target scale", "target_scale", ((0.15, 0.2), (0.3, 0.4))),
    "t": ("targets", "num_targets", (4, 8)),
}


def gallery_keys(states: dict = GALLERY_STATES) -> list[str]:
    """Every state's key (``"g0-s1-t0"``: the index of each axis's value), in menu order."""
    ranges = [range(len(values)) for _, _, values in states.values()]
    return [
        "-".join(f"{axis}{i}" for axis, i in zip(states, combo, strict=True))
        for combo in itertools.product(*ranges)
    ]


def _text(value) -> str:
    return "-".join(str(v) for v in value) if isinstance(value, tuple) else str(value)


def save_gallery(
    explorer: MaskExplorer,
    folder: str | Path,
    src: str = "",
    dpi: int = 72,
    states: dict = GALLERY_STATES,
) -> str:
    """Render every state of ``states`` into ``folder`` (``<key>.png``); return the HTML.

    ``src`` prefixes each image's address (the folder as seen from the page). A state the
    explorer refuses shows its error text (class ``hjepa-error``) instead of an image.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    figures = {}
    combos = itertools.product(*(values for _, _, values in states.values()))
    for key, combo in zip(gallery_keys(states), combos, strict=True):
        settings = explorer.settings()  # the sliders outside the gallery stay as they are
        chosen = list(zip(states.values(), combo, strict=True))
        settings.update({attr: value for (_, attr, _), value in chosen})
        label = ", ".join(f"{name} {_text(value)}" for (name, _, _), value in chosen)
        try:  # what explorer.update() computes for these sliders, without redrawing it
            stats = mask_statistics(
                make_sampler(**settings),
                explorer.num_levels,
                draws=explorer.draws,
                batch=explorer.batch,
                seed=explorer.seed,
            )
        except ValueError as error:  # the explorer would show this text
            text = html.escape(f"{type(error).__name__}: {error}")
            figures[key] = (f'<p class="hjepa-error">{text}</p>', label)
            continue
        fig = plot_explorer(stats, explorer.sample.value, explorer.num_levels, batch=explorer.batch)
        fig.savefig(folder / f"{key}.png", dpi=dpi, bbox_inches="tight")
        plt.close(fig)
        any_cell = ", ".join(f"{float(v):.2f}" for v in stats["image_any"])
        caption = f"{label}: share of images with any loss cell per level {any_cell}"
        image = f'<img src="{src}{key}.png" alt="mask explorer: {html.escape(label)}">'
        figures[key] = (image, caption)
    return _page(states, figures)


def _page(states: dict, figures: dict[str, tuple[str, str]]) -> str:
    menus = [
        gallery_menu(axis, label, [(i, _text(v)) for i, v in enumerate(values)])
        for axis, (label, _, values) in states.items()
    ]
    note = (
        "A gallery of the mask explorer's states, drawn when this page was built: choose"
        " the grid side, the target scale and the number of targets. The aspect ratio stays as"
        " the cell above sets it; run the notebook to move every slider."
    )
    return gallery_page(note, menus, figures, "hjepa-mask-gallery")
