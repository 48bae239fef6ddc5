"""Notebooks are stored clean: no outputs, python3 kernel, valid, numbered 00, 01, ..."""

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


def problems(path: Path) -> list[str]:
    """What is wrong with one notebook file (empty list = clean)."""
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None):
            found.append(f"cell {index} has saved outputs (strip them: nbstripout)")
    if nb.metadata.get("kernelspec", {}).get("name") != "python3":
        found.append("kernel is not 'python3'")
    if not re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", path.name):
        found.append("name is not NN_snake_case.ipynb")
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_clean(path):
    assert problems(path) == []


def test_notebooks_are_numbered_from_00_without_gaps():
    numbers = [int(path.name[:2]) for path in NOTEBOOKS]
    assert numbers == list(range(len(numbers)))


def test_the_checker_catches_outputs_and_kernels(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", text="1")]
    nb.metadata["kernelspec"] = {"name": "other", "display_name": "x", "language": "python"}
    path = tmp_path / "Bad Name.ipynb"
    nbformat.write(nb, path)
    assert len(problems(path)) == 3
