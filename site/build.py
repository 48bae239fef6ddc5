"""Build the tutorial's static site into build/site/ (``make site``; ``make site-test`` = --fast).

    python site/build.py            # learner mode: the shipped pre-trained weights (~3 min)
    python site/build.py --fast     # fast (CI) mode, as `make test` runs the notebooks

1. Runs every notebook top to bottom in a fresh kernel, in order, inside a temporary copy of
   notebooks/ and configs/ (as benchmarks/notebook_times.py does). After each cell tagged
   ``fusion-widget`` (or ``mask-explorer``) the build runs one more cell of its own: it renders
   that widget's states with :func:`hjepa_lite.notebook.widget_gallery.save_gallery` (or
   :func:`hjepa_lite.notebook.mask_gallery.save_gallery`), in the same kernel.
2. Stages the pages in build/site-src/: the executed notebooks, each widget output replaced by
   its gallery (a page has no kernel to drive a widget) and a note saying when and how the page
   ran; the home page site/index.md (which includes parts of README.md); docs/,
   benchmarks/results/ and data/README.md, which README and notebooks link to.
3. Runs Sphinx with MyST-NB (site/conf.py) with warnings as errors, so a broken link or a
   missing page fails the build.

Offline: the generator, its theme and MathJax come from pip (requirements-site-lock.txt).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
from notebook_runner import notebook_workdir, run_notebook  # noqa: E402  the repo's runner

SITE = REPO / "site"
# tag of a widget cell -> (gallery module, widget class, the variable the cell defines)
WIDGET_TAGS = {
    "fusion-widget": (
        "hjepa_lite.notebook.widget_gallery",
        "hjepa_lite.notebook.widgets.FusionWidget",
        "ui",
    ),
    "mask-explorer": (
        "hjepa_lite.notebook.mask_gallery",
        "hjepa_lite.notebook.mask_explorer.MaskExplorer",
        "explorer",
    ),
}
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# The notebooks' "Open in Colab" badge is an image on colab.research.google.com: the site shows
# the same link as text, so that a page loads nothing from the network.
COLAB_BADGE = re.compile(
    r"\[!\[[^\]]*\]\(https://colab\.research\.google\.com/[^)]*\)\]\(([^)]+)\)"
)
# What README.md and the notebooks link to, copied next to the pages with the same layout.
LINKED = ["docs", "benchmarks/results", "data/README.md", "README.md"]


def gallery_cell(folder: Path, src: str, tag: str = "fusion-widget") -> nbformat.NotebookNode:
    """The build's own cell: the gallery of the widget the cell before it (tagged ``tag``)
    shows."""
    module, widget_class, name = WIDGET_TAGS[tag]
    class_module, class_name = widget_class.rsplit(".", 1)
    code = (
        "from IPython.display import HTML as _HTML\n"
        f"from {module} import save_gallery as _save_gallery\n"
        f"from {class_module} import {class_name} as _Widget\n"
        f"assert isinstance({name}, _Widget), 'the {tag} cell must define {name}'\n"
        f"_HTML(_save_gallery({name}, {str(folder)!r}, src={src!r}))"
    )
    return nbformat.v4.new_code_cell(code, metadata={"tags": ["site-gallery"]})


def with_gallery_cells(nb, name: str, static: Path) -> None:
    """Insert a gallery cell after every widget cell tagged in ``WIDGET_TAGS`` (in place)."""
    cells = []
    for index, cell in enumerate(nb.cells):
        cells.append(cell)
        for tag in WIDGET_TAGS:
            if tag in cell.metadata.get("tags", []):
                folder = static / "gallery" / f"{name}_{index}"
                cells.append(gallery_cell(folder, f"../_static/gallery/{name}_{index}/", tag))
    nb.cells = cells


def galleries_in_place(nb) -> None:
    """Each gallery cell's HTML becomes the output of the widget cell above it; the gallery
    cells and the saved widget state go (in place)."""
    cells = []
    for cell in nb.cells:
        if "site-gallery" not in cell.metadata.get("tags", []):
            cells.append(cell)
            continue
        (gallery,) = [o for o in cell.outputs if "text/html" in o.get("data", {})]
        widget_cell = cells[-1]
        outputs = [o for o in widget_cell.outputs if WIDGET_VIEW not in o.get("data", {})]
        widget_cell.outputs = [*outputs, nbformat.v4.new_output("display_data", gallery.data)]
    nb.cells = cells
    nb.metadata.pop("widgets", None)


def cell_seconds(nb) -> float:
    """The notebook's own cells' execution time (nbclient's timestamps in each cell)."""
    seconds = 0.0
    for cell in nb.cells:
        timing = cell.metadata.get("execution", {})
        start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
        if start and end:
            start, end = (
                datetime.datetime.fromisoformat(t.replace("Z", "+00:00")) for t in (start, end)
            )
            seconds += (end - start).total_seconds()
    return seconds


def without_remote_images(nb) -> None:
    """The Colab badge becomes a text link (in place)."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = COLAB_BADGE.sub(r"[Open in Colab](\1)", cell.source)


def note_cell(mode: str, seconds: float) -> nbformat.NotebookNode:
    how = (
        "in **learner mode** (the default: notebooks 05-08 load the shipped pre-trained weights)"
        if mode == "learner"
        else "in **fast mode** (`HJEPA_FAST=1`, as `make test` runs it: few steps, small "
        "images; the learner-mode numbers differ)"
    )
    text = (
        "```{note}\n"
        f"This page shows the notebook as executed {how} on {datetime.date.today()}: its cells "
        f"ran in {seconds:.0f} s on {os.cpu_count()} CPU cores ({platform.machine()}). "
        "Widgets are shown as galleries of their states. To run it yourself: `make lab`.\n"
        "```"
    )
    return nbformat.v4.new_markdown_cell(text)


def execute(notebooks: list[Path], mode: str, pages: Path, static: Path) -> dict[str, float]:
    """Run each notebook in a fresh kernel, in order; write the page versions into ``pages``."""
    times = {}
    with notebook_workdir(mode) as workdir:
        for path in notebooks:
            nb = nbformat.read(path, as_version=4)
            with_gallery_cells(nb, path.stem, static)
            nb = run_notebook(nb, workdir, reruns=1)  # a stall reruns once, printed
            galleries_in_place(nb)
            times[path.name] = cell_seconds(nb)
            without_remote_images(nb)
            nb.cells.insert(1, note_cell(mode, times[path.name]))
            nbformat.write(nb, pages / path.name)
            print(f"{mode:7s} {path.name:36s} {times[path.name]:6.0f} s", flush=True)
    return times


def stage(source: Path, mode: str) -> None:
    """The home page, its config and what README and the notebooks link to."""
    for item in LINKED:
        src, dst = REPO / item, source / item
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(
                src, dst, ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True
            )
        else:
            shutil.copy2(src, dst)
    results = source / "benchmarks" / "results"
    for page in results.rglob("*.md"):
        text = page.read_text()
        if not text.startswith("# "):  # a saved output starts with its command: name the page
            page.write_text(f"# {page.stem}\n\n{text}")
    for index in results.rglob("README.md"):
        # each folder's README lists its outputs and its sub-folders' READMEs in the navigation
        pages = sorted(p.stem for p in index.parent.glob("*.md") if p != index)
        pages += sorted(f"{p.parent.name}/README" for p in index.parent.glob("*/README.md"))
        toctree = "\n".join(["", "```{toctree}", ":hidden:", "", *pages, "```", ""])
        index.write_text(index.read_text() + toctree)
    shutil.copy2(SITE / "index.md", source / "index.md")
    (source / "_static").mkdir(exist_ok=True)
    shutil.copy2(SITE / "gallery.css", source / "_static" / "gallery.css")
    info = {"mode": mode, "date": str(datetime.date.today()), "machine": platform.machine()}
    (source / "build_info.json").write_text(json.dumps(info))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fast", action="store_true", help="run the notebooks in fast mode")
    parser.add_argument("--out", type=Path, default=REPO / "build" / "site")
    parser.add_argument("--source", type=Path, default=REPO / "build" / "site-src")
    parser.add_argument(
        "--reuse", action="store_true", help="keep the executed pages of the last build (edits)"
    )
    args = parser.parse_args()
    mode = "fast" if args.fast else "learner"
    start = time.perf_counter()
    if args.reuse:
        mode = json.loads((args.source / "build_info.json").read_text())["mode"]
    else:
        shutil.rmtree(args.source, ignore_errors=True)
        (args.source / "notebooks").mkdir(parents=True)
        notebooks = sorted((REPO / "notebooks").glob("*.ipynb"))
        execute(notebooks, mode, args.source / "notebooks", args.source / "_static")
    stage(args.source, mode)
    shutil.rmtree(args.out, ignore_errors=True)
    sphinx = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html"]
    subprocess.run([*sphinx, "-c", str(SITE), str(args.source), str(args.out)], check=True)
    size = sum(f.stat().st_size for f in args.out.rglob("*") if f.is_file())
    print(
        f"site ({mode} mode) in {args.out}: {size / 1e6:.1f} MB, "
        f"built in {time.perf_counter() - start:.0f} s; open {args.out / 'index.html'}"
    )


if __name__ == "__main__":
    main()
