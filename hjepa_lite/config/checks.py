"""Checking a config's values against the schema's annotations: types, choices, ranges.

:func:`from_dict` builds a config dataclass from a mapping, naming the key of any bad value;
:func:`as_plain` turns one back into plain YAML types.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from .vocabulary import CONFIG_SECTIONS
from .yaml_reader import Exponent

__all__ = ["Range", "as_plain", "check_sections", "from_dict"]

_MAY_BE_ZERO = ("seed", "num_workers", "warmup_steps")


@dataclass(frozen=True)
class Range:
    """An interval of allowed numbers: ``[low, high]``, either end open on request."""

    low: float
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return math.isfinite(value) and above and below

    def __str__(self) -> str:
        if self.high == math.inf:
            return f"{'>' if self.low_open else '>='} {self.low:g}"
        left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
        return f"{left}{self.low:g}, {self.high:g}{right}"


# Allowed values of the numeric keys (every value of a list or [low, high] key), checked at
# load: a run must not fail after it has written checkpoints. Integers are positive unless
# listed in _MAY_BE_ZERO; every number must be finite.
_RANGES = {
    "model.drop_path_rate": Range(0, 1, high_open=True),
    "masks.target_scale": Range(0, 1, low_open=True),
    "masks.target_aspect": Range(0, low_open=True),
    "masks.context_scale": Range(0, 1, low_open=True),
    "loss.level_weights": Range(0),
    "loss.regularizer_weight": Range(0),
    "loss.context_weight": Range(0),
    "train.lr": Range(0, low_open=True),
    "train.min_lr": Range(0),
    "train.weight_decay": Range(0),
    "train.ema_momentum": Range(0, 1),
    "train.grad_clip": Range(0, low_open=True),
}


def as_plain(obj: Any) -> dict[str, Any]:
    """dataclass -> plain dict of YAML types (tuples become lists)."""

    def plain(value: Any) -> Any:
        if isinstance(value, tuple | list):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    return plain(dataclasses.asdict(obj))


_PER_LEVEL = (int, list[int])  # fpn.feature_dim: one int, or one int per level


def _parts(annotation: Any) -> tuple[Any, bool]:
    """``(annotation without None, whether None is allowed)``; ``int | list[int]`` stays a
    union (as the tuple of its members)."""
    if get_origin(annotation) in (Union, types.UnionType):
        members = tuple(a for a in get_args(annotation) if a is not type(None))
        optional = len(members) < len(get_args(annotation))
        return (members[0] if len(members) == 1 else members), optional
    return annotation, False


def _type_name(annotation: Any) -> str:
    base, optional = _parts(annotation)
    if base == _PER_LEVEL:
        name = "an int or a list of ints, one per level"
    elif get_origin(base) is Literal:
        name = "str"
    else:
        name = getattr(base, "__name__", str(base))
    return f"{name} or null" if optional else name


def _check_value(path: str, value: Any, annotation: Any) -> Any:
    """Check one leaf value against its annotation (``int | None``, a ``Literal``, etc.)."""
    name = path.rsplit(".", 1)[-1]
    base, optional = _parts(annotation)
    if value is None:
        if optional:
            return None
        raise ValueError(f"config key '{path}' must be {_type_name(annotation)}, not null")
    if base == _PER_LEVEL:  # one int, or one int per level
        if isinstance(value, list) and value:
            return [_check_value(f"{path}[{i}]", v, int) for i, v in enumerate(value)]
        base = int
    if get_origin(base) in (tuple, list):
        return _check_sequence(path, value, is_range=get_origin(base) is tuple)
    valid = get_args(base) if get_origin(base) is Literal else None
    kind = str if valid else base
    if isinstance(value, Exponent):  # 1e3 in a YAML file: a number, or text where one is
        if kind is str:
            value = value.text
        elif kind is int and value.is_integer():
            value = int(value)
    if kind is bool:
        ok = isinstance(value, bool)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = _to_float(path, value) if ok else value
    else:
        ok = isinstance(value, str)
    if not ok:
        hint = ""
        if kind in (int, float) and isinstance(value, str) and _is_number(value):
            hint = ": a string; write the number without quotes"
        found = "float" if isinstance(value, float) else type(value).__name__
        raise ValueError(
            f"config key '{path}' must be {_type_name(annotation)}; got {value!r} ({found}{hint})"
        )
    if valid and value not in valid:
        raise ValueError(f"config key '{path}'={value!r} is invalid; valid choices: {valid}")
    if kind is int and value < (0 if name in _MAY_BE_ZERO else 1):
        least = "a non-negative" if name in _MAY_BE_ZERO else "a positive"
        raise ValueError(f"config key '{path}' must be {least} integer; got {value}")
    _check_in_range(path, value)
    return value


def _check_in_range(path: str, *values: float) -> None:
    allowed = _RANGES.get(path)
    for value in values:
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"config key '{path}' must be a finite number; got {value}")
        if allowed is not None and value not in allowed:
            raise ValueError(f"config key '{path}'={value!r} is out of range: allowed {allowed}")


def _check_sequence(path: str, value: Any, is_range: bool) -> tuple | list:
    """``tuple[float, float]`` (``is_range``) = an ordered (low, high) range; ``list[float]`` =
    any length."""
    wanted = "a list [low, high] of two numbers" if is_range else "a list of numbers"
    ok = isinstance(value, list | tuple) and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in value
    )
    if not ok or (is_range and (len(value) != 2 or value[0] > value[1])) or not value:
        raise ValueError(f"config key '{path}' must be {wanted}; got {value!r}")
    values = [_to_float(path, v) for v in value]
    _check_in_range(path, *values)
    return tuple(values) if is_range else values


def _to_float(path: str, value: int | float) -> float:
    try:
        return float(value)
    except OverflowError:  # an int too large for a float
        raise ValueError(f"config key '{path}' must be a finite number; got {value}") from None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def from_dict(cls: type, data: Mapping[str, Any], path: str) -> Any:
    if not isinstance(data, Mapping):
        raise ValueError(f"config section '{path}' must be a mapping; got {type(data).__name__}")
    fields = _schema(cls)
    unknown = sorted(set(data) - set(fields), key=repr)  # YAML keys may be of any type
    if unknown:
        raise ValueError(
            f"unknown config key '{path}.{unknown[0]}'; valid keys under '{path}': {sorted(fields)}"
        )
    values = {}
    for name, value in data.items():
        annotation = fields[name]
        key = name if path == "config" else f"{path}.{name}"
        if dataclasses.is_dataclass(annotation):  # a nested section
            section = {} if value is None else value  # "model:" alone: all defaults
            values[name] = from_dict(annotation, section, key)
        else:
            values[name] = _check_value(key, value, annotation)
    return cls(**values)


@functools.cache
def _schema(cls: type) -> dict[str, Any]:
    """``{field: its annotation as a type}`` of a config dataclass (resolved once)."""
    return get_type_hints(cls)


def check_sections(config: Mapping[str, Any]) -> None:
    """Raise ValueError unless ``config`` is a mapping of known sections."""
    if not isinstance(config, Mapping):
        raise ValueError(
            f"a config must be a mapping of sections {list(CONFIG_SECTIONS)}; "
            f"got {type(config).__name__}"
        )
    unknown = sorted(set(config) - set(CONFIG_SECTIONS), key=repr)
    if unknown:
        raise ValueError(
            f"unknown config section '{unknown[0]}'; valid sections: {list(CONFIG_SECTIONS)}"
        )
