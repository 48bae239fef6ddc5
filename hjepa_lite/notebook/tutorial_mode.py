"""The notebooks' one switch: learner mode (the default) or fast mode (the test suite).

**Learner mode** (``HJEPA_FAST`` unset or ``0``): the notebooks train, time and probe with
budgets large enough to show the effect they teach, each in about a minute or less.
**Fast mode** (``HJEPA_FAST=1``, which ``make test`` and CI set): the same cells with tiny
budgets, so that every notebook runs in seconds and the tests check that its code works;
its numbers show nothing.

The environment variable is read once, when this module is first imported; a notebook
started in one mode stays in it. In a notebook::

    from hjepa_lite.notebook.tutorial_mode import FAST, budget

    STEPS, BATCH = budget(fast=(6, 8), learner=(1000, 32))
"""

from __future__ import annotations

import os
from typing import TypeVar

__all__ = ["ENV", "FAST", "MODE", "budget", "read_fast"]

ENV = "HJEPA_FAST"
_VALUES = {None: False, "0": False, "1": True}

T = TypeVar("T")


def read_fast(environ: dict[str, str] | None = None) -> bool:
    """True in fast mode: ``HJEPA_FAST=1``; False when it is ``0`` or unset.

    Any other value raises a ValueError, so that a typo (``true``, ``yes``) does not run the
    long learner budgets where fast ones were meant, or the reverse."""
    value = (os.environ if environ is None else environ).get(ENV)
    if value not in _VALUES:
        raise ValueError(
            f"{ENV}={value!r}: use {ENV}=1 for fast mode (what the tests run), "
            f"{ENV}=0 or leave it unset for learner mode"
        )
    return _VALUES[value]


FAST: bool = read_fast()
"""True in fast mode (``HJEPA_FAST=1``), False in learner mode."""

MODE: str = "fast" if FAST else "learner"
"""``"fast"`` or ``"learner"``, for printing."""


def budget(fast: T, learner: T) -> T:
    """``fast`` in fast mode, ``learner`` in learner mode: ``budget(fast=6, learner=1000)``.

    Either value may be anything: a number, a tuple to unpack, a dict of keyword arguments."""
    return fast if FAST else learner
