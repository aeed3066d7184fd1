"""`ecommerce-manager`, the console script pyproject.toml declares, is the operator CLI."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path


def test_the_console_script_is_declared_for_the_cli() -> None:
    (script,) = entry_points(group="console_scripts", name="ecommerce-manager")
    assert script.value == "common.ops.cli:main"


def test_the_installed_console_script_runs_the_cli() -> None:
    executable = Path(sys.executable).parent / "ecommerce-manager"
    done = subprocess.run(
        [str(executable), "create-admin", "--help"], capture_output=True, text=True, check=True
    )
    assert "--password-stdin" in done.stdout
    assert "--email" in done.stdout
