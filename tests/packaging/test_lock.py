"""The lock files agree with pyproject.toml: every pin there is the version locked, everything
locked carries hashes, and the image's lock is the same versions minus the dev extras.

When this fails after a dependency changed: `./docker-manager.sh lock`, and commit both files.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from common.migrations import REPO_ROOT

PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
LOCK = REPO_ROOT / "requirements.lock"
RUNTIME_LOCK = REPO_ROOT / "requirements-runtime.lock"
REGENERATE = "run ./docker-manager.sh lock and commit requirements*.lock"
# `name==version \` opening an entry of a hash-pinned requirements file.
ENTRY = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def locked(path: Path) -> dict[str, tuple[Version, int]]:
    """Each locked package: its version and how many hashes it carries."""
    entries: dict[str, tuple[Version, int]] = {}
    current = None
    for line in path.read_text().splitlines():
        if match := ENTRY.match(line):
            current = canonicalize_name(match[1])
            entries[current] = (Version(match[2]), 0)
        elif current and line.strip().startswith("--hash=sha256:"):
            version, hashes = entries[current]
            entries[current] = (version, hashes + 1)
    return entries


def pins(*groups: list[str]) -> dict[str, Requirement]:
    return {
        canonicalize_name(requirement.name): requirement
        for group in groups
        for requirement in map(Requirement, group)
    }


RUNTIME = pins(PYPROJECT["project"]["dependencies"])
EXTRAS = PYPROJECT["project"]["optional-dependencies"]
EVERYTHING = pins(PYPROJECT["project"]["dependencies"], EXTRAS["dev"], EXTRAS["bench"])
BUILD = pins(PYPROJECT["build-system"]["requires"])


def test_every_dependency_is_pinned_exactly() -> None:
    loose = [str(r) for r in EVERYTHING.values() if not re.fullmatch(r"==[^,*]+", str(r.specifier))]
    assert loose == []


@pytest.mark.parametrize(
    ("lock", "wanted"), [(LOCK, EVERYTHING), (RUNTIME_LOCK, RUNTIME)], ids=["full", "runtime"]
)
def test_the_lock_holds_each_pin_of_pyproject(lock: Path, wanted: dict[str, Requirement]) -> None:
    entries = locked(lock)
    disagree = {
        name: (str(requirement.specifier), str(entries[name][0]) if name in entries else None)
        for name, requirement in wanted.items()
        if name not in entries or entries[name][0] not in requirement.specifier
    }
    assert disagree == {}, REGENERATE


@pytest.mark.parametrize("lock", [LOCK, RUNTIME_LOCK], ids=["full", "runtime"])
def test_every_locked_package_carries_hashes_and_the_build_backend_is_locked(lock: Path) -> None:
    entries = locked(lock)
    assert [name for name, (_, hashes) in entries.items() if hashes == 0] == []
    for name, requirement in BUILD.items():
        assert name in entries, REGENERATE
        assert entries[name][0] in requirement.specifier, REGENERATE
    # The project installs itself with --no-deps; it is no entry of its own lock.
    assert canonicalize_name(PYPROJECT["project"]["name"]) not in entries


def test_the_runtime_lock_is_the_full_lock_without_the_extras() -> None:
    full, runtime = locked(LOCK), locked(RUNTIME_LOCK)
    assert {name: version for name, (version, _) in runtime.items()} == {
        name: full[name][0] for name in runtime if name in full
    }
    assert set(runtime) <= set(full), REGENERATE
    dev_only = set(pins(EXTRAS["dev"])) - set(RUNTIME)
    assert "pytest" in dev_only
    assert "pytest" not in runtime
