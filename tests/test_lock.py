"""The locked dependency set (requirements.lock, requirements-dev.lock; written by scripts/lock): it covers every
dependency in pyproject.toml at a version its range admits, pins every package to one version with its hashes, agrees
between the two locks, and pins torch's CPU build, which scripts/setup installs."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
RUNTIME = [Requirement(r) for r in PROJECT["dependencies"]]
DEV = [Requirement(r) for r in PROJECT["optional-dependencies"]["dev"]]
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def read_lock(name: str) -> dict[str, tuple[Version, int]]:
    """Package -> (pinned version, number of hashes) of a pip-compile lock."""
    pins: dict[str, tuple[Version, int]] = {}
    current = ""
    for line in (ROOT / name).read_text(encoding="utf-8").splitlines():
        if match := _PIN.match(line):
            current = canonicalize_name(match[1])
            assert current not in pins, f"{name} pins {current} twice"
            pins[current] = (Version(match[2]), 0)
        elif line.strip().startswith("--hash=sha256:") and current:
            version, hashes = pins[current]
            pins[current] = (version, hashes + 1)
    return pins


LOCKS = {"requirements.lock": RUNTIME, "requirements-dev.lock": RUNTIME + DEV}


@pytest.mark.parametrize(("lock", "requirements"), LOCKS.items())
def test_the_lock_covers_every_dependency_of_pyproject_at_an_admitted_version(
    lock: str, requirements: list[Requirement]
) -> None:
    pins = read_lock(lock)
    missing = [str(r) for r in requirements if canonicalize_name(r.name) not in pins]
    assert missing == [], f"{lock} lacks {missing}: run scripts/lock"
    outside = [
        f"{r} (locked {pins[canonicalize_name(r.name)][0]})"
        for r in requirements
        if not r.specifier.contains(pins[canonicalize_name(r.name)][0], prereleases=True)
    ]
    assert outside == [], f"{lock} pins versions pyproject.toml does not admit: {outside}; run scripts/lock"


@pytest.mark.parametrize("lock", LOCKS)
def test_every_pin_carries_a_hash(lock: str) -> None:
    unhashed = [name for name, (_, hashes) in read_lock(lock).items() if hashes == 0]
    assert unhashed == [], f"{lock} pins without a hash: {unhashed}"


def test_the_two_locks_agree_on_what_they_share() -> None:
    runtime, dev = read_lock("requirements.lock"), read_lock("requirements-dev.lock")
    assert set(runtime) <= set(dev), "the dev lock installs everything the runtime lock does"
    differ = {name: (runtime[name][0], dev[name][0]) for name in runtime if runtime[name][0] != dev[name][0]}
    assert differ == {}, "a plain run and the tests would use different versions"


@pytest.mark.parametrize("lock", LOCKS)
def test_torch_is_the_cpu_build(lock: str) -> None:
    version, _ = read_lock(lock)["torch"]
    assert version.local == "cpu", "PyPI's build of torch pulls CUDA libraries of several GB"
    assert not any(name.startswith("nvidia-") for name in read_lock(lock)), "no CUDA libraries"


def test_setup_installs_the_locks_with_their_hashes() -> None:
    setup = (ROOT / "scripts" / "setup").read_text(encoding="utf-8")
    assert "lock=requirements.lock" in setup and "lock=requirements-dev.lock" in setup
    assert re.search(r"pip install --require-hashes --no-deps -r \"\$lock\"", setup)
