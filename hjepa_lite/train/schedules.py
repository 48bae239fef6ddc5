"""Per-step schedules of the I-JEPA recipe: learning rate, weight decay, EMA momentum.

All are plain functions of the optimizer step ``step`` in ``0 .. total - 1``.
"""

from __future__ import annotations

import math

__all__ = ["cosine", "linear", "warmup_cosine"]


def linear(step: int, total: int, start: float, end: float) -> float:
    """``start`` at step 0, ``end`` at the last step (EMA momentum: 0.996 -> 1.0)."""
    return start + (end - start) * step / max(total - 1, 1)


def cosine(step: int, total: int, start: float, end: float) -> float:
    """Half a cosine from ``start`` (step 0) to ``end`` (last step) (weight decay 0.04 -> 0.4)."""
    return end + (start - end) * 0.5 * (1 + math.cos(math.pi * step / max(total - 1, 1)))


def warmup_cosine(step: int, total: int, peak: float, final: float, warmup: int) -> float:
    """Linear warmup from ``peak / warmup`` to ``peak`` over ``warmup`` steps, then a cosine
    decay to ``final`` at the last step (learning rate)."""
    if step < warmup:
        return peak * (step + 1) / warmup
    return cosine(step - warmup, total - warmup, peak, final)
