"""requirements-lock.txt resolves, without installing, on every platform the README promises.

For each platform and Python version, uv resolves the lock as it would for an install there
(``uv pip compile --python-platform ... --python-version ... --only-binary :all:``: a wheel must
exist for that platform) and the result must be exactly the lock's pins whose markers apply:
nothing missing, nothing the lock lacks. Online this takes about 2 s per case. When PyPI cannot
be reached, the same runs from uv's cache (``--offline``); with neither, the test is skipped
and says so.
"""

import os
import subprocess

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from test_environment_pins import LOCK, lock_entries, pinned_version

# (name, uv's --python-platform, marker values). torch 2.14.1's wheels need manylinux_2_28
# (glibc 2.28) on Linux and macOS 14 on Apple silicon.
PLATFORMS = [
    ("linux-x86_64", "x86_64-manylinux_2_28", "linux", "Linux", "x86_64"),
    ("linux-aarch64", "aarch64-manylinux_2_28", "linux", "Linux", "aarch64"),
    ("macos-arm64", "aarch64-apple-darwin", "darwin", "Darwin", "arm64"),
]
PYTHONS = ["3.11", "3.12", "3.13"]
MACOS_TARGET = "14.0"
TIMEOUT_S = 120
NETWORK_ERRORS = ("Failed to fetch", "error sending request", "dns error", "timed out")


@pytest.fixture(scope="module")
def uv() -> str:
    try:
        from uv import find_uv_bin
    except ImportError:
        pytest.fail("the package 'uv' is missing: it is in requirements-lock.txt (make install)")
    return find_uv_bin()


def marker_environment(sys_platform: str, system: str, machine: str, python: str) -> dict:
    return {
        "sys_platform": sys_platform,
        "platform_system": system,
        "platform_machine": machine,
        "os_name": "posix",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "python_version": python,
        "python_full_version": f"{python}.0",  # what uv assumes for --python-version 3.x
    }


def expected_pins(environment: dict) -> dict[str, str]:
    """The lock's pins that apply in ``environment``: ``{name: version}``."""
    return {
        canonicalize_name(r.name): str(pinned_version(r))
        for r in lock_entries()
        if r.marker is None or r.marker.evaluate(environment)
    }


def resolve(uv: str, platform: str, python: str, *extra: str) -> subprocess.CompletedProcess:
    command = [
        uv, "pip", "compile", str(LOCK), "--no-config", "--no-python-downloads",
        "--python-platform", platform, "--python-version", python, "--only-binary", ":all:",
        "--no-header", "--no-annotate", "--quiet", *extra,
    ]  # fmt: skip
    env = {**os.environ, "MACOSX_DEPLOYMENT_TARGET": MACOS_TARGET}
    return subprocess.run(
        command, capture_output=True, text=True, timeout=TIMEOUT_S, env=env, cwd=LOCK.parent
    )


@pytest.mark.parametrize("python", PYTHONS)
@pytest.mark.parametrize("platform", PLATFORMS, ids=lambda p: p[0])
def test_lock_resolves_on_platform(uv, platform, python):
    name, uv_platform, *markers = platform
    result = resolve(uv, uv_platform, python)
    if result.returncode != 0 and any(error in result.stderr for error in NETWORK_ERRORS):
        online_error = result.stderr.strip().splitlines()[-1]
        result = resolve(uv, uv_platform, python, "--offline")
        if result.returncode != 0 and "network was disabled" in result.stderr:
            pytest.skip(f"PyPI is unreachable ({online_error}) and uv's cache lacks the lock")
    assert result.returncode == 0, f"the lock does not resolve on {name}, Python {python}:\n" + (
        result.stderr
    )
    resolved = {}
    for line in result.stdout.splitlines():
        if line.strip() and not line.startswith("#"):
            requirement = Requirement(line)
            resolved[canonicalize_name(requirement.name)] = str(pinned_version(requirement))
    expected = expected_pins(marker_environment(*markers, python))
    missing = sorted(set(resolved) - set(expected))
    assert not missing, f"{name}, Python {python} needs packages the lock lacks: {missing}"
    assert resolved == expected
