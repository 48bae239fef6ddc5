"""How often does a kernel stall under nbclient? Many short cells, the installed ipykernel.

    python benchmarks/kernel_stall.py --notebooks 40 --cells 150 --workers 2

Executes a synthetic notebook (``--cells`` short cells: prints, a widget, a small figure, a
little arithmetic: the message kinds the tutorial's notebooks send, thousands of request/reply
round trips a minute) ``--notebooks`` times in ``--workers`` processes, each in a fresh kernel
with a ``--timeout`` s per-cell timeout, through the repository's runner
(``notebook_runner.run_notebook``, which attaches the kernel's and the client's stacks to a
timeout). A healthy cell takes milliseconds, so any timeout is a stall. Prints the installed
ipykernel / jupyter_client / pyzmq versions, cells executed, stalls and the stacks of the first.
"""

from __future__ import annotations

import argparse
import datetime
import multiprocessing
import os
import platform
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import nbformat
from nbclient.exceptions import CellTimeoutError
from notebook_runner import run_notebook

CELLS = [
    "print(i := globals().get('i', 0) + 1)",
    "import ipywidgets as w\nw.IntSlider(value=i)",
    "import matplotlib.pyplot as plt\nplt.figure(figsize=(1, 1)); plt.plot([0, i]); plt.show()",
    "sum(range(20_000))",
]


def synthetic(cells: int) -> nbformat.NotebookNode:
    first = nbformat.v4.new_code_cell("%matplotlib inline")
    body = [nbformat.v4.new_code_cell(CELLS[k % len(CELLS)]) for k in range(cells)]
    return nbformat.v4.new_notebook(cells=[first, *body])


def worker(args: tuple[int, int, int]) -> tuple[int, int, float, str]:
    """Runs ``count`` notebooks; returns (cells run, stalls, seconds, first stall's report)."""
    count, cells, timeout = args
    import notebook_runner

    notebook_runner.CELL_TIMEOUT_S["fast"] = timeout
    nb, done, stalls, report = synthetic(cells), 0, 0, ""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as workdir:
        for _ in range(count):
            try:
                run_notebook(nb, Path(workdir), mode="fast")
                done += len(nb.cells)
            except CellTimeoutError as error:
                stalls += 1
                report = report or f"{error}\n" + "\n".join(getattr(error, "__notes__", []))
    return done, stalls, time.perf_counter() - start, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--notebooks", type=int, default=40)
    parser.add_argument("--cells", type=int, default=150)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=30)
    args = parser.parse_args()
    per_worker = [args.notebooks // args.workers] * args.workers
    with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
        results = pool.map(worker, [(n, args.cells, args.timeout) for n in per_worker])
    cells = sum(r[0] for r in results)
    stalls = sum(r[1] for r in results)
    seconds = max(r[2] for r in results)
    versions = ", ".join(f"{p} {version(p)}" for p in ("ipykernel", "jupyter_client", "pyzmq"))
    print(
        f"`python benchmarks/kernel_stall.py --notebooks {args.notebooks} --cells "
        f"{args.cells} --workers {args.workers} --timeout {args.timeout}`\n"
    )
    print(
        f"{datetime.datetime.now():%Y-%m-%d %H:%M}, {platform.machine()}, {os.cpu_count()} cores\n"
    )
    print(
        f"{versions}: {args.notebooks} notebooks, {cells} cells completed in {seconds:.0f} s, "
        f"{stalls} stalled (a cell over {args.timeout} s)"
    )
    for report in (r[3] for r in results if r[3]):
        print("\nfirst stall:\n" + report[:6000])
        break


if __name__ == "__main__":
    main()
