"""Stock alerts: `stock.low`, `stock.out` and `stock.back`, fired exactly when a product's
available stock (on hand minus what reservations hold) crosses its threshold or zero.

Every writer that changes what is available calls `note_available` with the level before and
after its change, both read under the product's row lock (`lock_stock`), so concurrent
writers see a chain of levels and each crossing fires once, in the transaction that made it:

- `stock.low`: from above `low_stock_threshold` to at or below it;
- `stock.out`: from above 0 to 0;
- `stock.back`: from 0 to above 0.

A fall from above the threshold straight to 0 is both `stock.low` and `stock.out`.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from common.events.outbox import emit
from common.events.types import EventType


def crossings(before: int, after: int, threshold: int) -> list[EventType]:
    """The alerts a move of available stock from `before` to `after` fires."""
    fired = []
    if before > threshold >= after:
        fired.append(EventType.STOCK_LOW)
    if before > 0 >= after:
        fired.append(EventType.STOCK_OUT)
    if before <= 0 < after:
        fired.append(EventType.STOCK_BACK)
    return fired


def note_available(
    session: AsyncSession,
    *,
    product_id: int,
    before: int,
    after: int,
    threshold: int,
    on_hand: int,
    cause: str,
) -> None:
    """Emit the alerts of this move (none for most moves), in the caller's transaction.
    `cause` says what moved it (`sale:12`, `reservation:7 expired`, ...)."""
    for event_type in crossings(before, after, threshold):
        emit(
            session,
            event_type,
            {
                "product_id": product_id,
                "available": max(after, 0),
                "on_hand": on_hand,
                "low_stock_threshold": threshold,
            },
            changes={"available": [max(before, 0), max(after, 0)], "cause": cause},
        )
