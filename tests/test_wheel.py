"""Outside a clone: the package carries its configs, and notebook 00 runs from a built wheel.

The repository's configs/ installs as the package ``hjepa_lite.configs`` (pyproject.toml), so
``load_config("tiny_fpn_add")`` works wherever hjepa_lite is installed. The slow test builds a
wheel from a copy of the sources (``pip wheel --no-deps``), installs it with ``--no-deps`` into
a fresh folder put first on PYTHONPATH (the venv's packages provide the dependencies), and runs
notebook 00 in a folder outside the repository, as a learner on a hosted service would.
"""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from hjepa_lite.config import Config, load_config

REPO = Path(__file__).parent.parent
CONFIGS = sorted((REPO / "configs").glob("*.yaml"))
NOTEBOOK = REPO / "notebooks" / "00_overview.ipynb"
SOURCES = ["pyproject.toml", "README.md", "hjepa_lite", "configs"]
# Appended to notebook 00 in the test: where hjepa_lite and a config came from.
WHERE = """import hjepa_lite
print("hjepa_lite from", hjepa_lite.__file__)
print("config", hjepa_lite.load_config("tiny_fpn_add")["model"]["fpn"]["fusion_method"])"""
# Runs the notebook with nbclient in a process whose PYTHONPATH starts with the wheel's folder.
EXECUTE = """import sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": "."}}
               ).execute()
nbformat.write(nb, sys.argv[1])"""


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_every_config_loads_by_name(path):
    assert load_config(path.stem) == load_config(path) == load_config(str(path))


def test_a_name_works_where_a_path_does_and_an_unknown_name_lists_the_configs():
    assert Config.from_yaml("tiny_fpn_add") == Config.from_yaml(REPO / "configs/tiny_fpn_add.yaml")
    with pytest.raises(FileNotFoundError, match="tiny_fpn_add"):
        load_config("no_such_config")
    with pytest.raises(FileNotFoundError):
        load_config("no_such_config.yaml")  # a file name is a path, relative to the cwd


@pytest.mark.slow
def test_notebook_00_runs_from_an_installed_wheel(tmp_path):
    source, dist, site, learner = (tmp_path / name for name in ("src", "dist", "site", "learner"))
    source.mkdir()
    skip = shutil.ignore_patterns("__pycache__")
    for name in SOURCES:  # a copy: the build writes build/ and *.egg-info beside the sources
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=skip)
        else:
            shutil.copy(REPO / name, source / name)
    pip = [sys.executable, "-m", "pip", "--quiet"]
    subprocess.run([*pip, "wheel", str(source), "--no-deps", "--no-build-isolation", "-w", dist],
                   check=True)  # fmt: skip
    (wheel,) = dist.glob("hjepa_lite-*.whl")
    shipped = {Path(name).name for name in zipfile.ZipFile(wheel).namelist()}
    assert {path.name for path in CONFIGS} <= shipped
    subprocess.run([*pip, "install", "--no-deps", "--target", site, wheel], check=True)

    learner.mkdir()
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(WHERE))
    nbformat.write(nb, learner / NOTEBOOK.name)
    env = {**os.environ, "PYTHONPATH": str(site), "HJEPA_FAST": os.environ.get("HJEPA_FAST", "1")}
    run = subprocess.run(
        [sys.executable, "-c", EXECUTE, NOTEBOOK.name],
        cwd=learner,
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    last = nbformat.read(learner / NOTEBOOK.name, as_version=4).cells[-1]
    printed = "".join(output.get("text", "") for output in last.outputs)
    assert f"hjepa_lite from {site / 'hjepa_lite' / '__init__.py'}" in printed
    assert "config add" in printed
