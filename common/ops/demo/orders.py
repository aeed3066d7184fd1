"""The demo store's customer orders in every state, with their reservations, payments and history.

Orders follow the sales service's flow row for row: each holds a stock reservation; a paid
order has its wallet `payment`, one sale per line (`order_id` set) and its reservation
confirmed; a refunded one also has the wallet `refund` and a refund sale per line; cancelled
and expired orders released or lost their hold and moved nothing. Shipped and delivered are
paid orders that went on through fulfilment. Pending orders are placed in the last hour of
history and hold their stock for `PENDING_HOLD`, so a freshly seeded store shows open orders.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal

from common.models.identity import WalletEntryKind
from common.models.inventory import ReservationStatus, StockReservation, StockReservationItem
from common.models.orders import CustomerOrder, OrderItem, OrderStatus, OrderStatusChange
from common.ops.demo.catalog import LAST_NAMES
from common.ops.demo.ledger import book_sale
from common.ops.demo.state import Delivered, DemoProduct, DemoStore, PendingRefund, WalletEvent
from common.ops.demo.writer import table_of

# How long an order may wait for payment: the default ORDER_RESERVATION_TTL.
PAYMENT_WINDOW = timedelta(minutes=15)
# Pending orders of a fresh demo store hold their stock this long after the end of history,
# so the dashboard has open orders to show; the sweeper expires them afterwards.
PENDING_HOLD = timedelta(days=2)
PENDING_SHARE = 0.02
# What becomes of an order that was not left pending; "completed" ones are paid and go on
# through fulfilment (shipped, delivered) as far as the end of history allows.
ORDER_FATES = ("completed", "cancelled", "expired", "refunded")
ORDER_FATE_WEIGHTS = (80, 7, 7, 6)
ORDER_LINES = (1, 2, 3)
ORDER_LINE_WEIGHTS = (70, 22, 8)
MAX_ORDER_REFUND_DELAY_DAYS = 14


def pending_order_count(store: DemoStore) -> int:
    if not store.options.orders:
        return 0
    return max(1, round(store.options.orders * PENDING_SHARE))


def _customer_at(store: DemoStore, moment: datetime) -> int:
    joined = bisect.bisect_right(store.customers, (moment, math.inf))
    # Nobody had joined yet (a very short history): the first customer it is.
    _, customer_id = store.customers[store.rng.randrange(joined) if joined else 0]
    return customer_id


def _order_lines(store: DemoStore, weights: Sequence[float]) -> dict[DemoProduct, int]:
    """Distinct products in ascending id order (the lock order of the real flow)."""
    count = store.rng.choices(ORDER_LINES, weights=ORDER_LINE_WEIGHTS)[0]
    picked = store.rng.choices(store.products, cum_weights=weights, k=count)
    return {
        product: store.rng.choices((1, 2), weights=(85, 15))[0]
        for product in sorted(set(picked), key=lambda p: p.id)
    }


async def checkout(
    store: DemoStore,
    moment: datetime,
    *,
    days: Sequence[date],
    index: int,
    weights: Sequence[float],
    neglecting: bool,
) -> None:
    """An order placed shortly before `moment` and, unless it is cancelled or left to
    expire, paid at `moment`: stock and money move when it is paid."""
    rng = store.rng
    customer = _customer_at(store, moment)
    lines: dict[DemoProduct, int] = {}
    for product, quantity in _order_lines(store, weights).items():
        if neglecting and product.neglected and product.level < quantity:
            # Sold out for good: the shopper takes the category's best seller instead.
            product = store.fallback[product.category_id]
        lines[product] = lines.get(product, 0) + quantity
    lines = dict(sorted(lines.items(), key=lambda line: line[0].id))
    fate = rng.choices(ORDER_FATES, weights=ORDER_FATE_WEIGHTS)[0]
    order_id = next(store.order_ids)
    created = moment - timedelta(seconds=rng.randint(30, 600))
    expires = created + PAYMENT_WINDOW
    history: list[tuple[OrderStatus, datetime, int | None]] = []
    if fate == "cancelled":
        cancelled = created + timedelta(seconds=rng.randint(20, 600))
        history.append((OrderStatus.CANCELLED, cancelled, customer))
        reservation = ReservationStatus.RELEASED
    elif fate == "expired":
        # The sweeper writes the expiry down some seconds after the fact.
        history.append((OrderStatus.EXPIRED, expires + timedelta(seconds=rng.randint(1, 30)), None))
        reservation = ReservationStatus.EXPIRED
    else:
        reservation = ReservationStatus.CONFIRMED
        history.append((OrderStatus.PAID, moment, customer))
        total = _order_total(lines)
        store.wallet_events.append(
            WalletEvent(
                moment=moment,
                user_id=customer,
                kind=WalletEntryKind.payment,
                amount=-total,
                reference=f"order:{order_id}",
                note=None,
            )
        )
        sales = [
            (
                product,
                quantity,
                await book_sale(store, product, quantity, product.price, moment, order_id),
            )
            for product, quantity in lines.items()
        ]
        later = index + rng.randint(1, MAX_ORDER_REFUND_DELAY_DAYS)
        if fate == "refunded" and later < len(days):
            second = rng.randint(8 * 3600, 20 * 3600)
            refunded_at = store.instant(days[later], second)
            history.append((OrderStatus.REFUNDED, refunded_at, customer))
            store.wallet_events.append(
                WalletEvent(
                    moment=refunded_at,
                    user_id=customer,
                    kind=WalletEntryKind.refund,
                    amount=total,
                    reference=f"order:{order_id}",
                    note="changed my mind",
                )
            )
            # The stock and the refund sales come back in the event stream, in time order.
            store.pending_refunds[later] += [
                PendingRefund(
                    sale_id=sale_id,
                    product=product,
                    quantity=quantity,
                    unit_price=product.price,
                    unit_cost=product.cost,
                    second_of_day=second,
                    order_id=order_id,
                )
                for product, quantity, sale_id in sales
            ]
        else:
            _fulfil(store, history, customer, lines, paid_at=moment)
    await _write_order(
        store, order_id, customer, lines, created=created, expires=expires,
        reservation=reservation, history=history,
        paid_at=moment if reservation is ReservationStatus.CONFIRMED else None,
    )  # fmt: skip


def _fulfil(
    store: DemoStore,
    history: list[tuple[OrderStatus, datetime, int | None]],
    customer: int,
    lines: dict[DemoProduct, int],
    *,
    paid_at: datetime,
) -> None:
    """Shipped a day or three after payment, delivered a few days later: as far as the
    end of history allows. The shop's staff make these changes (no demo admin account
    exists, so no actor is recorded)."""
    shipped = paid_at + timedelta(hours=store.rng.uniform(18, 72))
    delivered = shipped + timedelta(hours=store.rng.uniform(24, 120))
    if shipped <= store.history_end:
        history.append((OrderStatus.SHIPPED, shipped, None))
    if delivered <= store.history_end:
        history.append((OrderStatus.DELIVERED, delivered, None))
        store.delivered += [Delivered(customer, product.id, delivered) for product in lines]


async def seed_pending_orders(store: DemoStore) -> None:
    """Orders placed in the last hour of history and not paid yet: they hold stock."""
    store.stage("pending orders")
    rng = store.rng
    last_day = store.instant(store.end, 23 * 3600)
    weights = list(itertools.accumulate(product.weight for product in store.products))
    for _ in range(pending_order_count(store)):
        created = last_day + timedelta(seconds=rng.randint(0, 3599))
        lines = {
            product: quantity
            for product, quantity in _order_lines(store, weights).items()
            if product.level - product.held >= quantity
        }
        if not lines:  # everything it wanted was sold out or held
            continue
        for product, quantity in lines.items():
            product.held += quantity
        await _write_order(
            store,
            next(store.order_ids),
            _customer_at(store, created),
            lines,
            created=created,
            expires=store.history_end + PENDING_HOLD,
            reservation=ReservationStatus.ACTIVE,
            history=[],
            paid_at=None,
        )
    store.progress.update()


async def _write_order(
    store: DemoStore,
    order_id: int,
    customer: int,
    lines: dict[DemoProduct, int],
    *,
    created: datetime,
    expires: datetime,
    reservation: ReservationStatus,
    history: list[tuple[OrderStatus, datetime, int | None]],
    paid_at: datetime | None,
) -> None:
    """The order, its lines, its reservation and its status history, as the sales
    service would have left them."""
    reservation_id = next(store.reservation_ids)
    updated = history[-1][1] if history else created
    status = history[-1][0] if history else OrderStatus.PENDING
    await store.writer.add(
        table_of(StockReservation),
        {
            "id": reservation_id,
            "status": reservation.value,
            "reference": f"order:{order_id}",
            "actor": f"user:{customer}",
            "expires_at": expires,
            "created_at": created,
            "updated_at": updated,
        },
    )
    await store.writer.add(
        table_of(CustomerOrder),
        {
            "id": order_id,
            "customer_id": customer,
            "status": status.value,
            "total": _order_total(lines),
            "shipping_address": (
                f"{store.rng.randint(1, 999)} {store.rng.choice(LAST_NAMES)} Street"
            ),
            "notes": None,
            "reservation_id": reservation_id,
            "expires_at": expires,
            "created_at": created,
            "paid_at": paid_at,
            "updated_at": updated,
        },
    )
    for product, quantity in lines.items():
        await store.writer.add(
            table_of(StockReservationItem),
            {
                "reservation_id": reservation_id,
                "product_id": product.id,
                "quantity": quantity,
                "status": reservation.value,
                "expires_at": expires,
            },
        )
        await store.writer.add(
            table_of(OrderItem),
            {
                "order_id": order_id,
                "product_id": product.id,
                "quantity": quantity,
                "unit_price": product.price,
                "line_total": product.price * quantity,
            },
        )
    previous: OrderStatus | None = None
    for to_status, at, actor in [(OrderStatus.PENDING, created, customer), *history]:
        await store.writer.add(
            table_of(OrderStatusChange),
            {
                "order_id": order_id,
                "from_status": previous.value if previous else None,
                "to_status": to_status.value,
                "actor_id": actor,
                "reason": "changed my mind" if to_status is OrderStatus.REFUNDED else None,
                "created_at": at,
            },
        )
        previous = to_status
    store.summary.orders[status.value] += 1


def _order_total(lines: dict[DemoProduct, int]) -> Decimal:
    return sum((product.price * quantity for product, quantity in lines.items()), Decimal("0.00"))
