"""tools/project_url.py: the notebooks' Colab badges and install cells follow pyproject.toml.

The repository's notebooks match its ``[project.urls] Repository`` (unset today, so they install
nothing), and no notebook names the placeholder repository ``hjepa-lite/hjepa_lite``. On a copy
of pyproject.toml and notebooks/, a set address writes badges and install cells for exactly that
address, unsetting it restores the files byte for byte, an invalid address is refused, and
``--check`` finds an edited notebook.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TOOL = REPO / "tools" / "project_url.py"
PLACEHOLDER = "hjepa-lite/hjepa_lite"
URL = "https://github.com/Example-Owner/hjepa_lite.tutorial-2"
GITHUB = re.compile(r"github(?:\.com)?/([^/\s\"')]+/[^/\s\"')]+)")

spec = importlib.util.spec_from_file_location("project_url", TOOL)
project_url = importlib.util.module_from_spec(spec)
spec.loader.exec_module(project_url)


def notebooks(root: Path) -> list[Path]:
    """The notebooks of ``root``, sorted."""
    return sorted((root / "notebooks").glob("*.ipynb"))


def snapshot(root: Path) -> dict[str, bytes]:
    """The bytes of pyproject.toml and every notebook under ``root``."""
    files = [root / "pyproject.toml", *notebooks(root)]
    return {str(path.relative_to(root)): path.read_bytes() for path in files}


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """A copy of the repository's pyproject.toml and notebooks/."""
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(REPO / "notebooks", tmp_path / "notebooks")
    return tmp_path


def set_repository(root: Path, url: str) -> None:
    """Write ``Repository = url`` into the copy's ``[project.urls]``."""
    pyproject = root / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    assert text.count("\n[project.urls]\n") == 1
    line = f"Repository = {json.dumps(url)}"
    pyproject.write_text(text.replace("\n[project.urls]\n", f"\n[project.urls]\n{line}\n"))


def install_cell(nb: dict) -> dict:
    """The notebook's install cell (its first line starts with the tool's marker)."""
    (cell,) = [c for c in nb["cells"] if "".join(c["source"]).startswith(project_url.MARKER)]
    return cell


def test_the_notebooks_match_pyproject():
    assert project_url.main(["--check", "--root", str(REPO)]) == 0


def test_no_notebook_names_the_placeholder_repository():
    for path in notebooks(REPO):
        assert PLACEHOLDER not in path.read_text(encoding="utf-8"), path.name


def test_unset_notebooks_have_no_badge_and_install_nothing():
    assert project_url.repository_url(REPO) is None, "set: this test is for the unset state"
    for path in notebooks(REPO):
        nb = json.loads(path.read_text(encoding="utf-8"))
        text = path.read_text(encoding="utf-8")
        assert "colab.research.google.com" not in text, path.name
        source = "".join(install_cell(nb)["source"])
        assert "%pip" not in source and "raise ModuleNotFoundError" in source, path.name
        assert "make install" in source and "pip install" in source, path.name


def test_a_set_address_writes_badges_and_install_cells_for_it(copy):
    set_repository(copy, URL)
    assert project_url.main(["--root", str(copy)]) == 0
    repo = URL.removeprefix("https://github.com/")
    for path in notebooks(copy):
        text = path.read_text(encoding="utf-8")
        nb = json.loads(text)
        assert PLACEHOLDER not in text, path.name
        badge = next(c for c in nb["cells"] if c["cell_type"] == "markdown")["source"][0]
        assert badge.startswith("[![Open In Colab](https://colab.research.google.com/assets/")
        colab = f"https://colab.research.google.com/github/{repo}/blob/main/notebooks/{path.name}"
        assert badge.endswith(f"]({colab})\n"), path.name
        source = "".join(install_cell(nb)["source"])
        assert f'%pip install --quiet "hjepa_lite @ git+{URL}"' in source, path.name
        assert set(GITHUB.findall(badge + source)) == {repo}, path.name
    assert project_url.main(["--check", "--root", str(copy)]) == 0


def test_unsetting_restores_the_files_byte_for_byte(copy):
    before = snapshot(copy)
    set_repository(copy, URL)
    project_url.main(["--root", str(copy)])
    assert snapshot(copy) != before
    shutil.copy(REPO / "pyproject.toml", copy / "pyproject.toml")
    assert project_url.main(["--root", str(copy)]) == 0
    assert snapshot(copy) == before


@pytest.mark.parametrize(
    "url",
    [
        "http://evil.example/x",
        "https://github.com/a",
        "https://github.com/a/",
        "https://github.com/a/b/c",
        "http://github.com/a/b",
        "https://github.com.evil.example/a/b",
        "https://github.com/-a/b",
        "https://github.com/a--b/c",
        "https://github.com/a/b.git",
        "https://github.com/a/..",
        'https://github.com/a/b" os.system("x',
        "",
    ],
)
def test_an_invalid_address_is_refused_and_nothing_is_written(copy, url):
    set_repository(copy, url)
    before = snapshot(copy)
    run = subprocess.run(
        [sys.executable, str(TOOL), "--root", str(copy)], capture_output=True, text=True
    )
    assert run.returncode != 0
    assert "[project.urls] Repository" in run.stderr
    assert "https://github.com/<owner>/<name>" in run.stderr
    assert snapshot(copy) == before


def test_check_lists_an_edited_notebook_and_writes_nothing(copy, capsys):
    edited, *others = notebooks(copy)
    nb = json.loads(edited.read_text(encoding="utf-8"))
    install_cell(nb)["source"].append("\nprint('edited')")
    edited.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    before = snapshot(copy)
    assert project_url.main(["--check", "--root", str(copy)]) == 1
    listed = capsys.readouterr().err
    assert f"notebooks/{edited.name}" in listed
    assert not any(path.name in listed for path in others)
    assert snapshot(copy) == before
