"""The image and compose files say what the issue asks, read as text and YAML: no Docker engine
runs where the tests run, so `docker build` itself is not exercised here.

Multi-stage on the Python CI tests, a numeric non-root user, installs from the hash-checked
lock then the project with --no-deps; one image built once and shared by the compose services,
every setting passed through, MariaDB at the version CI tests, `.env` written mode 0600.
"""

from __future__ import annotations

import re
import shutil
import stat
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from common.migrations import REPO_ROOT
from tests.fixtures.databases import IN_CI

DOCKERFILE = (REPO_ROOT / "Dockerfile").read_text()
COMPOSE: dict[str, Any] = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
APP_SERVICES = ("migrate", "products", "sales")


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def stages() -> list[list[tuple[str, str]]]:
    split: list[list[tuple[str, str]]] = []
    for keyword, rest in instructions():
        if keyword == "FROM":
            split.append([])
        if split:
            split[-1].append((keyword, rest))
    return split


def base_image(from_arguments: str) -> str:
    image = from_arguments.split()[0]
    defaults = dict(
        rest.split("=", 1) for keyword, rest in instructions() if keyword == "ARG" and "=" in rest
    )
    return re.sub(r"\$\{(\w+)\}", lambda m: defaults[m[1]], image)


def test_the_image_is_multi_stage_on_the_python_ci_tests() -> None:
    built = stages()
    assert len(built) >= 2
    # The version the type checks target, and the one CI runs the tests on.
    ci_python = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["mypy"][
        "python_version"
    ]
    if IN_CI:
        assert ci_python == f"{sys.version_info.major}.{sys.version_info.minor}"
    for stage in built:
        assert re.fullmatch(rf"python:{re.escape(ci_python)}-slim(-\w+)?", base_image(stage[0][1]))


def test_the_runtime_stage_runs_as_a_numeric_non_root_user_and_copies_no_build_steps() -> None:
    runtime = stages()[-1]
    users = [rest for keyword, rest in runtime if keyword == "USER"]
    assert users, "the runtime stage must set USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit()
    assert int(uid) != 0
    assert not any(keyword == "RUN" and "pip install" in rest for keyword, rest in runtime)
    assert any(keyword == "COPY" and "--from=build" in rest for keyword, rest in runtime)


def test_the_build_installs_the_hash_checked_lock_then_the_project_without_dependencies() -> None:
    runs = [rest for keyword, rest in stages()[0] if keyword == "RUN"]
    lock_install = next(i for i, run in enumerate(runs) if "--require-hashes" in run)
    assert "-r requirements-runtime.lock" in runs[lock_install]
    project = [run for run in runs[lock_install + 1 :] if "pip install" in run]
    assert project
    assert all("--no-deps" in run for run in project)


def test_compose_builds_one_image_shared_by_every_app_service() -> None:
    services = COMPOSE["services"]
    builders = [name for name, service in services.items() if "build" in service]
    assert builders == ["migrate"]
    images = {services[name]["image"] for name in APP_SERVICES}
    assert images == {"ecommerce-manager:latest"}
    for name in APP_SERVICES:
        if name not in builders:
            assert services[name]["pull_policy"] == "never"  # the built one, never a pull


def test_compose_passes_every_setting_through_from_the_env_file() -> None:
    for name in APP_SERVICES:
        env_files = COMPOSE["services"][name]["env_file"]
        assert [entry["path"] for entry in env_files] == [".env"]
        # Only what must hold whatever .env says; no hand-picked list of six settings.
        assert set(COMPOSE["services"][name].get("environment", {})) <= {"APP_ENV"}


def test_compose_runs_mariadb_at_the_version_ci_tests() -> None:
    image = COMPOSE["services"]["mariadb"]["image"]
    assert image == "mariadb:10.11"
    client = shutil.which("mariadb")
    if client is None:
        pytest.skip("no MariaDB client here to compare with (CI installs Debian's MariaDB)")
    version = subprocess.run(
        [client, "--version"], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"(\d+\.\d+)\.\d+-MariaDB", version)
    assert match is not None, version
    assert image.split(":")[1] == match[1]


def test_the_env_file_is_written_private_with_every_secret(tmp_path: Path) -> None:
    # A copy of the script: `env-file` writes `.env` next to the script it runs from.
    shutil.copy(REPO_ROOT / "docker-manager.sh", tmp_path / "docker-manager.sh")
    subprocess.run(
        ["bash", str(tmp_path / "docker-manager.sh"), "env-file"], check=True, capture_output=True
    )
    env_file = tmp_path / ".env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    values = dict(
        line.split("=", 1)
        for line in env_file.read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert len(values["JWT_SECRET"]) >= 32
    assert values["DATABASE_URL"].endswith(f":{values['MYSQL_PASSWORD']}@mariadb:3306/ecommerce")
    assert values["APP_ENV"] == "production"
    # An existing, too-open file is tightened, and kept.
    env_file.chmod(0o644)
    before = env_file.read_text()
    subprocess.run(["bash", str(tmp_path / "docker-manager.sh"), "env-file"], check=True)
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert env_file.read_text() == before
