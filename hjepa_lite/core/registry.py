"""Resolving an option's name to what implements it, with one error message for all of them."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import TypeVar

__all__ = ["resolve"]

T = TypeVar("T")


def resolve(registry: Mapping[str, T], key: str, value: object) -> T:
    """``registry[value]``; a ValueError naming ``key`` and the valid choices otherwise."""
    if isinstance(value, Hashable) and value in registry:
        return registry[value]
    raise ValueError(f"{key}={value!r} is not supported; valid choices: {tuple(registry)}")
