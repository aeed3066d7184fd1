"""Alembic migrations: one schema for both services. `alembic_config()` finds them from anywhere."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config

REPO_ROOT = Path(__file__).resolve().parent.parent.parent


def alembic_config(database_url: str | None = None) -> Config:
    """Alembic's config for this project, independent of the current directory."""
    config = Config(str(REPO_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(REPO_ROOT / "common" / "migrations"))
    if database_url:
        config.attributes["database_url"] = database_url
    return config
