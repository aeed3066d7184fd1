"""Alembic migrations: one schema for both services. `alembic_config()` finds them from anywhere."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from alembic.config import Config

if TYPE_CHECKING:
    from common.config import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent.parent


def alembic_config(database_url: str | None = None, *, settings: Settings | None = None) -> Config:
    """Alembic's config for this project, independent of the current directory. `settings`
    (else the process's) configure the engine the migrations run on."""
    config = Config(str(REPO_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(REPO_ROOT / "common" / "migrations"))
    if database_url:
        config.attributes["database_url"] = database_url
    if settings is not None:
        config.attributes["settings"] = settings
    return config
