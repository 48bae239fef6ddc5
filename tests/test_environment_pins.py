"""The lock, environment.yml and pyproject.toml agree on versions.

requirements-lock.txt is one universal lock compiled by uv (``make lock``): every line pins one
version, and a line may carry an environment marker (torch's CUDA libraries are Linux-only), so
a package may also appear twice, once per marker. tests/test_lock_resolves.py checks that it
resolves on each platform.
"""

import tomllib
from collections import defaultdict
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).parent.parent
LOCK = REPO / "requirements-lock.txt"
SITE_LOCK = REPO / "requirements-site-lock.txt"  # installed on top of LOCK by make site
# What torch pulls in on Linux only: none of it exists for macOS.
LINUX_ONLY = ("nvidia-", "cuda-", "triton")


def lock_entries(lock: Path = LOCK) -> list[Requirement]:
    """Every pin of a lock: ``name==version``, with its marker (None when unconditional)."""
    entries = []
    for line in lock.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            entries.append(Requirement(line))
    return entries


def pinned_version(requirement: Requirement) -> Version:
    (spec,) = requirement.specifier
    assert spec.operator == "==", f"{requirement} is not an exact pin"
    return Version(spec.version)


def lock_pins(lock: Path = LOCK) -> dict[str, set[Version]]:
    """``{normalised name: the versions a lock pins it at}`` (two only under markers)."""
    pins = defaultdict(set)
    for requirement in lock_entries(lock):
        pins[canonicalize_name(requirement.name)].add(pinned_version(requirement))
    return pins


def test_every_lock_line_is_one_exact_pin():
    entries = lock_entries()
    assert len(entries) >= 100
    for requirement in entries:
        pinned_version(requirement)


def test_the_site_lock_keeps_every_pin_of_the_main_lock():
    """make site installs its lock into the same .venv: a package both pin must have the same
    version, or building the site would swap, e.g., ipykernel 6 for the 7 that drops execute
    requests (pyproject.toml). Recompile with make site-lock after make lock."""
    main, site = lock_pins(), lock_pins(SITE_LOCK)
    assert len(site) >= 30
    differ = {
        name: (main[name], site[name]) for name in site if name in main and main[name] != site[name]
    }
    assert not differ, f"requirements-site-lock.txt disagrees with requirements-lock.txt: {differ}"


def test_lock_pins_the_torch_pair_that_works_here():
    pins = lock_pins()
    assert pins["torch"] == {Version("2.14.1")} and pins["torchvision"] == {Version("0.29.1")}
    unconditional = {canonicalize_name(r.name) for r in lock_entries() if r.marker is None}
    assert {"torch", "torchvision", "timm"} <= unconditional


def test_linux_only_packages_carry_a_marker_that_excludes_macos():
    macos = {"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "arm64"}
    for requirement in lock_entries():
        if canonicalize_name(requirement.name).startswith(LINUX_ONLY):
            assert requirement.marker is not None, f"{requirement} has no marker"
            assert not requirement.marker.evaluate(macos), f"{requirement} applies on macOS"


def test_environment_yml_pins_equal_the_lock():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip_list = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    pins = lock_pins()
    checked = 0
    for spec in pip_list:
        if spec.startswith("-e"):
            continue
        requirement = Requirement(spec)
        name = canonicalize_name(requirement.name)
        assert pins[name] == {pinned_version(requirement)}, f"{name}: environment.yml != lock"
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
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is a dependency but not in the lock"
        for version in pins[name]:
            assert requirement.specifier.contains(version), f"lock {name}=={version} !~ {text}"
