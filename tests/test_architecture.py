"""The import graph: no cycle, and the config schema at the bottom (docs/ARCHITECTURE.md)."""

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import hjepa_lite

PACKAGE = Path(hjepa_lite.__file__).parent


def imports_of(path: Path) -> set[str]:
    """The package's modules that ``path`` imports, anywhere in it (lazy imports included)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            names |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("hjepa_lite."):
            names.add(node.module.split(".")[1])
    return names


def graph() -> dict[str, set[str]]:
    modules = {path.stem: path for path in PACKAGE.glob("*.py")}
    return {name: imports_of(path) & set(modules) - {name} for name, path in modules.items()}


def test_the_import_graph_has_no_cycle():
    try:
        order = list(TopologicalSorter(graph()).static_order())
    except CycleError as error:
        raise AssertionError(f"an import cycle: {error.args[1]}") from None
    assert order.index("config") < order.index("hjepa") < order.index("trainer")


def test_the_foundations_import_nothing_of_the_package():
    """What every other part builds on: the schema, the grid, the file and process helpers."""
    found = graph()
    for name in ("config", "grid", "checkpoint", "distributed", "schedules", "tutorial_mode"):
        assert not found[name], f"{name} imports {sorted(found[name])}"
