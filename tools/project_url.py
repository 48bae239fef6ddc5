"""Write each notebook's Colab badge and install cell from the project's public address.

The address lives in one place, pyproject.toml's ``[project.urls]`` key ``Repository``
(``https://github.com/<owner>/<name>``). When it is set, the first markdown cell of every
notebook starts with an "Open in Colab" badge for that repository, and the install cell installs
``hjepa_lite`` from it when it is missing. When it is unset, there is no badge and the install
cell installs nothing: it says how to install instead.

    python tools/project_url.py            # rewrite notebooks/*.ipynb
    python tools/project_url.py --check    # write nothing; exit 1 listing what differs

Only those two cells' ``source`` change; the rest of each notebook keeps its bytes.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
KEY = "[project.urls] Repository"
EXPECTED = "https://github.com/<owner>/<name>"
# GitHub's rules: an owner is 1-39 letters, digits or single inner hyphens; a repository name
# is letters, digits, '.', '_' and '-' (not '.' or '..'; a trailing '.git' is not part of it).
GITHUB_URL = re.compile(
    r"https://github\.com/"
    r"(?P<owner>[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38})/"
    r"(?P<name>(?!\.\.?$)(?!.*\.git$)[A-Za-z0-9._-]{1,100})"
)
BADGE_PREFIX = "[![Open In Colab]("
BADGE = (
    "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
    "(https://colab.research.google.com/github/{repo}/blob/main/notebooks/{file})\n"
)
MARKER = "# Install hjepa_lite when it is missing"
INSTALL = f"""{MARKER} (outside a clone, e.g. on Colab). Its dependencies do
# not pin torch, so a hosted service keeps the torch it comes with.
try:
    import hjepa_lite  # noqa: F401
except ImportError:
    %pip install --quiet "hjepa_lite @ git+{{url}}\""""
NO_INSTALL = f"""{MARKER}: the error below says how (this notebook installs
# nothing until the project's public address is set in pyproject.toml's [project.urls]).
try:
    import hjepa_lite  # noqa: F401
except ImportError as error:
    raise ModuleNotFoundError(
        "hjepa_lite is not installed. In a clone of the project: `make install`, then "
        "`make lab`. Elsewhere: `pip install .` inside a clone of the project's repository "
        "(README.md, Quickstart)."
    ) from error"""


def repository_url(root: Path) -> str | None:
    """``[project.urls].Repository`` of ``root``'s pyproject.toml, checked; None when unset."""
    with open(root / "pyproject.toml", "rb") as file:
        project = tomllib.load(file).get("project", {})
    url = project.get("urls", {}).get("Repository")
    if url is None:
        return None
    if not isinstance(url, str) or not GITHUB_URL.fullmatch(url):
        raise SystemExit(f"pyproject.toml: {KEY} must be {EXPECTED}, not {url!r}")
    return url


def lines(text: str) -> list[str]:
    """A cell's ``source`` as notebooks store it: lines that keep their newline."""
    return text.splitlines(keepends=True)


def with_badge(source: list[str], url: str | None, file: str) -> list[str]:
    """The first markdown cell's lines, starting with the badge iff ``url`` is set."""
    if source and source[0].startswith(BADGE_PREFIX):
        source = source[2:] if source[1:2] == ["\n"] else source[1:]
    if url is None:
        return source
    repo = url.removeprefix("https://github.com/")
    return [BADGE.format(repo=repo, file=file), "\n", *source]


def install_source(url: str | None) -> list[str]:
    """The install cell's lines: install from ``url``, or, when unset, say how to install."""
    return lines(NO_INSTALL if url is None else INSTALL.format(url=url))


def cell_text(cell: dict) -> str:
    """A cell's source as one string (notebooks may store a list of lines or one string)."""
    source = cell["source"]
    return source if isinstance(source, str) else "".join(source)


def rewritten(path: Path, url: str | None) -> str:
    """The text of notebook ``path`` with its badge and install cell written for ``url``."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    cells = nb["cells"]
    markdown = next((c for c in cells if c["cell_type"] == "markdown"), None)
    install = next(
        (c for c in cells if c["cell_type"] == "code" and cell_text(c).startswith(MARKER)), None
    )
    if markdown is None or install is None:
        raise SystemExit(
            f"{path}: needs a markdown cell and an install cell (a code cell whose first line "
            f"starts with {MARKER!r})"
        )
    markdown["source"] = with_badge(lines(cell_text(markdown)), url, path.name)
    install["source"] = install_source(url)
    install["outputs"] = []
    install["execution_count"] = None
    # The notebooks' own format (nbformat's): one-space indent, UTF-8 as is, a final newline.
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Rewrite (or with --check, compare) every notebooks/*.ipynb; the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 on a diff")
    parser.add_argument("--root", type=Path, default=REPO, help="the project (default: this one)")
    args = parser.parse_args(argv)
    url = repository_url(args.root)
    differ = []
    for path in sorted((args.root / "notebooks").glob("*.ipynb")):
        text = rewritten(path, url)
        if text == path.read_text(encoding="utf-8"):
            continue
        differ.append(path)
        if not args.check:
            path.write_text(text, encoding="utf-8")
    if args.check and differ:
        names = "\n  ".join(str(path.relative_to(args.root)) for path in differ)
        print(
            f"These notebooks differ from pyproject.toml's {KEY} "
            f"(run `python tools/project_url.py`):\n  {names}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
