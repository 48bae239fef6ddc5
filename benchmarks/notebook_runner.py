"""The repository's one way to execute a notebook: a fresh kernel, a short per-cell timeout,
and a stack dump of kernel and client when a cell stalls.

Used by the exercise-solution and notebook-output tests, the site build and the timing
benchmarks (nbmake runs the notebooks once more with its own runner and ``--nbmake-timeout``).

Why a short timeout and no silent rerun: a fast-mode cell needs seconds, so a cell that runs
for minutes is a stall (the kernel and the client both waiting, idle, until the timeout).
Rerunning the notebook quietly after a 600 s timeout once hid ten minutes of nothing inside a
passing test run. A stall now ends within ``CELL_TIMEOUT_S[mode]`` with the cell named and,
with ``py-spy`` installed (the test extra has it), the Python stacks of the kernel and of this
process: attached to the error, and issued as a :class:`NotebookStallWarning` (pytest lists it
in its warnings summary). A rerun happens only when asked for (``reruns``; the site build
asks for one) and is printed with those stacks; under pytest, ``make test`` reruns a
timed-out test once with pytest-rerunfailures, which counts it in the summary line.

    >>> with notebook_workdir("fast") as workdir:
    ...     executed = run_notebook(nbformat.read("notebooks/00_overview.ipynb", 4), workdir)
"""

from __future__ import annotations

import contextlib
import copy
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError

REPO = Path(__file__).parent.parent

# Seconds a cell may run. Fast mode: the slowest cell takes ~10 s on 2 busy cores. Learner
# mode: the site build's widget galleries re-measure the widget for every state in one cell.
CELL_TIMEOUT_S = {"fast": 120, "learner": 900}


def copy_read_by_notebooks(root: Path) -> None:
    """Copy what notebooks read outside notebooks/ into ``root``: configs/, saved results."""
    shutil.copytree(REPO / "configs", root / "configs")
    shutil.copytree(REPO / "benchmarks" / "results", root / "benchmarks" / "results")


@contextlib.contextmanager
def notebook_workdir(mode: str):
    """A temporary copy of configs/ and benchmarks/results/ (notebook 09 shows a saved table)
    with an empty notebooks/ beside it (the folder notebooks run in, as in a clone), and
    ``HJEPA_FAST`` set for ``mode`` ("fast" or "learner") until the block ends."""
    if mode not in CELL_TIMEOUT_S:
        raise ValueError(f"mode={mode!r}; valid choices: {tuple(CELL_TIMEOUT_S)}")
    before = os.environ.get("HJEPA_FAST")
    os.environ["HJEPA_FAST"] = "1" if mode == "fast" else "0"
    try:
        with tempfile.TemporaryDirectory() as root:
            copy_read_by_notebooks(Path(root))
            (Path(root) / "notebooks").mkdir()
            yield Path(root) / "notebooks"
    finally:
        if before is None:
            del os.environ["HJEPA_FAST"]
        else:
            os.environ["HJEPA_FAST"] = before


class NotebookStallWarning(UserWarning):
    """A notebook cell ran for minutes; the message holds the stacks taken at that time."""


def stacks(pid: int) -> str:
    """The Python stacks of process ``pid`` (``py-spy dump``), or why there are none."""
    spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if spy is None:
        return f"(no stacks of pid {pid}: py-spy is not installed; `pip install py-spy`)"
    done = subprocess.run([spy, "dump", "--pid", str(pid)], capture_output=True, text=True)
    return done.stdout + done.stderr


class _Watchdog:
    """Dumps the kernel's and this process's stacks once a cell has run ``after_s`` seconds."""

    def __init__(self, client: NotebookClient, after_s: float) -> None:
        self.client, self.after_s = client, after_s
        self.started: float | None = None
        self.report = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def cell_started(self, **_) -> None:
        self.started = time.monotonic()

    def cell_done(self, **_) -> None:
        self.started = None

    def _watch(self) -> None:
        while not self._stop.wait(1.0):
            if self.started is None or time.monotonic() - self.started < self.after_s:
                continue
            self.started = None  # one dump per cell
            process = getattr(getattr(self.client.km, "provisioner", None), "process", None)
            kernel = f"kernel (pid {process.pid}):\n{stacks(process.pid)}" if process else ""
            self.report = (
                f"a cell ran {self.after_s:.0f} s; stacks at that moment:\n{kernel}\n"
                f"client (pid {os.getpid()}):\n{stacks(os.getpid())}"
            )

    def __enter__(self) -> _Watchdog:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def run_notebook(nb, workdir: Path, mode: str | None = None, reruns: int = 0, **client_options):
    """Execute a copy of ``nb`` top to bottom in a fresh kernel in ``workdir``; returns it.

    ``mode`` ("fast" or "learner"; default: from ``HJEPA_FAST``) sets the per-cell timeout
    (``CELL_TIMEOUT_S``). A cell over it raises ``CellTimeoutError`` naming the cell, with the
    stacks of kernel and client taken shortly before, unless ``reruns`` allows another
    attempt in a new kernel: each rerun is printed to stderr with those stacks."""
    mode = mode or ("fast" if os.environ.get("HJEPA_FAST") == "1" else "learner")
    for attempt in range(reruns + 1):
        try:
            return _execute(nb, workdir, CELL_TIMEOUT_S[mode], client_options)
        except CellTimeoutError as error:
            if attempt == reruns:
                raise
            notes = "\n".join(getattr(error, "__notes__", []))
            print(
                f"RERUN {attempt + 1} of {reruns}: a cell timed out:\n{error}\n{notes}",
                file=sys.stderr,
                flush=True,
            )
    raise AssertionError("unreachable")


def _execute(nb, workdir: Path, timeout: int, client_options: dict):
    """One attempt of :func:`run_notebook`."""
    run = copy.deepcopy(nb)
    client = NotebookClient(
        run,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(workdir)}},
        **client_options,
    )
    with _Watchdog(client, after_s=max(timeout - 15, timeout * 0.8)) as watchdog:
        client.on_cell_execute = watchdog.cell_started
        client.on_cell_executed = watchdog.cell_done
        try:
            client.execute()
        except CellTimeoutError as error:
            error.add_note(watchdog.report or "(no stacks: the watchdog had not fired)")
            raise
        finally:
            if watchdog.report:
                warnings.warn(NotebookStallWarning(watchdog.report), stacklevel=3)
    return run
