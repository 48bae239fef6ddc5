"""Fuzzing the config loader with YAML text: whatever the file holds, ``load_config`` and
``Config.from_yaml`` either return or raise a ValueError that names a config key (or wraps a
YAML error that says where the text is wrong); never another exception."""

import dataclasses
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hjepa_lite import config as config_module
from hjepa_lite.config import CONFIG_SECTIONS, Config, load_config

CONFIGS = sorted((Path(__file__).parent.parent / "configs").glob("*.yaml"))
TEXTS = [path.read_text() for path in CONFIGS]

# Every key and section name of the schema: a message about a bad value names one of them.
KEY_NAMES = set(CONFIG_SECTIONS)
for cls in vars(config_module).values():
    if isinstance(cls, type) and dataclasses.is_dataclass(cls) and cls.__name__.endswith("Config"):
        KEY_NAMES |= {f.name for f in dataclasses.fields(cls)}

FUZZ = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Pieces of YAML syntax, tags and values a loader must survive.
TOKENS = [
    *sorted(KEY_NAMES),
    *(f"{name}:" for name in sorted(KEY_NAMES)),
    ": ",
    "\n",
    "\n  ",
    "- ",
    "{",
    "}",
    "[",
    "]",
    ", ",
    "&a ",
    "*a",
    "<<: ",
    "? ",
    "'",
    '"',
    "#",
    "|",
    ">",
    "---",
    "...",
    "%YAML 1.1",
    "!!float ",
    "!!int ",
    "!!bool ",
    "!!str ",
    "!!timestamp ",
    "!!binary ",
    "!!set ",
    "!!omap ",
    "!!python/object:os.system ",
    "!local ",
    "!<tag:yaml.org,2002:float> ",
    "1e3",
    "5e-4",
    "1.0e-6",
    "1e999",
    "-1",
    "0",
    "3",
    "0x1f",
    "0o7",
    "1_000",
    ".inf",
    "-.nan",
    "null",
    "~",
    "true",
    "yes",
    "off",
    "2001-02-30",
    "2001-12-14t21:59:43.10-05:00",
    "190:20:30",
    "9" * 400,
    "\t",
    "\x00",
    "\ufeff",
    "é",
]


def yaml_like():
    return st.lists(st.sampled_from(TOKENS), max_size=40).map("".join)


@st.composite
def mutated_config(draw):
    """A shipped config's text with lines dropped, duplicated, or given a random value."""
    lines = draw(st.sampled_from(TEXTS)).splitlines()
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["drop", "duplicate", "value", "indent"]))
        if action == "drop":
            del lines[i]
        elif action == "duplicate":
            lines.insert(i, lines[i])
        elif action == "indent":
            lines[i] = draw(st.sampled_from(["", " ", "  ", "    ", "\t"])) + lines[i].lstrip()
        else:
            key = lines[i].split(":", 1)[0] if ":" in lines[i] else lines[i]
            value = draw(st.one_of(st.text(max_size=20), yaml_like(), st.sampled_from(TOKENS)))
            lines[i] = f"{key}: {value}"
    return "\n".join(lines) + "\n"


def check_loader(path: Path) -> None:
    """Both entry points return, or fail with a ValueError about a key or a YAML error."""
    for load in (load_config, Config.from_yaml):
        try:
            load(path)
        except yaml.YAMLError:
            pass
        except ValueError as error:
            message = str(error)
            wraps_yaml = isinstance(error.__cause__, yaml.YAMLError)
            names_key = any(name in message for name in KEY_NAMES)
            assert wraps_yaml or names_key, f"{type(error).__name__}: {message}"


@FUZZ
@given(text=st.text(st.characters(exclude_categories=["Cs"]), max_size=200))
def test_any_text_loads_or_fails_with_a_key_or_yaml_error(text, tmp_path):
    path = tmp_path / "fuzz.yaml"
    path.write_text(text, encoding="utf-8")
    check_loader(path)


@FUZZ
@given(data=st.binary(max_size=200))
def test_any_bytes_load_or_fail_with_a_key_or_yaml_error(data, tmp_path):
    path = tmp_path / "fuzz.yaml"
    path.write_bytes(data)
    check_loader(path)


@FUZZ
@given(text=yaml_like())
def test_yaml_syntax_and_tags_load_or_fail_with_a_key_or_yaml_error(text, tmp_path):
    path = tmp_path / "fuzz.yaml"
    path.write_text(text, encoding="utf-8")
    check_loader(path)


@FUZZ
@given(text=mutated_config())
def test_a_mutated_shipped_config_loads_or_fails_with_a_key_or_yaml_error(text, tmp_path):
    path = tmp_path / "fuzz.yaml"
    path.write_text(text, encoding="utf-8")
    check_loader(path)


def test_found_by_the_fuzzer(tmp_path):
    """Inputs that once escaped as TypeError, OverflowError, AttributeError, IndexError or a
    ValueError from inside PyYAML (each is now one of the allowed errors)."""
    cases = [
        "model: {1: 2, null: 3}\n",  # keys of mixed types could not be sorted
        "train:\n  lr: " + "9" * 400 + "\n",  # an int too large for a float
        "train:\n  weight_decay: [0, " + "9" * 400 + "]\n",
        "train:\n  lr: !!timestamp nope\n",  # PyYAML's AttributeError
        "train:\n  lr: !!float abc\n",  # PyYAML's ValueError
        "data:\n  root: 2001-02-30\n",  # an implicit timestamp that is not a date
        "train:\n  seed: !!int 0x\n",
        "model:\n  encoder_type: !!int\n",  # PyYAML's IndexError
        "model:\n  encoder_type: !!float\n",
        "[" * 2000 + "]" * 2000,  # nested too deeply: RecursionError in PyYAML's composer
        "model: 0\n",  # a falsy section was read as an empty one
    ]
    path = tmp_path / "case.yaml"
    for text in cases:
        path.write_text(text)
        check_loader(path)
