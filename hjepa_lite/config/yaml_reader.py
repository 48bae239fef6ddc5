"""Reading a config file's YAML: PyYAML's safe loader plus YAML 1.2's exponent numbers
(``5e-4``, ``1e3``) and an error on a key given twice in one mapping."""

from __future__ import annotations

import io
import re
from typing import Any

import yaml
from yaml.reader import ReaderError

__all__ = ["ConfigLoader", "Exponent", "as_read", "read_yaml"]


class Exponent(float):
    """A YAML number in exponent notation without a dot (``5e-4``, ``1e3``), which YAML 1.1
    reads as a string; keeps its text for a key whose value is text."""

    def __new__(cls, text: str) -> Exponent:
        number = super().__new__(cls, text)
        number.text = text
        return number

    def __repr__(self) -> str:
        return self.text


class ConfigLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` plus YAML 1.2's exponent numbers and an error on a duplicate key.

    Any error while reading is a :class:`yaml.YAMLError` with the line and column of the
    text (PyYAML raises a bare ValueError for ``!!float abc``, an IndexError for an empty
    ``!!int``, an AttributeError for a bad ``!!timestamp``).
    """

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict:
        if isinstance(node, yaml.MappingNode):
            seen = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":  # <<: overrides on purpose
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.setdefault(key, key_node)
                except TypeError:  # unhashable: SafeLoader says so below
                    continue
                if first is not key_node:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping",
                        first.start_mark,
                        f"found duplicate key {key!r} (a key must appear once in a mapping)",
                        key_node.start_mark,
                    )
        return super().construct_mapping(node, deep=deep)

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (ArithmeticError, AttributeError, LookupError, TypeError, ValueError) as error:
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {node.tag} {node.value!r}: {error}", node.start_mark
            ) from None


_EXPONENT_TAG = "tag:hjepa-lite,2025:exponent"
ConfigLoader.add_implicit_resolver(
    _EXPONENT_TAG,
    re.compile(r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)
ConfigLoader.add_constructor(_EXPONENT_TAG, lambda loader, node: Exponent(node.value))


def read_yaml(data: bytes, name: str) -> Any:
    """``yaml.safe_load`` with :class:`ConfigLoader`; errors become ValueErrors naming ``name``."""
    stream = io.BytesIO(data)
    stream.name = name  # shown in the error's line/column marks
    loader = None
    try:
        loader = ConfigLoader(stream)  # reads the first bytes: may raise already
        return loader.get_single_data()
    except RecursionError:
        error = yaml.YAMLError("nested too deeply")
        raise ValueError(f"config {name} is not valid YAML: {error}") from error
    except yaml.YAMLError as error:
        text = " (a config file must be UTF-8 text)" if isinstance(error, ReaderError) else ""
        raise ValueError(f"config {name} is not valid YAML{text}: {error}") from error
    finally:
        if loader is not None:
            loader.dispose()


def as_read(raw: Any, parsed: Any) -> Any:
    """``raw`` with each exponent number replaced by the value the schema read (``parsed``)."""
    if isinstance(raw, Exponent):
        return parsed
    if isinstance(raw, dict):
        return {key: as_read(value, parsed[key]) for key, value in raw.items()}
    if isinstance(raw, list):
        return [as_read(value, read) for value, read in zip(raw, parsed, strict=True)]
    return raw
