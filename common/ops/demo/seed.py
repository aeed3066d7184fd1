"""Seeding the demo store into a configured database (the CLI's `seed-demo`, the benchmarks)."""

from __future__ import annotations

from common.config import Settings
from common.db.transaction import run_in_transaction
from common.identity.passwords import hash_password
from common.ops.database import open_bulk_database
from common.ops.demo.generator import seed_demo
from common.ops.demo.options import DEMO_CUSTOMER_PASSWORD, DemoOptions, DemoSummary


async def seed_demo_data(
    settings: Settings, options: DemoOptions, *, progress: bool = False
) -> DemoSummary:
    """Seed the demo store into the database of `settings`, in one transaction."""
    password_hash = await hash_password(DEMO_CUSTOMER_PASSWORD, settings)
    async with open_bulk_database(settings) as database:
        return await run_in_transaction(
            database.session_factory,
            lambda session: seed_demo(
                session,
                options,
                timezone=settings.timezone,
                password_hash=password_hash,
                progress=progress,
            ),
            # Rerunning a bulk load after a deadlock would only repeat it; there is no
            # concurrent writer to lose to in an empty catalog.
            attempts=1,
        )
