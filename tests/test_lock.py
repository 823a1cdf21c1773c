"""The lock files against pyproject.toml: every declared dependency pinned inside its range,
with hashes, and the run lock a subset of the dev lock at the same versions.

A change to pyproject.toml without `make lock` fails here, before a fresh machine resolves
something nobody tested.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.markers import Marker, default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.conftest import REPO

RUN_LOCK = REPO / "requirements.lock"
DEV_LOCK = REPO / "requirements-dev.lock"
PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^ ;\\]+)(?: ; (?P<marker>[^\\]+?))? *\\?$"
)


def pins(lock: Path) -> dict[str, list[tuple[Version, str | None]]]:
    """Name -> the pinned versions, each with its environment marker (a universal lock may pin
    one package differently per Python version)."""
    out: dict[str, list[tuple[Version, str | None]]] = {}
    for line in lock.read_text().splitlines():
        match = PIN.match(line)
        if match:
            name = canonicalize_name(match["name"])
            out.setdefault(name, []).append((Version(match["version"]), match["marker"]))
    return out


def pinned_here(lock: Path, name: str) -> Version:
    """The version the lock installs for this interpreter."""
    env = default_environment()
    chosen = [v for v, m in pins(lock)[name] if m is None or Marker(m).evaluate(env)]
    assert len(chosen) == 1, f"{lock.name}: {name} pinned {len(chosen)} times for this Python"
    return chosen[0]


def declared(*extras: str) -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra in extras:
        reqs += [Requirement(r) for r in project["optional-dependencies"][extra]]
    return [r for r in reqs if r.marker is None or r.marker.evaluate(default_environment())]


@pytest.mark.parametrize(
    ("lock", "extras"), [(RUN_LOCK, ("ai",)), (DEV_LOCK, ("ai", "dev"))], ids=["run", "dev"]
)
def test_every_declared_dependency_is_pinned_inside_its_range(
    lock: Path, extras: tuple[str, ...]
) -> None:
    locked = pins(lock)
    for req in declared(*extras):
        name = canonicalize_name(req.name)
        assert name in locked, f"{req.name} is declared but not in {lock.name}: run `make lock`"
        version = pinned_here(lock, name)
        assert req.specifier.contains(version, prereleases=True), (
            f"{lock.name} pins {req.name}=={version} outside {req.specifier}: run `make lock`"
        )


def test_every_pin_carries_hashes() -> None:
    for lock in (RUN_LOCK, DEV_LOCK):
        text = lock.read_text()
        blocks = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
        for block in blocks:
            if PIN.match(block.splitlines()[0]):
                assert "--hash=sha256:" in block, f"{lock.name}: no hash for {block.split()[0]}"


def test_the_run_lock_is_the_dev_lock_without_the_dev_tools() -> None:
    """Every package of the run lock at the versions of the dev lock. Its markers may be
    narrower: a dev tool can need everywhere what the service needs on one platform (the docs
    theme needs colorama, which the service needs on Windows only)."""
    run, dev = pins(RUN_LOCK), pins(DEV_LOCK)
    assert set(run) < set(dev)
    for name, versions in run.items():
        dev_markers = dict((v, m) for v, m in dev[name])
        for version, marker in versions:
            assert version in dev_markers, f"{name}: run.lock {versions} but dev.lock {dev[name]}"
            assert dev_markers[version] in (marker, None), (
                f"{name} {version}: run.lock for {marker}, dev.lock for {dev_markers[version]}"
            )
    assert "pytest" not in run and "playwright" not in run


def test_the_build_tools_are_locked_too() -> None:
    """The project is installed without build isolation, from the locked setuptools."""
    for lock in (RUN_LOCK, DEV_LOCK):
        assert {"setuptools", "wheel"} <= set(pins(lock)), lock.name
