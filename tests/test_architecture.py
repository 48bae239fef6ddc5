"""The import graph: no cycle, the config schema at the bottom, and the subpackages in layers
that only import downward (docs/ARCHITECTURE.md)."""

import ast
import tomllib
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import hjepa_lite

PACKAGE = Path(hjepa_lite.__file__).parent
# The subpackages, bottom up: a part imports its own subpackage and the layers below its own,
# never a sibling in its layer nor anything above (data and the model know nothing of each
# other; nothing but the notebook helpers and the entry points reads the shipped weights).
LAYERS = [
    {"config", "core"},
    {"data", "model"},
    {"evaluation"},
    {"train"},
    {"shipped"},
    {"notebook"},
    {"cli"},  # the command line
    {"", "__main__"},  # the package's face, python -m hjepa_lite
]


def module_name(path: Path) -> str:
    """``config/schema.py -> "config.schema"``, ``config/__init__.py -> "config"``."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The package's modules that ``path`` imports, anywhere in it (lazy imports included)."""
    parts = module_name(path).split(".") if module_name(path) else []
    here = parts if path.name == "__init__.py" else parts[:-1]  # the module's own package
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = here[: len(here) - node.level + 1]
        elif (node.module or "").startswith("hjepa_lite."):
            base = []
        else:
            continue
        module = (node.module or "").removeprefix("hjepa_lite").lstrip(".")
        target = ".".join([*base, *([module] if module else [])])
        names.add(target)
        names |= {f"{target}.{a.name}".lstrip(".") for a in node.names}  # `from . import x`
    return names & modules


def graph() -> dict[str, set[str]]:
    paths = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {name: imports_of(path, set(paths)) - {name} for name, path in paths.items()}


def test_the_import_graph_has_no_cycle():
    try:
        order = list(TopologicalSorter(graph()).static_order())
    except CycleError as error:
        raise AssertionError(f"an import cycle: {error.args[1]}") from None
    assert order.index("config") < order.index("model.hjepa") < order.index("train.trainer")


def test_the_foundations_import_nothing_of_the_package():
    """What every other part builds on: the schema, the grid, the file and process helpers."""
    found = graph()
    for name in (
        "core.grid",
        "train.checkpoint",
        "train.distributed",
        "train.schedules",
        "notebook.tutorial_mode",
    ):
        assert not found[name], f"{name} imports {sorted(found[name])}"
    inside = {name for name in found if name.split(".")[0] == "config"}
    for name in inside:
        assert found[name] <= inside, f"{name} imports {sorted(found[name] - inside)}"


def layer_of(module: str) -> int:
    part = module.split(".")[0]
    (index,) = [i for i, layer in enumerate(LAYERS) if part in layer]
    return index


def test_every_import_points_down_the_layers():
    upward = [
        f"{name} imports {target}"
        for name, targets in graph().items()
        for target in targets
        if name.split(".")[0] != target.split(".")[0] and layer_of(target) >= layer_of(name)
    ]
    assert not upward, upward


def test_the_top_holds_only_the_face_and_the_command_line_and_every_folder_ships():
    assert {path.stem for path in PACKAGE.glob("*.py")} == {"__init__", "__main__", "cli"}
    folders = {path.parent.name for path in PACKAGE.glob("*/__init__.py")}
    assert folders == set().union(*LAYERS) - {"", "cli", "__main__"}
    pyproject = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())
    shipped = set(pyproject["tool"]["setuptools"]["packages"])
    assert {f"hjepa_lite.{folder}" for folder in folders} <= shipped
