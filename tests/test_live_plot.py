"""LivePlot: throttled redraws, the last step always drawn, one Jupyter output updated in place."""

from __future__ import annotations

import io
import math
import time
import warnings
from pathlib import Path

import matplotlib
import pytest
from conftest import tiny_config

import hjepa_lite.notebook.live_plot as live_plot
from hjepa_lite.data.shapes import ShapesDataset
from hjepa_lite.notebook.live_plot import LivePlot
from hjepa_lite.train.trainer import Trainer

matplotlib.use("Agg")
NAN = float("nan")


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class FakeTrainer:
    """What LivePlot reads of a Trainer: ``history``, ``step``, ``total_steps``, ``out_dir``."""

    def __init__(self, total_steps: int = 10, out_dir: str | None = None) -> None:
        self.step, self.total_steps = 0, total_steps
        self.out_dir = Path(out_dir) if out_dir else None
        self.history: dict[str, list[float]] = {
            key: [] for key in ("loss", "loss_0", "loss_1", "loss_2", "images_per_s", "lr")
        }

    def advance(self, levels: tuple[float, float, float] | None = None) -> FakeTrainer:
        """One step's log, as Trainer.train_step writes it (ranks every 25 steps and last)."""
        levels = levels or tuple(1 / (self.step + 1 + i) for i in range(3))
        self.history["loss"].append(math.fsum(x for x in levels if not math.isnan(x)))
        for level, value in enumerate(levels):
            self.history[f"loss_{level}"].append(value)
        if self.step % 25 == 0 or self.step == self.total_steps - 1:
            for key in ("rank_step", "rank_0", "rank_1", "rank_2", "rank_encoder"):
                self.history.setdefault(key, []).append(self.step if key == "rank_step" else 5.0)
        self.step += 1
        return self


def render(live: LivePlot) -> bytes:
    """What the inline backend does with the figure: a PNG."""
    buffer = io.BytesIO()
    live.figure.savefig(buffer, format="png")
    return buffer.getvalue()


def test_redraws_at_most_once_per_interval(capsys):
    clock, trainer = FakeClock(), FakeTrainer(total_steps=100)
    live = LivePlot(every_s=3.0, clock=clock)
    for _ in range(10):  # the first step draws, the next nine fall within 3 s of it
        clock.now += 0.2
        live(trainer.advance())
    assert live.redraws == 1
    clock.now += 3.0
    live(trainer.advance())
    assert live.redraws == 2
    for _ in range(5):
        clock.now += 0.5
        live(trainer.advance())
    assert live.redraws == 2
    assert capsys.readouterr().out == "", "outside Jupyter nothing is printed"


def test_the_last_step_always_redraws_and_draw_shows_an_interrupted_run():
    clock, trainer = FakeClock(), FakeTrainer(total_steps=4)
    live = LivePlot(every_s=60.0, clock=clock)  # the clock never moves
    for _ in range(4):
        live(trainer.advance())
    assert live.redraws == 2  # the first step and the last
    assert live.figure.axes[0].get_title().startswith("run 1, step 4 of 4:")
    live.draw()  # e.g. after KeyboardInterrupt: no trainer needed
    assert live.redraws == 3
    assert LivePlot().draw() is None  # nothing to draw yet: no figure, no error


@pytest.fixture(scope="module")
def data():
    from hjepa_lite.data.datasets import train_transform

    return ShapesDataset("train", img_size=64, num_images=16, transform=train_transform(64))


def test_it_is_a_trainer_fit_callback(data):
    live = LivePlot(every_s=60.0, clock=FakeClock())
    trainer = Trainer(tiny_config(steps=3), progress=False, dataset=data)
    trainer.fit(callback=live)
    assert live.redraws == 2  # after step 1 and after step 3 (the last)
    losses, ranks = live.figure.axes[:2]
    assert [line.get_label() for line in losses.get_lines()] == ["run 1 L0", "run 1 L1", "run 1 L2"]
    assert all(len(line.get_xdata()) == 3 for line in losses.get_lines())
    encoder = ranks.get_lines()[-1]  # RankMe is logged at step 0 and at the last step
    assert encoder.get_label() == "run 1 encoder" and list(encoder.get_xdata()) == [0, 2]
    assert render(live)[:4] == b"\x89PNG"


def test_a_level_without_valid_cells_does_not_break_drawing():
    trainer, live = FakeTrainer(total_steps=6), LivePlot(every_s=0.0, smooth=2)
    for step in range(6):  # level 2 never measured, level 1 missing every other step
        live(trainer.advance((1.0, NAN if step % 2 else 0.5, NAN)))
        if step in (0, 1, 5):  # one measurement, a NaN at the end, the whole run
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                render(live)
    assert live.redraws == 6
    lines = live.figure.axes[0].get_lines()
    assert all(not math.isnan(y) for y in lines[1].get_ydata())  # the running mean skips NaN
    assert all(math.isnan(y) for y in lines[2].get_ydata())


def test_several_runs_one_row_each_labelled():
    live = LivePlot(every_s=60.0, clock=FakeClock())
    for name in ("pooling-only", "FPN_add"):
        trainer = FakeTrainer(total_steps=3, out_dir=f"runs/{name}")
        for _ in range(3):
            live(trainer.advance())
    # run 1: its first step (the very first) and its last; run 2: only its last (a new run
    # does not force a redraw; the clock is frozen inside every_s)
    assert live.redraws == 3 and len(live.figure.axes) == 4
    titles = [ax.get_title() for ax in live.figure.axes[::2]]
    assert titles[0].startswith("pooling-only, step 3 of 3") and titles[1].startswith("FPN_add")
    assert live.figure.axes[0].get_lines(), "the first run's row is drawn in the new figure"
    named = LivePlot(label=lambda trainer: f"{trainer.total_steps} steps")
    named(FakeTrainer(total_steps=7).advance())
    assert named.runs[0]["label"] == "7 steps"


def test_without_redraw_each_run_short_runs_are_drawn_once_at_the_end():
    clock = FakeClock()
    live = LivePlot(every_s=60.0, clock=clock, redraw_each_run=False)
    for name in ("pooling-only", "FPN_add", "FPN_concat"):
        trainer = FakeTrainer(total_steps=3, out_dir=f"runs/{name}")
        for _ in range(3):
            live(trainer.advance())
    assert live.redraws == 1  # the very first step only: no run's end forced one
    assert [run["label"] for run in live.runs] == ["pooling-only", "FPN_add", "FPN_concat"]
    live.draw()  # after the last run: every run's row, each at its last step
    assert live.redraws == 2 and len(live.figure.axes) == 6
    titles = [ax.get_title() for ax in live.figure.axes[::2]]
    assert [t.split(":")[0] for t in titles] == [
        f"{name}, step 3 of 3" for name in ("pooling-only", "FPN_add", "FPN_concat")
    ]
    clock.now += 60.0  # the timed redraws stay
    live(FakeTrainer(total_steps=9).advance())
    assert live.redraws == 3


def test_in_jupyter_one_output_is_updated_in_place(monkeypatch):
    shown = []

    class Handle:
        def update(self, figure):
            shown.append(("update", figure))

    def display(figure, display_id=None):
        assert display_id is True
        shown.append(("display", figure))
        return Handle()

    monkeypatch.setattr(live_plot, "_in_kernel", lambda: True)
    monkeypatch.setattr("IPython.display.display", display)
    clock, trainer = FakeClock(), FakeTrainer(total_steps=3)
    live = LivePlot(every_s=1.0, clock=clock)
    for _ in range(3):
        clock.now += 1.0
        live(trainer.advance())
    second = FakeTrainer(total_steps=1)  # a new run: a new figure in the same output
    live(second.advance())
    assert [kind for kind, _ in shown] == ["display", "update", "update", "update"]
    assert shown[-1][1] is live.figure and shown[0][1] is not live.figure


def test_a_step_without_redraw_costs_microseconds():
    """Side by side: calls that only compare the time, and the redraw they skip."""
    trainer = FakeTrainer(total_steps=100).advance()
    live = LivePlot(every_s=3600.0)  # the real clock
    live(trainer)
    start = time.perf_counter()
    live.draw(trainer)
    redraw = time.perf_counter() - start
    calls = 10_000
    start = time.perf_counter()
    for _ in range(calls):
        live(trainer)
    per_call = (time.perf_counter() - start) / calls
    assert live.redraws == 2
    assert per_call < redraw / 1000, (per_call, redraw)
