"""Notebooks are stored clean: no outputs, python3 kernel, valid, numbered 00, 01, ...

What is checked is what git would commit, not the file on disk, so that a learner who ran and
saved a notebook still passes ``make test``: a tracked notebook is read from git's index (the
staged blob, ``git show :path``). ``make install`` registers nbstripout as the clone's clean
filter (.gitattributes names it), so ``git add`` stages the notebook without its outputs. A
notebook git does not track yet is read through that filter when it is registered, else from
disk, as is every notebook outside a git clone.
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


def git(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True)


def committed_text(path: Path) -> str:
    """The notebook as git would commit it (see the module docstring)."""
    folder = path.parent
    if not shutil.which("git") or git(folder, "rev-parse", "--is-inside-work-tree").returncode:
        return path.read_text()
    staged = git(folder, "show", f":./{path.name}")
    if staged.returncode == 0:
        return staged.stdout
    clean = git(folder, "config", "--get", "filter.nbstripout.clean").stdout.strip()
    if clean and git(folder, "check-attr", "filter", "--", path.name).stdout.endswith(
        ": nbstripout\n"
    ):
        filtered = subprocess.run(
            clean, shell=True, cwd=folder, input=path.read_text(), capture_output=True, text=True
        )
        assert filtered.returncode == 0, f"the clean filter failed: {filtered.stderr}"
        return filtered.stdout
    return path.read_text()


def problems(path: Path) -> list[str]:
    """What is wrong with one notebook as git would commit it (empty list = clean)."""
    nb = nbformat.reads(committed_text(path), as_version=4)
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


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_leaves_the_fast_switch_to_tutorial_mode(path):
    """HJEPA_FAST is read in one place, hjepa_lite.notebook.tutorial_mode (FAST, budget()): a
    notebook that read it itself could disagree with it on what a value means. Checks the file on
    disk (the code a kernel runs; the clean filter strips outputs only)."""
    nb = nbformat.read(path, as_version=4)
    readers = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and re.search(r"(environ|getenv)\b.*HJEPA_FAST", cell.source)
    ]
    assert not readers, f"cells {readers} read HJEPA_FAST: use hjepa_lite.notebook.tutorial_mode"


def test_notebooks_are_numbered_from_00_without_gaps():
    numbers = [int(path.name[:2]) for path in NOTEBOOKS]
    assert numbers == list(range(len(numbers)))


def _notebook(outputs: bool = False, kernel: str = "python3") -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": "x", "language": "python"}
    if outputs:
        nb.cells[0].outputs = [nbformat.v4.new_output("stream", text="1")]
        nb.cells[0].execution_count = 1
    return nb


def test_the_checker_catches_outputs_and_kernels(tmp_path):
    path = tmp_path / "Bad Name.ipynb"  # outside a git clone: the file itself is checked
    nbformat.write(_notebook(outputs=True, kernel="other"), path)
    assert len(problems(path)) == 3


@pytest.mark.skipif(not shutil.which("git"), reason="git is not installed")
def test_a_saved_notebook_passes_and_what_git_would_commit_is_checked(tmp_path):
    def run(*args):
        assert git(tmp_path, *args).returncode == 0, args

    run("init", "-q")
    run("config", "user.email", "learner@example.com")
    run("config", "user.name", "learner")
    path = tmp_path / "00_learner.ipynb"
    nbformat.write(_notebook(), path)
    run("add", path.name)
    run("commit", "-q", "-m", "clean notebook")
    nbformat.write(_notebook(outputs=True), path)  # the learner runs and saves it
    assert problems(path) == []
    run("add", path.name)  # staged with outputs and no filter: the checker must see them
    assert problems(path) == ["cell 0 has saved outputs (strip them: nbstripout)"]

    # With the filter that `make install` registers, `git add` stages it clean.
    run("config", "filter.nbstripout.clean", f'"{sys.executable}" -m nbstripout --keep-id')
    (tmp_path / ".gitattributes").write_text("*.ipynb filter=nbstripout\n")
    run("add", path.name)
    assert problems(path) == []
    new = tmp_path / "01_new.ipynb"  # not tracked yet: read through the filter
    nbformat.write(_notebook(outputs=True), new)
    assert problems(new) == []
