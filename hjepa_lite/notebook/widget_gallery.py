"""The fusion widget's states as still images, for a page read without a kernel.

A widget needs a running kernel: on a static page (the tutorial's site, ``make site``) its
controls would do nothing. :func:`save_gallery` drives a
:class:`~hjepa_lite.notebook.widgets.FusionWidget` from code through every combination of its
``weights`` and ``image`` controls (the other controls stay as they are), saves each level's figure
as a PNG and returns an HTML fragment: three menus (weights, image, level) that show the matching
figure with a few lines of inline JavaScript. No kernel, no network; the figures are the widget's
own, drawn by
:func:`~hjepa_lite.notebook.compare.plot_comparison` from the widget's ``results``.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import matplotlib.pyplot as plt

from .compare import plot_comparison
from .widgets import FusionWidget

__all__ = ["GalleryEntry", "gallery_menu", "gallery_page", "gallery_states", "save_gallery"]

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


def gallery_menu(axis: str, label: str, options: list[tuple[int, object]]) -> str:
    """One ``<select>`` of a gallery: ``options`` are ``(index, shown value)`` pairs; the
    chosen indices of every menu, as ``<axis><index>`` joined by ``-``, name the figure shown."""
    items = "".join(f'<option value="{n}">{html.escape(str(o))}</option>' for n, o in options)
    return f'<label>{label} <select data-axis="{axis}">{items}</select></label>'


# shows the figure whose data-key is every menu's "<axis><index>", joined by "-"
_SCRIPT = (
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


def gallery_page(
    note: str, menus: list[str], figures: dict[str, tuple[str, str]], css_class: str = ""
) -> str:
    """The gallery's HTML: a note (plain text), the menus, one ``<figure>`` per
    ``key -> (body HTML, caption text)`` (the first shown, the others hidden) and the script
    that switches between them."""
    shown = []
    for n, (key, (body, caption)) in enumerate(figures.items()):
        hidden = "" if n == 0 else " hidden"
        shown.append(
            f'<figure data-key="{key}"{hidden}>{body}'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )
    return (
        f'<div class="{" ".join(["hjepa-gallery", css_class]).strip()}">'
        f"<p><em>{html.escape(note)}</em></p>"
        '<div class="hjepa-gallery-menus">'
        + " ".join(menus)
        + "</div>"
        + "".join(shown)
        + _SCRIPT
        + "</div>"
    )


def _page(widget: FusionWidget, figures: dict[str, str], captions: dict) -> str:
    menus = [
        gallery_menu("w", "weights", list(enumerate(widget.weights.options))),
        gallery_menu("i", "image", list(enumerate(widget.images))),
        gallery_menu("l", "level", [(level, level) for level in range(widget.num_levels)]),
    ]
    pages = {}
    for state in gallery_states(widget):
        w, i, _ = state
        caption = re.sub(r"<[^>]+>| \(run \d+\)", "", captions[w, i])  # the status, as text
        pages[_key(state)] = (figures[_key(state)], caption)
    note = (
        "A gallery of the widget's states, drawn when this page was built: choose the"
        " weights, the image and the level. The other controls stay as the cell above sets"
        " them; run the notebook to change them."
    )
    return gallery_page(note, menus, pages)
