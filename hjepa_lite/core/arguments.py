"""Checks of the arguments a caller passes to the entry points (the notebooks' load-or-train,
the weights build)."""

from __future__ import annotations

from typing import Any

__all__ = ["check_positive"]


def check_positive(caller: str, **values: Any) -> None:
    """ValueError naming the first argument that is not a positive int (bools are not)."""
    for key, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{caller}: {key} must be a positive integer; got {value!r}")
