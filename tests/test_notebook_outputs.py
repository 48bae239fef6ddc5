"""What nbmake does not check: errors stored inside widget state, plots without a picture,
and exercise solutions that fail their own checks.

nbmake runs every notebook as a learner gets it (stubs left empty: every check must handle
an unanswered exercise), and passes a notebook whose widget callback failed (the traceback
lands in the widget's state, not in a cell's outputs) or whose plotting cell drew nothing.
Here every notebook is executed once more (fast mode, in a temporary copy of the
repository's notebooks and configs) the way a learner who copied every folded code solution
would run it, with widget state stored: a solution replaces its stub cell (``return None  #
your code``), or, for an ``answer = None  # your answer`` exercise, runs just before the
check. The executed notebook is inspected, and every check must say "Correct!".
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
from notebook_runner import copy_read_by_notebooks, run_notebook  # noqa: E402  the repo's runner

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# A cell "plots" when it shows a matplotlib figure or calls one of hjepa_lite's plot helpers.
PLOTS = re.compile(r"plt\.show\(\)|\bplot_(levels|history|comparison)\(")
# Marks the error messages FusionWidget shows in its status line.
WIDGET_ERROR = "hjepa-error"
SOLUTION = re.compile(r"<summary>Show solution</summary>\s*```python\n(.*?)```", re.S)
CHECK = "# --- check ---"


def with_solutions(nb: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, list[int]]:
    """A copy of ``nb`` with every code solution filled in, and the indices of their checks."""
    nb = nbformat.from_dict(nb)
    checks = []
    for index, cell in enumerate(nb.cells):
        found = SOLUTION.search(cell.source) if cell.cell_type == "markdown" else None
        if found is None:
            continue
        solution = found.group(1).strip()
        stub = next(c for c in range(index + 1, len(nb.cells)) if nb.cells[c].cell_type == "code")
        source = nb.cells[stub].source
        if CHECK in source:  # answer = None  # your answer, then the check, in one cell
            before, after = source.split(CHECK, 1)
            nb.cells[stub].source = f"{before}\n{solution}\n{CHECK}{after}"
            checks.append(stub)
        else:  # a stub to replace; its check is the next code cell
            assert "your code" in source, f"cell {stub} is neither a stub nor a check"
            nb.cells[stub].source = solution
            check = next(
                c for c in range(stub + 1, len(nb.cells)) if nb.cells[c].cell_type == "code"
            )
            assert nb.cells[check].source.startswith(CHECK), f"cell {check} is not a check"
            checks.append(check)
    return nb, checks


def printed(cell: nbformat.NotebookNode) -> str:
    return "".join(out.get("text", "") for out in cell.outputs if out.output_type == "stream")


def test_with_solutions_fills_stubs_and_answers():
    md = "## Exercise\n<details><summary>Show solution</summary>\n\n```python\n{}\n```\n</details>"
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell(md.format("answer = 2")),
            nbformat.v4.new_code_cell(f"answer = None  # your answer\n\n{CHECK}\nprint(answer)"),
            nbformat.v4.new_markdown_cell(md.format("def f():\n    return 1")),
            nbformat.v4.new_code_cell("def f():\n    return None  # your code"),
            nbformat.v4.new_code_cell(f"{CHECK}\nprint(f())"),
        ]
    )
    filled, checks = with_solutions(nb)
    assert checks == [1, 4]
    assert filled.cells[1].source.index("answer = 2") < filled.cells[1].source.index(CHECK)
    assert filled.cells[3].source == "def f():\n    return 1"
    assert nb.cells[3].source.endswith("# your code")  # the original is left as it was


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
    copy_read_by_notebooks(root)
    (root / "notebooks").mkdir()
    for path in NOTEBOOKS:
        shutil.copy(path, root / "notebooks" / path.name)
    return root / "notebooks"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_a_solved_notebook_shows_no_hidden_error_every_plot_and_correct_checks(
    path, workdir, monkeypatch
):
    monkeypatch.setenv("HJEPA_FAST", os.environ.get("HJEPA_FAST", "1"))
    nb, checks = with_solutions(nbformat.read(workdir / path.name, as_version=4))
    nb = run_notebook(nb, workdir, store_widget_state=True)
    assert problems(nb) == []
    for index in checks:
        text = printed(nb.cells[index])
        assert "Correct!" in text, f"cell {index}: the solution fails its check:\n{text}"


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
