"""The import graph: no cycle, and the config schema at the bottom (docs/ARCHITECTURE.md)."""

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import hjepa_lite

PACKAGE = Path(hjepa_lite.__file__).parent


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
    assert order.index("config") < order.index("hjepa") < order.index("trainer")


def test_the_foundations_import_nothing_of_the_package():
    """What every other part builds on: the schema, the grid, the file and process helpers."""
    found = graph()
    for name in ("grid", "checkpoint", "distributed", "schedules", "tutorial_mode"):
        assert not found[name], f"{name} imports {sorted(found[name])}"
    inside = {name for name in found if name.split(".")[0] == "config"}
    for name in inside:
        assert found[name] <= inside, f"{name} imports {sorted(found[name] - inside)}"
