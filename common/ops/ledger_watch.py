"""The ledger watch: every `LEDGER_AUDIT_INTERVAL_SECONDS`, the same reconciliation as
`check-ledger` (cached stock levels and rating counters, wallet balances, each against its
ledger), exported as gauges so an alert fires on drift instead of an operator finding it.

Read-only and safe on any number of replicas; one pass is a handful of aggregate queries.
"""

from __future__ import annotations

import asyncio
import logging

from prometheus_client import Gauge

from common.config import Settings
from common.db.engine import Database
from common.inventory.audit import reconcile
from common.reviews.ratings import rating_problems
from common.wallet.service import reconcile_wallets

logger = logging.getLogger(__name__)

LEDGER_DRIFT = Gauge(
    "ledger_drift_rows",
    "Rows whose cached value disagrees with their ledger at the last audit (0 = sound).",
    labelnames=["ledger"],
    registry=None,
)
LEDGER_AUDIT_LAST_SUCCESS = Gauge(
    "ledger_audit_last_success_timestamp_seconds",
    "Unix time the last ledger audit of this process finished.",
    registry=None,
)
LEDGER_METRICS = (LEDGER_DRIFT, LEDGER_AUDIT_LAST_SUCCESS)


async def audit_ledgers(database: Database) -> dict[str, int]:
    """Count the rows that drifted from their ledger, per ledger, and export the counts."""
    async with database.session_factory() as session:
        drift = {
            "inventory": len(await reconcile(session)),
            "ratings": len(await rating_problems(session)),
            "wallet": len(await reconcile_wallets(session)),
        }
    for ledger, rows in drift.items():
        LEDGER_DRIFT.labels(ledger=ledger).set(rows)
    LEDGER_AUDIT_LAST_SUCCESS.set_to_current_time()
    return drift


async def run_ledger_watch(database: Database, settings: Settings) -> None:
    """Audit every `LEDGER_AUDIT_INTERVAL_SECONDS` until cancelled; 0 turns it off."""
    if settings.ledger_audit_interval_seconds <= 0:
        return
    while True:
        try:
            drift = await audit_ledgers(database)
        except Exception:
            logger.exception("ledger audit failed")
        else:
            if any(drift.values()):
                logger.error("ledger drift", extra={"drift": drift})
        await asyncio.sleep(settings.ledger_audit_interval_seconds)
