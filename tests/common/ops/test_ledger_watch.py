"""The ledger watch exports drift as gauges: 0 on a sound store, the drifted rows otherwise."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import update

from common.db import Database
from common.inventory.ledger import record_movement
from common.models import MovementKind, Product
from common.ops.ledger_watch import LEDGER_METRICS, audit_ledgers
from tests.fixtures.factories import make_product


def exported(name: str, ledger: str) -> float:
    registry = CollectorRegistry()
    for metric in LEDGER_METRICS:
        registry.register(metric)
    for line in generate_latest(registry).decode().splitlines():
        if line.startswith(f'{name}{{ledger="{ledger}"}}'):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name}{{ledger={ledger!r}}} is not exported")


async def test_a_sound_store_exports_no_drift_and_a_drifted_level_exports_one_row(
    isolated_database: Database,
) -> None:
    async with isolated_database.session_factory() as session:
        product_id = await make_product(session, sku="WATCH-1")
        await record_movement(session, product_id=product_id, kind=MovementKind.RESTOCK, delta=4)
        await session.commit()
    assert await audit_ledgers(isolated_database) == {"inventory": 0, "ratings": 0, "wallet": 0}
    assert exported("ledger_drift_rows", "inventory") == 0
    async with isolated_database.session_factory() as session:
        await session.execute(
            update(Product).where(Product.id == product_id).values(stock_on_hand=9)
        )
        await session.commit()
    drift = await audit_ledgers(isolated_database)
    assert drift["inventory"] == 1
    assert exported("ledger_drift_rows", "inventory") == 1
