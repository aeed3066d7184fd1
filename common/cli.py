"""Operator commands: `python -m common.cli <command>`.

Only commands that work are listed; later features add theirs here.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from alembic import command
from alembic.config import Config

from common.config import get_settings
from common.db.engine import Database
from common.inventory import LedgerProblem, reconcile

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


async def _find_ledger_problems() -> list[LedgerProblem]:
    database = Database.from_settings(get_settings())
    try:
        async with database.session_factory() as session:
            return await reconcile(session)
    finally:
        await database.dispose()


def _check_ledger(_args: argparse.Namespace) -> int:
    problems = asyncio.run(_find_ledger_problems())
    if not problems:
        print("ledger reconciled: every cached stock level equals the sum of its movements")
        return 0
    print(f"{len(problems)} ledger problem(s):")
    for problem in problems:
        where = f" movement {problem.movement_id}" if problem.movement_id is not None else ""
        print(
            f"  product {problem.product_id} ({problem.sku}){where}: "
            f"{problem.problem}: {problem.detail}"
        )
    return 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m common.cli", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")

    migrate = commands.add_parser("migrate", help="apply database migrations (alembic upgrade)")
    migrate.add_argument("--revision", default="head", help="target revision (default: head)")
    migrate.set_defaults(handler=_migrate)

    check = commands.add_parser(
        "check-ledger",
        help="prove every product's cached stock equals the sum of its movements "
        "(exit 1 and list the products when not)",
    )
    check.set_defaults(handler=_check_ledger)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
