"""Every exercise's folded code solution passes the exercise's own check.

Each notebook with a code solution runs in fast mode with the solutions filled in, the way a
learner who copied them would run it: a solution replaces its stub cell (``return None  #
your code``), or, for an ``answer = None  # your answer`` exercise, runs just before the
check. The check cells must then say "Correct!". The notebooks' own nbmake run (stubs left
empty) shows that every check handles an unanswered exercise.
"""

import re
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
from notebook_runner import notebook_workdir, run_notebook  # noqa: E402  the repo's runner

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
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


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_solutions_pass_their_checks(path):
    nb, checks = with_solutions(nbformat.read(path, as_version=4))
    if not checks:
        pytest.skip("no exercise with a code solution")
    with notebook_workdir("fast") as workdir:
        nb = run_notebook(nb, workdir)
    for index in checks:
        text = printed(nb.cells[index])
        assert "Correct!" in text, f"cell {index}: the solution fails its check:\n{text}"
