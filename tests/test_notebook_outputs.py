"""What nbmake does not check: errors stored inside widget state, and plots without a picture.

nbmake passes a notebook whose widget callback failed (the traceback lands in the widget's
state, not in a cell's outputs) and a plotting cell that drew nothing. Here every notebook
is executed (fast mode, in a temporary copy of the repository's notebooks and configs) with
widget state stored, and the executed notebook is inspected.
"""

import json
import os
import re
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
from notebook_runner import run_notebook  # noqa: E402  the repo's runner

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# A cell "plots" when it shows a matplotlib figure or calls one of hjepa_lite's plot helpers.
PLOTS = re.compile(r"plt\.show\(\)|\bplot_(levels|history|comparison)\(")
# Marks the error messages FusionWidget shows in its status line.
WIDGET_ERROR = "hjepa-error"


def _widget_outputs(state: dict) -> dict[str, list[dict]]:
    """Outputs kept inside each Output widget's state: ``{model_id: [output, ...]}``."""
    return {
        model_id: model["state"].get("outputs", [])
        for model_id, model in state.items()
        if model.get("model_name") == "OutputModel"
    }


def _widget_tree(model_id: str, state: dict) -> list[dict]:
    """A widget and every widget it contains (through ``children``), from stored state."""
    found, todo, seen = [], [model_id], set()
    while todo:
        current = todo.pop()
        if current in seen or current not in state:
            continue
        seen.add(current)
        found.append(state[current])
        todo += [
            child.removeprefix("IPY_MODEL_")
            for child in state[current]["state"].get("children", [])
        ]
    return found


def _plot_area_without_image(model_id: str, state: dict) -> bool:
    """A widget holds Output widgets (its plot area) but none of them holds a PNG."""
    areas = [m for m in _widget_tree(model_id, state) if m.get("model_name") == "OutputModel"]
    images = [
        output
        for area in areas
        for output in area["state"].get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    return bool(areas) and not images


def problems(nb: nbformat.NotebookNode) -> list[str]:
    """What went wrong in an *executed* notebook (empty list = nothing)."""
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    found = []
    for model_id, outputs in _widget_outputs(state).items():
        for output in outputs:
            if output.get("output_type") == "error":
                found.append(f"widget {model_id} holds an error: {output.get('ename')}")
            elif output.get("name") == "stderr" and "Traceback" in output.get("text", ""):
                found.append(f"widget {model_id} holds a traceback on stderr")
    for model_id, model in state.items():
        if WIDGET_ERROR in json.dumps(model["state"]):
            found.append(f"widget {model_id} shows an error message")
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        outputs = cell.get("outputs", [])
        found += [
            f"cell {index} raised {output.ename}"
            for output in outputs
            if output.output_type == "error"
        ]
        if PLOTS.search(cell.source) and not any(
            "image/png" in output.get("data", {}) for output in outputs
        ):
            found.append(f"cell {index} plots but shows no image")
        for output in outputs:
            view = output.get("data", {}).get(WIDGET_VIEW)
            if view and view["model_id"] not in state:
                found.append(f"cell {index} shows widget {view['model_id']} with no stored state")
            elif view and _plot_area_without_image(view["model_id"], state):
                found.append(f"cell {index} shows a widget whose plot area has no image")
    return found


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A copy of notebooks/ and configs/ so that runs written by notebooks stay out of the repo."""
    root = tmp_path_factory.mktemp("repo")
    shutil.copytree(REPO / "configs", root / "configs")
    (root / "notebooks").mkdir()
    for path in NOTEBOOKS:
        shutil.copy(path, root / "notebooks" / path.name)
    return root / "notebooks"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_executed_notebook_has_no_hidden_errors_and_every_plot_shows(path, workdir, monkeypatch):
    monkeypatch.setenv("HJEPA_FAST", os.environ.get("HJEPA_FAST", "1"))
    nb = nbformat.read(workdir / path.name, as_version=4)
    nb = run_notebook(nb, workdir, store_widget_state=True)
    assert problems(nb) == []


# -- the checker itself must be able to fail --------------------------------------------


def _executed(cells, widget_state=None):
    nb = nbformat.v4.new_notebook(cells=cells)
    if widget_state is not None:
        nb.metadata["widgets"] = {WIDGET_STATE: {"state": widget_state, "version_major": 2}}
    return nb


def _output_widget(*outputs):
    return {"model_name": "OutputModel", "state": {"outputs": list(outputs)}}


def test_checker_finds_an_error_stored_in_widget_state():
    error = {"output_type": "error", "ename": "ValueError", "evalue": "x", "traceback": []}
    nb = _executed([], {"a": _output_widget(error)})
    assert problems(nb) == ["widget a holds an error: ValueError"]
    html = {"model_name": "HTMLModel", "state": {"value": f"<b class='{WIDGET_ERROR}'>x</b>"}}
    assert problems(_executed([], {"b": html})) == ["widget b shows an error message"]


def test_checker_finds_a_plot_without_image_and_a_widget_without_state():
    cell = nbformat.v4.new_code_cell("plt.plot([1, 2]); plt.show()")
    cell.outputs = [nbformat.v4.new_output("stream", text="nothing drawn")]
    view = nbformat.v4.new_code_cell("ui")
    view.outputs = [
        nbformat.v4.new_output(
            "display_data", data={WIDGET_VIEW: {"model_id": "gone", "version_major": 2}}
        )
    ]
    assert problems(_executed([cell, view], {})) == [
        "cell 0 plots but shows no image",
        "cell 1 shows widget gone with no stored state",
    ]


def test_checker_looks_for_images_inside_a_widget_s_plot_area():
    cell = nbformat.v4.new_code_cell("plt.show()")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": "iVBOR"})]
    view = nbformat.v4.new_code_cell("ui")
    view.outputs = [
        nbformat.v4.new_output(
            "display_data", data={WIDGET_VIEW: {"model_id": "box", "version_major": 2}}
        )
    ]
    image = {"output_type": "display_data", "data": {"image/png": "iVBOR"}, "metadata": {}}
    box = {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_out"]}}
    assert problems(_executed([cell, view], {"box": box, "out": _output_widget(image)})) == []
    assert problems(_executed([cell, view], {"box": box, "out": _output_widget()})) == [
        "cell 1 shows a widget whose plot area has no image"
    ]
