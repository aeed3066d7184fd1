"""Operator commands: `python -m common.ops <command>` (or the `ecommerce-manager` script)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from alembic import command
from rich.console import Console
from rich.progress import (
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from sqlalchemy.ext.asyncio import AsyncSession

from common.config import Settings, get_settings
from common.db import run_in_transaction
from common.errors import AppError
from common.identity.accounts import create_or_promote_admin
from common.identity.password_policy import weakness
from common.identity.passwords import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH
from common.identity.schemas import EMAIL_PATTERN, normalize_email
from common.imports.errors import ImportRejected
from common.imports.limits import ImportLimits
from common.imports.report import ImportResult, RowError
from common.imports.service import ImportOptions, import_products
from common.inventory.audit import LedgerProblem, reconcile
from common.migrations import alembic_config
from common.ops.database import open_bulk_database
from common.ops.demo.options import (
    DEMO_CUSTOMER_PASSWORD,
    CatalogNotEmpty,
    DemoOptions,
    InvalidDemoOptions,
)
from common.ops.demo.seed import seed_demo_data
from common.ops.dev_store import prepare_dev_store
from common.ops.export import DEFAULT_URLS, EXPORTS, ExportFailed, admin_token, download
from common.ops.sweeper import SweepResult, sweep
from common.orders.rollups import OrdersRebuilt, rebuild_orders
from common.reviews.ratings import RatingProblem, rating_problems
from common.sales.service import rebuild_rollups
from common.wallet.service import WalletDiscrepancy, reconcile_wallets
from common.wallet.top_ups import reconcile_top_ups


def _migrate(args: argparse.Namespace) -> int:
    command.upgrade(alembic_config(), args.revision)
    return 0


# Where `create-admin` takes the password from when it is not typed at a prompt. Never a
# command-line option: arguments show in `ps` and in shell history.
ADMIN_PASSWORD_VARIABLE = "ADMIN_PASSWORD"  # noqa: S105 (the variable's name)


class PasswordUnavailable(Exception):
    """No password was given, and there is no terminal to ask for one."""


def read_new_password(*, from_stdin: bool) -> str:
    """The password from standard input's first line (`from_stdin`), else `ADMIN_PASSWORD`,
    else typed twice at a prompt when there is a terminal."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if ADMIN_PASSWORD_VARIABLE in os.environ:
        return os.environ[ADMIN_PASSWORD_VARIABLE]
    if not sys.stdin.isatty():
        raise PasswordUnavailable(
            f"no password: pass --password-stdin and pipe it in, set {ADMIN_PASSWORD_VARIABLE}, "
            "or run the command in a terminal to be asked for it"
        )
    password = getpass.getpass("password: ")
    if getpass.getpass("password again: ") != password:
        raise PasswordUnavailable("the two passwords differ")
    return password


def _create_admin(args: argparse.Namespace) -> int:
    try:
        password = read_new_password(from_stdin=args.password_stdin)
    except PasswordUnavailable as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not PASSWORD_MIN_LENGTH <= len(password) <= PASSWORD_MAX_LENGTH:
        print(
            f"error: the password must have {PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} "
            "characters",
            file=sys.stderr,
        )
        return 2
    weak = weakness(password)
    if weak is not None:
        print(f"error: {weak}", file=sys.stderr)
        return 2
    email = normalize_email(args.email)
    if not EMAIL_PATTERN.match(email):
        print(f"error: {args.email!r} is not an e-mail address", file=sys.stderr)
        return 2
    created = asyncio.run(create_admin(get_settings(), email=email, password=password))
    print(f"{'created' if created else 'promoted'} admin {email}")
    return 0


async def create_admin(settings: Settings, *, email: str, password: str) -> bool:
    """Create the admin, or promote and re-activate the account with that e-mail and give it
    this password. True when the account is new."""

    async def work(session: AsyncSession) -> bool:
        _, created = await create_or_promote_admin(
            session, email=email, password=password, settings=settings
        )
        return created

    async with open_bulk_database(settings) as database:
        return await run_in_transaction(database.session_factory, work)


@dataclass(frozen=True)
class _LedgerReport:
    stock: list[LedgerProblem]
    ratings: list[RatingProblem]
    wallets: list[WalletDiscrepancy]
    top_ups: list[str]

    @property
    def count(self) -> int:
        return len(self.stock) + len(self.ratings) + len(self.wallets) + len(self.top_ups)


async def _find_ledger_problems() -> _LedgerReport:
    async with (
        open_bulk_database(get_settings()) as database,
        database.session_factory() as session,
    ):
        return _LedgerReport(
            stock=await reconcile(session),
            ratings=await rating_problems(session),
            wallets=await reconcile_wallets(session),
            top_ups=await reconcile_top_ups(session),
        )


async def _rebuild(start: date | None, end: date | None) -> tuple[int, OrdersRebuilt]:
    settings = get_settings()
    async with open_bulk_database(settings) as database:
        sales = await run_in_transaction(
            database.session_factory,
            lambda session: rebuild_rollups(session, start=start, end=end),
        )

        def run(work: Callable[[AsyncSession], Awaitable[Any]]) -> Awaitable[Any]:
            return run_in_transaction(database.session_factory, work)

        orders = await rebuild_orders(run, start=start, end=end, timezone=settings.timezone)
        return sales, orders


def _rebuild_rollups(args: argparse.Namespace) -> int:
    rows, orders = asyncio.run(_rebuild(args.start, args.end))
    print(f"sales_daily rebuilt: {rows} rows")
    print(
        f"order_daily rebuilt: {orders.order_rows} rows; customer_daily: "
        f"{orders.customer_rows} rows; lifetime figures corrected: "
        f"{orders.accounts_rewritten} accounts"
    )
    return 0


def _check_ledger(_args: argparse.Namespace) -> int:
    report = asyncio.run(_find_ledger_problems())
    if not report.count:
        print(
            "ledger reconciled: every cached stock level equals the sum of its movements, "
            "every product's rating counters its approved reviews, every wallet balance its "
            "entries, and every top-up's credit its payment"
        )
        return 0
    print(f"{report.count} ledger problem(s):")
    for problem in report.stock:
        where = f" movement {problem.movement_id}" if problem.movement_id is not None else ""
        print(
            f"  product {problem.product_id} ({problem.sku}){where}: "
            f"{problem.problem}: {problem.detail}"
        )
    for rating in report.ratings:
        print(
            f"  product {rating.product_id} ({rating.sku}): rating_mismatch: counters say "
            f"{rating.counted[0]} approved reviews totalling {rating.counted[1]}, the reviews "
            f"{rating.actual[0]} totalling {rating.actual[1]}"
        )
    for wallet in report.wallets:
        print(
            f"  account {wallet.user_id}: wallet_mismatch: the balance is "
            f"{wallet.cached_balance}, the entries sum to {wallet.ledger_balance}"
        )
    for reference in report.top_ups:
        print(f"  {reference}: top_up_mismatch: its credit is not exactly what its status says")
    return 1


async def run_import(
    settings: Settings,
    path: Path,
    *,
    options: ImportOptions,
    on_progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """The same engine as `POST /products/import`, in one transaction retried on deadlock."""

    async def work(session: AsyncSession) -> ImportResult:
        with path.open("rb") as file:
            return await import_products(
                session, file, filename=path.name, options=options, on_progress=on_progress
            )

    async with open_bulk_database(settings) as database:
        return await run_in_transaction(
            database.session_factory, work, attempts=database.retry_attempts
        )


def _print_row_errors(errors: Sequence[RowError], total: int) -> None:
    for error in errors:
        print(f"  line {error.line}, {error.column or 'row'}: {error.reason}", file=sys.stderr)
    if total > len(errors):
        print(f"  ... and {total - len(errors)} more row errors", file=sys.stderr)


def _import_products(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        print(f"error: no such file: {path}", file=sys.stderr)
        return 2
    settings = get_settings()
    options = ImportOptions(
        create_categories=args.create_categories,
        dry_run=args.dry_run,
        on_error=args.on_error,
        actor="cli:import-products",
        limits=ImportLimits.from_settings(settings),
    )
    progress = Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        TextColumn("{task.completed} rows"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    try:
        with progress:
            task = progress.add_task(f"importing {path.name}", total=None)
            result = asyncio.run(
                run_import(
                    settings,
                    path,
                    options=options,
                    on_progress=lambda rows: progress.advance(task, rows),
                )
            )
    except ImportRejected as rejected:
        print(f"error: {rejected.detail}", file=sys.stderr)
        _print_row_errors(rejected.report.errors, rejected.report.errors_total)
        return 1
    except AppError as error:
        print(f"error: {error.detail}", file=sys.stderr)
        return 2
    report = result.report
    print(
        f"{'dry run: ' if report.dry_run else ''}{report.rows} rows: {report.created} created, "
        f"{report.updated} updated, {report.unchanged} unchanged, {report.failed} failed; "
        f"{report.categories_created} categories created, "
        f"{report.stock_movements} stock movements"
    )
    _print_row_errors(report.errors, report.errors_total)
    return 1 if report.failed else 0


def _filters(pairs: Sequence[str]) -> dict[str, str]:
    filters = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key:
            raise ExportFailed(f"--filter takes key=value, not {pair!r}")
        filters[key] = value
    return filters


async def run_export(
    settings: Settings, args: argparse.Namespace, on_bytes: Callable[[int], None]
) -> Path:
    params = {**_filters(args.filter), "format": args.format}
    token = await admin_token(settings, args.admin)
    base_url = args.url or DEFAULT_URLS[EXPORTS[args.export]]
    # An XLSX is assembled before its first byte: allow the service minutes for it.
    timeout = httpx.Timeout(30, read=600)
    async with httpx.AsyncClient(base_url=base_url, timeout=timeout) as client:
        downloaded = await download(
            client,
            args.export,
            token=token,
            params=params,
            output=Path(args.output) if args.output else None,
            on_bytes=on_bytes,
        )
    return downloaded.path


def _export(args: argparse.Namespace) -> int:
    progress = Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    try:
        with progress:
            task = progress.add_task(f"exporting {args.export}", total=None)
            path = asyncio.run(
                run_export(get_settings(), args, lambda size: progress.advance(task, size))
            )
    except ExportFailed as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"wrote {path} ({path.stat().st_size} bytes)")
    return 0


async def _sweep_once(batch_size: int) -> SweepResult:
    async with open_bulk_database(get_settings()) as database:
        return await sweep(database, batch_size=batch_size, settings=get_settings())


def _sweep(args: argparse.Namespace) -> int:
    batch_size: int = args.batch_size or get_settings().sweep_batch_size
    if batch_size < 1:
        print("error: --batch-size must be at least 1", file=sys.stderr)
        return 2
    result = asyncio.run(_sweep_once(batch_size))
    print(
        f"expired {result.orders_expired} order(s) and {result.reservations_expired} "
        f"reservation(s); deleted {result.idempotency_records_deleted} expired idempotency "
        f"record(s) and {result.login_throttles_deleted} ended login-throttle window(s); "
        f"expired {result.top_ups_expired} unpaid top-up(s)"
    )
    return 0


def _seed_demo(args: argparse.Namespace) -> int:
    try:
        options = _demo_options(args)
        summary = asyncio.run(
            seed_demo_data(get_settings(), options, progress=not args.quiet and sys.stderr.isatty())
        )
    except CatalogNotEmpty as refusal:
        if args.if_empty:
            print(f"demo data skipped: {refusal}")
            return 0
        print(f"error: {refusal}", file=sys.stderr)
        return 1
    except InvalidDemoOptions as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(
        f"demo store {summary.start} to {summary.end}: {summary.categories} categories, "
        f"{summary.products} products, {summary.sales} sales and {summary.refunds} refunds "
        f"(net revenue {summary.revenue - summary.refunded}), {summary.movements} stock "
        f"movements, {summary.customers} customers with {summary.wallet_entries} wallet "
        f"entries (password {DEMO_CUSTOMER_PASSWORD!r}), {summary.orders.total()} orders "
        f"({_by_status(summary.orders)}), {summary.reviews.total()} reviews "
        f"({_by_status(summary.reviews)})"
    )
    return 0


def _by_status(counts: Counter[str]) -> str:
    return ", ".join(f"{count} {status}" for status, count in sorted(counts.items())) or "none"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m common.ops", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")

    migrate = commands.add_parser("migrate", help="apply database migrations (alembic upgrade)")
    migrate.add_argument("--revision", default="head", help="target revision (default: head)")
    migrate.set_defaults(handler=_migrate)

    rollups = commands.add_parser(
        "rebuild-rollups",
        help="recompute the sales and order rollups from the raw rows",
    )
    rollups.add_argument("--from", dest="start", type=date.fromisoformat, help="first day")
    rollups.add_argument("--to", dest="end", type=date.fromisoformat, help="last day")
    rollups.set_defaults(handler=_rebuild_rollups)
    create_admin_command = commands.add_parser(
        "create-admin",
        help="create an admin account, or promote an existing one",
        # `--password` must not pass for `--password-stdin`: no password on a command line.
        allow_abbrev=False,
    )
    create_admin_command.add_argument("--email", required=True)
    create_admin_command.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input's first line (else from "
        f"{ADMIN_PASSWORD_VARIABLE}, else a prompt); {PASSWORD_MIN_LENGTH}-"
        f"{PASSWORD_MAX_LENGTH} characters; it replaces any old one",
    )
    create_admin_command.set_defaults(handler=_create_admin)

    check = commands.add_parser(
        "check-ledger",
        help="prove every product's cached stock equals the sum of its movements, and its "
        "rating counters its approved reviews (exit 1 and list the products when not)",
    )
    check.set_defaults(handler=_check_ledger)

    importer = commands.add_parser(
        "import-products",
        help="create and update products from a CSV or XLSX file, like POST /products/import "
        "(exit 1 when rows failed)",
    )
    importer.add_argument("file", help="a .csv (UTF-8, comma or semicolon) or .xlsx file")
    importer.add_argument("--dry-run", action="store_true", help="validate and report only")
    importer.add_argument(
        "--create-categories", action="store_true", help="create unknown categories"
    )
    importer.add_argument(
        "--on-error",
        choices=["abort", "skip"],
        default="abort",
        help="abort: any bad row writes nothing (default); skip: write the good rows",
    )
    importer.set_defaults(handler=_import_products)
    exporter = commands.add_parser(
        "export",
        help="download an export (GET /api/v1/exports/...) from a running service to a file, "
        "signed in as an admin of the configured database",
    )
    exporter.add_argument("export", choices=sorted(EXPORTS), help="what to export")
    exporter.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    exporter.add_argument("--output", "-o", help="file to write (default: the dated name)")
    exporter.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a filter of the matching list, e.g. --filter category_id=3 (repeatable)",
    )
    exporter.add_argument(
        "--url", help="the service's base URL (default: http://127.0.0.1:8000 or :8001)"
    )
    exporter.add_argument("--admin", help="the admin's e-mail (default: the first admin)")
    exporter.set_defaults(handler=_export)
    sweep_command = commands.add_parser(
        "sweep",
        help="one pass of the expiry sweeper: mark unpaid orders and reservations past their "
        "expiry as expired (safe alongside running services)",
    )
    sweep_command.add_argument(
        "--batch-size", type=int, help="rows per transaction (default: SWEEP_BATCH_SIZE)"
    )
    sweep_command.set_defaults(handler=_sweep)
    demo = commands.add_parser(
        "seed-demo",
        help="fill an empty database with a demo store: a year of sales, stock, customers, "
        "orders and reviews",
        description=(
            "Fill an empty database with a demo store: categories, products with prices and "
            "costs, their stock ledger (initial stock, restocks, sales, returns), a year of "
            "sales with weekly and seasonal patterns ending yesterday, refunds, customers "
            "with wallets (all sharing the password "
            f"{DEMO_CUSTOMER_PASSWORD!r}), their orders in every state (pending, paid, "
            "shipped, delivered, cancelled, refunded, expired; paid ones with their wallet "
            "payments and sales) and their reviews (pending, approved, rejected). "
            "Deterministic for a seed and end date. Refuses a "
            "database that already has categories, products or sales: demo rows mixed into "
            "a real store would corrupt its reports."
        ),
    )
    _add_demo_options(demo)
    demo.add_argument(
        "--if-empty",
        action="store_true",
        help="exit 0 without seeding when the catalog is not empty (for scripts)",
    )
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    demo.set_defaults(handler=_seed_demo)

    dev = commands.add_parser(
        "dev-setup",
        help="what `./docker-manager.sh dev` runs: the demo store into an empty catalog, and a "
        "development admin with a generated password when there is no admin",
    )
    dev.add_argument(
        "--credentials",
        type=Path,
        default=Path("var/dev-admin.txt"),
        help="file (mode 0600) that keeps the generated admin's e-mail and password",
    )
    dev.add_argument("--no-demo", action="store_true", help="do not load the demo store")
    _add_demo_options(dev)
    dev.set_defaults(handler=_dev_setup)
    return parser


def _add_demo_options(parser: argparse.ArgumentParser) -> None:
    defaults = DemoOptions()
    parser.add_argument("--products", type=int, default=defaults.products)
    parser.add_argument("--days", type=int, default=defaults.days, help="days of history")
    parser.add_argument("--sales", type=int, default=defaults.sales)
    parser.add_argument("--customers", type=int, default=defaults.customers)
    parser.add_argument(
        "--orders", type=int, default=defaults.orders, help="customer orders, besides the sales"
    )
    parser.add_argument("--seed", type=int, default=defaults.seed, help="random seed")
    parser.add_argument(
        "--end", type=date.fromisoformat, help="last day of history (default: yesterday)"
    )


def _demo_options(args: argparse.Namespace) -> DemoOptions:
    return DemoOptions(
        products=args.products,
        days=args.days,
        sales=args.sales,
        customers=args.customers,
        orders=args.orders,
        seed=args.seed,
        end=args.end,
    )


def _dev_setup(args: argparse.Namespace) -> int:
    try:
        demo = None if args.no_demo else _demo_options(args)
    except InvalidDemoOptions as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if demo is not None:
        print("loading the demo store when the catalog is empty (this takes a moment)")
    store = asyncio.run(prepare_dev_store(get_settings(), credentials=args.credentials, demo=demo))
    if store.demo is not None:
        print(
            f"demo store loaded: {store.demo.products} products, {store.demo.sales} sales "
            f"from {store.demo.start} to {store.demo.end}, {store.demo.customers} customers "
            f"(password {DEMO_CUSTOMER_PASSWORD!r})"
        )
    if store.admin_password is not None:
        print(
            f"development admin created: e-mail {store.admin_email} password "
            f"{store.admin_password} (shown once; kept in {args.credentials})"
        )
    elif args.credentials.is_file():
        print(f"development admin: see {args.credentials}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
