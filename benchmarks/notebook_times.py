"""Wall-clock time of every notebook, top to bottom, in fast (CI) mode and in learner mode.

    python benchmarks/notebook_times.py                 # both modes, every notebook
    python benchmarks/notebook_times.py --modes fast    # CI mode only
    python benchmarks/notebook_times.py --keep build/executed   # also save the executed notebooks
    python benchmarks/notebook_times.py --only 04 06 --cells 3  # two notebooks, slowest cells

Runs each notebook in a fresh kernel inside a temporary copy of notebooks/ and configs/, in
order, so later notebooks find the trained runs of earlier ones (as a learner's would), and
prints a Markdown table for the README.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time
from pathlib import Path

import nbformat
import torch
from notebook_runner import notebook_workdir, run_notebook

REPO = Path(__file__).parent.parent


def slowest_cells(nb: nbformat.NotebookNode, count: int) -> list[tuple[float, int]]:
    """``[(seconds, cell index)]`` of the ``count`` slowest code cells (nbclient's timings)."""
    times = []
    for index, cell in enumerate(nb.cells):
        timing = cell.get("metadata", {}).get("execution", {})
        if cell.cell_type == "code" and "iopub.execute_input" in timing:
            start = datetime.datetime.fromisoformat(timing["iopub.execute_input"].rstrip("Z"))
            end = datetime.datetime.fromisoformat(timing["shell.execute_reply"].rstrip("Z"))
            times.append(((end - start).total_seconds(), index))
    return sorted(times, reverse=True)[:count]


def run_all(
    mode: str, notebooks: list[Path], keep: Path | None = None, cells: int = 0
) -> dict[str, float]:
    times = {}
    with notebook_workdir(mode) as workdir:
        for path in notebooks:
            start = time.perf_counter()
            nb = run_notebook(nbformat.read(path, as_version=4), workdir)
            times[path.name] = time.perf_counter() - start
            if keep is not None:  # the executed notebook, outputs included, to look at
                (keep / mode).mkdir(parents=True, exist_ok=True)
                nbformat.write(nb, keep / mode / path.name)
            print(f"{mode:7s} {path.name:36s} {times[path.name]:6.0f} s", flush=True)
            for seconds, index in slowest_cells(nb, cells):
                print(f"            cell {index:3d}: {seconds:6.1f} s", flush=True)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--modes", nargs="+", default=["fast", "learner"])
    parser.add_argument("--keep", type=Path, help="save the executed notebooks under this folder")
    parser.add_argument(
        "--only", nargs="+", default=[], help="notebooks whose names start with these, e.g. 04"
    )
    parser.add_argument("--cells", type=int, default=0, help="print the N slowest cells")
    args = parser.parse_args()
    notebooks = sorted((REPO / "notebooks").glob("*.ipynb"))
    if args.only:
        notebooks = [path for path in notebooks if path.name.startswith(tuple(args.only))]
        if not notebooks:
            parser.error(f"--only {' '.join(args.only)} names no notebook in notebooks/")
    results = {mode: run_all(mode, notebooks, args.keep, args.cells) for mode in args.modes}
    only = f" --only {' '.join(args.only)}" if args.only else ""
    print(f"\n`python benchmarks/notebook_times.py --modes {' '.join(args.modes)}{only}`\n")
    print(
        f"{datetime.date.today()}, {platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads\n"
    )
    print("| notebook | " + " | ".join(f"{mode} mode" for mode in args.modes) + " |")
    print("|---|" + "---:|" * len(args.modes))
    for path in notebooks:
        cells = [f"{results[mode][path.name]:.0f} s" for mode in args.modes]
        print(f"| {path.name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
