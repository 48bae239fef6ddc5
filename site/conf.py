"""Sphinx configuration of the tutorial's site (site/build.py stages the pages and runs it).

Sphinx + MyST-NB renders the notebooks with the outputs the build saved (it executes nothing
itself); the book theme, its fonts and MathJax all ship in pip packages, so a built page loads
nothing from the network.
"""

import json
from pathlib import Path

project = "hjepa_lite"
author = "the hjepa_lite authors"
copyright = "2026, the hjepa_lite authors"

extensions = ["myst_nb", "sphinx.ext.mathjax", "sphinx-mathjax-offline"]

# The pages as site/build.py executed them, never re-run here; no widget JavaScript from a CDN
# (the build replaced each widget by a gallery of its states).
nb_execution_mode = "off"
nb_ipywidgets_js = {}
myst_enable_extensions = ["dollarmath", "amsmath", "substitution"]
myst_heading_anchors = 3

# README.md is staged only to be included by the home page.
exclude_patterns = ["README.md", "build_info.json"]
html_theme = "sphinx_book_theme"
html_title = "hjepa_lite: a Hierarchical I-JEPA with a Feature Pyramid Network"
html_css_files = ["gallery.css"]
html_theme_options = {
    "home_page_in_toc": True,
    "show_toc_level": 2,
}
html_context = {"default_mode": "light"}  # the figures are drawn on white
html_last_updated_fmt = None


def _substitutions(app, config) -> None:
    """``{{ mode }}``, ``{{ date }}`` for the home page; the staged _static folder."""
    info = json.loads((Path(app.srcdir) / "build_info.json").read_text())
    config.myst_substitutions = info
    config.html_static_path = [str(Path(app.srcdir) / "_static")]  # galleries and gallery.css


def setup(app):
    app.connect("config-inited", _substitutions)
