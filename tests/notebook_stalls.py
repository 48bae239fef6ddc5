"""Notebook stalls, made visible: the stacks of a notebook test's kernel, and a rerun counted.

nbmake runs each notebook in ``notebooks/`` as a test, in a kernel it starts itself. When a
notebook test is still running after ``STALL_S`` seconds (a fast-mode notebook takes ~20 s in
all; ``make test`` times a cell out at 120 s), this hook takes the Python stacks of every
kernel the test process started and of the process itself (``py-spy dump``, see
``benchmarks/notebook_runner.py``) and, once the test ends, reports them as a
``NotebookStallWarning`` in pytest's warnings summary. ``make test`` reruns a notebook whose
cell timed out once (pytest-rerunfailures, ``--only-rerun``) and pytest's summary line counts
it ("1 rerun"): a stall is never silent, and the stacks say where it was.

A plugin loaded by name (``-p notebook_stalls`` in pyproject.toml's pytest options) rather than
a conftest: pytest applies a conftest only to the tests below its folder, and the notebook
tests are collected from ``notebooks/``.
"""

from __future__ import annotations

import sys
import threading
import warnings
from pathlib import Path

import psutil
import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
from notebook_runner import NotebookStallWarning, stacks  # noqa: E402  the repo's runner

STALL_S = 105.0  # 15 s before make test's 120 s cell timeout


def _dump(item: pytest.Item) -> None:
    kernels = [
        child
        for child in psutil.Process().children(recursive=True)
        if "ipykernel_launcher" in " ".join(child.cmdline())
    ]
    parts = [f"kernel (pid {k.pid}):\n{stacks(k.pid)}" for k in kernels]
    parts.append(f"test process (pid {psutil.Process().pid}):\n{stacks(psutil.Process().pid)}")
    item.stall_report = f"{item.nodeid} ran over {STALL_S:.0f} s; stacks:\n" + "\n".join(parts)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item):
    if type(item).__name__ != "NotebookItem":  # nbmake's; other tests time themselves
        yield
        return
    timer = threading.Timer(STALL_S, _dump, args=(item,))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        report = getattr(item, "stall_report", None)
        if report:
            del item.stall_report
            warnings.warn(NotebookStallWarning(report), stacklevel=1)
