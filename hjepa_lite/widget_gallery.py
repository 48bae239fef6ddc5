"""The fusion widget's states as still images, for a page read without a kernel.

A widget needs a running kernel: on a static page (the tutorial's site, ``make site``) its
controls would do nothing. :func:`save_gallery` drives a :class:`~hjepa_lite.widgets.FusionWidget`
from code through every combination of its ``weights`` and ``image`` controls (the other
controls stay as they are), saves each level's figure as a PNG and returns an HTML fragment:
three menus (weights, image, level) that show the matching figure with a few lines of inline
JavaScript. No kernel, no network; the figures are the widget's own, drawn by
:func:`~hjepa_lite.compare.plot_comparison` from the widget's ``results``.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import matplotlib.pyplot as plt

from .compare import plot_comparison
from .widgets import FusionWidget

__all__ = ["GalleryEntry", "save_gallery", "gallery_states"]

# one state of the gallery: (weights index, image index, level)
GalleryEntry = tuple[int, int, int]


def gallery_states(widget: FusionWidget) -> list[GalleryEntry]:
    """Every ``(weights, image, level)`` index triple the gallery shows, in menu order."""
    return [
        (w, i, level)
        for w in range(len(widget.weights.options))
        for i in range(len(widget.images))
        for level in range(widget.num_levels)
    ]


def _key(state: GalleryEntry) -> str:
    return "w{}-i{}-l{}".format(*state)


def save_gallery(widget: FusionWidget, folder: str | Path, src: str = "", dpi: int = 72) -> str:
    """Render every state of ``widget`` into ``folder`` (``<key>.png``); return the HTML.

    ``src`` prefixes each image's address in the HTML (the folder as seen from the page).
    The widget's controls and results are restored afterwards. A state the widget refuses
    (e.g. pre-trained weights that are not shipped) shows the widget's own error text.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    saved = widget.weights.value, widget.image.value
    figures, captions = {}, {}  # key -> <img> or error; (w, i) -> the widget's status line
    try:
        for w, weights in enumerate(widget.weights.options):
            widget.weights.value = weights
            for i, image in enumerate(widget.images):
                widget.image.value = image
                widget.compare()
                captions[w, i] = widget.error or widget.status.value
                for level in range(widget.num_levels):
                    key = _key((w, i, level))
                    if widget.error:
                        figures[key] = f'<p class="hjepa-error">{html.escape(widget.error)}</p>'
                        continue
                    fig, axes = plt.subplots(
                        1, len(widget.results), figsize=(3.2 * len(widget.results), 3.6)
                    )
                    plot_comparison(widget.results, level, axes)
                    fig.tight_layout()
                    fig.savefig(folder / f"{key}.png", dpi=dpi, bbox_inches="tight")
                    plt.close(fig)
                    alt = f"{weights}, {image}, level {level}"
                    figures[key] = f'<img src="{src}{key}.png" alt="{html.escape(alt)}">'
    finally:
        widget.weights.value, widget.image.value = saved
    widget.compare()  # the results (and the drawn figure) of the restored controls
    return _page(widget, figures, captions)


def _menu(axis: str, label: str, options: list[str]) -> str:
    items = "".join(f'<option value="{n}">{html.escape(str(o))}</option>' for n, o in options)
    return f'<label>{label} <select data-axis="{axis}">{items}</select></label>'


def _page(widget: FusionWidget, figures: dict[str, str], captions: dict) -> str:
    menus = [
        _menu("w", "weights", list(enumerate(widget.weights.options))),
        _menu("i", "image", list(enumerate(widget.images))),
        _menu("l", "level", [(level, level) for level in range(widget.num_levels)]),
    ]
    states = []
    for state in gallery_states(widget):
        w, i, _ = state
        hidden = "" if state == (0, 0, 0) else " hidden"
        caption = re.sub(r"<[^>]+>| \(run \d+\)", "", captions[w, i])  # the status, as text
        caption = html.escape(caption)
        states.append(
            f'<figure data-key="{_key(state)}"{hidden}>{figures[_key(state)]}'
            f"<figcaption>{caption}</figcaption></figure>"
        )
    script = (
        "<script>(function () {"
        " var g = document.currentScript.parentElement;"
        " function show() {"
        "  var key = Array.from(g.querySelectorAll('select'))"
        "   .map(function (s) { return s.dataset.axis + s.value; }).join('-');"
        "  g.querySelectorAll('figure').forEach(function (f) {"
        "   f.hidden = f.dataset.key !== key; });"
        " }"
        " g.querySelectorAll('select').forEach(function (s) {"
        "  s.addEventListener('change', show); });"
        "})();</script>"
    )
    note = (
        "<p><em>A gallery of the widget's states, drawn when this page was built: choose the"
        " weights, the image and the level. The other controls stay as the cell above sets"
        " them; run the notebook to change them.</em></p>"
    )
    return (
        '<div class="hjepa-gallery">'
        + note
        + '<div class="hjepa-gallery-menus">'
        + " ".join(menus)
        + "</div>"
        + "".join(states)
        + script
        + "</div>"
    )
