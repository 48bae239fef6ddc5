"""The lock, environment.yml and pyproject.toml agree on versions."""

import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.version import Version

REPO = Path(__file__).parent.parent


def normalise(name: str) -> str:
    return name.lower().replace("_", "-")


def lock_pins() -> dict[str, Version]:
    pins = {}
    for line in (REPO / "requirements-lock.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[normalise(name)] = Version(version)
    return pins


def test_lock_pins_the_torch_pair_that_works_here():
    pins = lock_pins()
    assert pins["torch"] == Version("2.14.1") and pins["torchvision"] == Version("0.29.1")


def test_environment_yml_pins_equal_the_lock():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip_list = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    pins = lock_pins()
    checked = 0
    for spec in pip_list:
        if spec.startswith("-e"):
            continue
        name, version = spec.split("==")
        assert pins[normalise(name)] == Version(version), f"{name}: environment.yml != lock"
        checked += 1
    assert checked >= 15


def test_pyproject_ranges_admit_the_locked_versions():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = lock_pins()
    requirements = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements += extra
    for text in requirements:
        requirement = Requirement(text)
        name = normalise(requirement.name)
        assert name in pins, f"{name} is a dependency but not in the lock"
        assert requirement.specifier.contains(pins[name]), f"lock {name}=={pins[name]} !~ {text}"
