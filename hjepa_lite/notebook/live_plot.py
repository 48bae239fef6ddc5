"""Training you can watch: a ``Trainer.fit`` callback that redraws the history as it grows.

::

    trainer.fit(callback=LivePlot(every_s=3.0))

    live = LivePlot()                      # or one figure for several models in turn
    for name, path in CONFIGS.items():     # (one row each, labelled by out_dir's name)
        Trainer(path, out_dir=RUNS / name).fit(callback=live)

The callback runs after every optimizer step, but it redraws at most once every ``every_s``
seconds (the check is one clock read and a comparison: microseconds), and always after the
last step. In Jupyter it updates one output in place; elsewhere it draws into ``figure``
without showing it (save it with ``live.figure.savefig(...)``).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .viz import plot_history

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..train.trainer import Trainer

__all__ = ["LivePlot"]


def _in_kernel() -> bool:
    """True inside a Jupyter kernel (a terminal IPython or plain Python cannot show figures
    through ``display``: without a shell it only prints the figure's repr)."""
    ipython = sys.modules.get("IPython")  # never imported: certainly not in a kernel
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


class LivePlot:
    """A ``Trainer.fit`` callback drawing per-level losses (running mean) and RankMe per level
    and of the encoder (:func:`~hjepa_lite.notebook.viz.plot_history`), one row per run.

    Args:
        every_s: redraw at most once per this many seconds of wall time (``clock``); the
            very first step and every run's last step (``trainer.step == trainer.total_steps``)
            always redraw.
        label: the row's name: a string, or a function of the trainer; None = the name of the
            trainer's ``out_dir``, else ``run <i>``.
        smooth: running-mean window of the losses (``plot_history``'s).
        clock: the time source, in seconds (tests pass a fake one).
        redraw_each_run: False: no forced redraw at a run's last step (the timed ones stay);
            call :meth:`draw` after the last run. For many short runs, where each forced
            redraw (~1 s in Jupyter) would cost more than the training (notebook 05's fast mode).

    A trainer with a new ``history`` starts a new row; earlier runs stay drawn. ``redraws``
    counts redraws; ``figure`` is the matplotlib figure (None before the first redraw).
    After an interrupted ``fit``, :meth:`draw` shows the steps since the last redraw.
    """

    def __init__(
        self,
        every_s: float = 3.0,
        label: str | Callable[[Trainer], str] | None = None,
        smooth: int = 20,
        clock: Callable[[], float] = time.monotonic,
        redraw_each_run: bool = True,
    ) -> None:
        self.every_s, self.label, self.smooth, self.clock = every_s, label, smooth, clock
        self.redraw_each_run = redraw_each_run
        self.redraws = 0
        self.figure: Figure | None = None
        self.runs: list[dict[str, Any]] = []  # {label, history, step, total_steps} per row
        self._axes = None
        self._stale_from = 0  # rows from here on are redrawn
        self._last = -math.inf  # clock() after the last redraw
        self._history: dict | None = None  # the current run's, to tell a new run by identity
        self._handle = None  # the Jupyter display handle, once shown

    def __call__(self, trainer: Trainer) -> None:
        """After every step: redraw if ``every_s`` has passed or this was the last step (a new
        run's row appears at its first redraw, not at once: a redraw costs ~1 s in Jupyter)."""
        self._track(trainer)
        last = self.redraw_each_run and trainer.step >= trainer.total_steps
        if last or self.clock() - self._last >= self.every_s:
            self.draw()

    def draw(self, trainer: Trainer | None = None) -> None:
        """Redraw now (the current run's row; every row when a run was added) and show it."""
        if trainer is not None:
            self._track(trainer)
        if not self.runs:
            return
        if self._axes is None or len(self._axes) != len(self.runs):  # a run was added
            self._new_figure()
        for row in range(self._stale_from, len(self.runs)):
            self._draw_row(row)
        self._stale_from = len(self.runs) - 1  # finished runs' rows do not change
        self._show()
        self.redraws += 1
        self._last = self.clock()  # after drawing: a slow redraw cannot starve training

    # -- helpers -----------------------------------------------------------------------

    def _track(self, trainer: Trainer) -> None:
        """Note the trainer's step; a new ``history`` is a new run (a new row)."""
        if trainer.history is not self._history:
            self._history = trainer.history
            self.runs.append({"label": self._label(trainer), "history": trainer.history})
        self.runs[-1].update(step=trainer.step, total_steps=trainer.total_steps)

    def _label(self, trainer: Trainer) -> str:
        if callable(self.label):
            return self.label(trainer)
        if self.label is not None:
            return self.label
        out_dir = getattr(trainer, "out_dir", None)
        return out_dir.name if out_dir is not None else f"run {len(self.runs) + 1}"

    def _new_figure(self) -> None:
        """One row of two axes per run (every row is drawn again on the next redraw)."""
        import matplotlib.pyplot as plt

        rows = len(self.runs)
        self.figure, self._axes = plt.subplots(
            rows, 2, figsize=(11, 3.2 * rows), squeeze=False, layout="constrained"
        )
        plt.close(self.figure)  # shown only through display(): no second copy from inline
        self._stale_from = 0

    def _draw_row(self, row: int) -> None:
        run, axes = self.runs[row], self._axes[row]
        for ax in axes:
            ax.clear()
        if run["history"].get("loss"):  # plot_history needs at least one step
            plot_history(run["history"], axes=axes, label=run["label"], smooth=self.smooth)
        where = f"step {run['step']} of {run['total_steps']}"
        axes[0].set_title(f"{run['label']}, {where}: loss per level (running mean)", fontsize=10)

    def _show(self) -> None:
        if self._handle is None:
            if not _in_kernel():
                return
            from IPython.display import display

            self._handle = display(self.figure, display_id=True)
        else:
            self._handle.update(self.figure)
