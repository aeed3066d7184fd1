"""Operator commands: `python -m common.cli <command>`.

Only commands that work are listed; later features add theirs here.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date
from collections.abc import Sequence
from pathlib import Path

from alembic import command
from alembic.config import Config

from common.config import get_settings
from common.db import Database

REPO_ROOT = Path(__file__).resolve().parent.parent


def alembic_config(database_url: str | None = None) -> Config:
    """Alembic's config for this project, independent of the current directory."""
    config = Config(str(REPO_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(REPO_ROOT / "common" / "migrations"))
    if database_url:
        config.attributes["database_url"] = database_url
    return config


def _migrate(args: argparse.Namespace) -> int:
    command.upgrade(alembic_config(), args.revision)
    return 0


def _rebuild_rollups(args: argparse.Namespace) -> int:
    from common.sales import rebuild_rollups

    async def run() -> int:
        database = Database.from_settings(get_settings())
        try:
            async with database.session_factory() as session, session.begin():
                return await rebuild_rollups(session, start=args.start, end=args.end)
        finally:
            await database.dispose()

    rows = asyncio.run(run())
    print(f"sales_daily rebuilt: {rows} rows")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m common.cli", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")

    migrate = commands.add_parser("migrate", help="apply database migrations (alembic upgrade)")
    migrate.add_argument("--revision", default="head", help="target revision (default: head)")
    migrate.set_defaults(handler=_migrate)

    rollups = commands.add_parser(
        "rebuild-rollups", help="recompute sales_daily from the sale table (idempotent)"
    )
    rollups.add_argument("--from", dest="start", type=date.fromisoformat, help="first day")
    rollups.add_argument("--to", dest="end", type=date.fromisoformat, help="last day")
    rollups.set_defaults(handler=_rebuild_rollups)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
