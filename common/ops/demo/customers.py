"""The demo store's customers: their accounts, their own top-ups and debits, their wallet ledgers.

Wallet entries are resolved last, in time order, because order payments and the customers'
own top-ups and debits interleave on one balance; `reconcile_wallets` agrees with the result.
Every credit is a paid top-up, as the API makes them: a `wallet_top_up` row (provider
`gateway`, or `manual` for every fifth) that succeeded minutes after it was asked for and points
at its entry; some customers also have a payment that failed, which credited nothing.
`reconcile_top_ups` agrees too.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import bindparam, update

from common.identity.schemas import email_key
from common.models.identity import (
    Role,
    TopUpStatus,
    UserAccount,
    WalletEntry,
    WalletEntryKind,
    WalletTopUp,
)
from common.ops.demo.catalog import FIRST_NAMES, LAST_NAMES
from common.ops.demo.options import CENT
from common.ops.demo.state import DemoStore, WalletEvent
from common.ops.demo.writer import next_id, table_of
from common.wallet.top_ups import top_up_reference


async def seed_customers(store: DemoStore, password_hash: str) -> None:
    store.stage("customers")
    rng = store.rng
    first_id = await next_id(store.connection, table_of(UserAccount))
    first_history = store.opened_at - timedelta(days=30)
    span = (store.history_end - first_history).total_seconds()
    for user_id in range(first_id, first_id + store.options.customers):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"{first}.{last}.{user_id}@example.com".lower()
        joined = first_history + timedelta(seconds=rng.uniform(0, span * 0.8))
        await store.writer.add(
            table_of(UserAccount),
            {
                "id": user_id,
                "email": email,
                "email_key": email_key(email),
                "full_name": f"{first} {last}",
                "phone": f"+1-555-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}",
                "password_hash": password_hash,
                "role": Role.customer.value,
                "is_active": True,
                "wallet_balance": Decimal("0.00"),
                "created_at": joined,
                "updated_at": joined,
            },
        )
        store.customers.append((joined, user_id))
        left = span - (joined - first_history).total_seconds()
        for _ in range(rng.randint(0, 6)):
            store.wallet_events.append(
                WalletEvent(
                    moment=joined + timedelta(seconds=rng.uniform(0, left)),
                    user_id=user_id,
                    kind=WalletEntryKind.top_up,
                    amount=Decimal(rng.choice((20, 50, 100, 200, 500))),
                    debit_share=rng.choice((25, 50, 100)) if rng.random() < 0.4 else 0,
                )
            )
    await store.writer.flush()
    store.customers.sort()
    store.summary.customers = store.options.customers
    store.progress.update()


async def seed_wallets(store: DemoStore) -> None:
    """Every wallet entry, in time order per wallet, with the balance after each."""
    store.stage("wallets")
    balances: dict[int, Decimal] = defaultdict(Decimal)
    entry_ids = itertools.count(await next_id(store.connection, table_of(WalletEntry)))
    top_up_ids = itertools.count(await next_id(store.connection, table_of(WalletTopUp)))
    entries = 0

    async def paid_for(
        event: WalletEvent, amount: Decimal, entry_id: int | None, top_up_id: int
    ) -> None:
        """The top-up behind a credit (or, without an entry, a payment that failed). Added
        after its entry: a full buffer flushes, and the entry must be there first."""
        asked = event.moment - timedelta(minutes=3)
        await store.writer.add(
            table_of(WalletTopUp),
            {
                "id": top_up_id,
                "user_id": event.user_id,
                "amount": amount,
                "provider": "manual" if top_up_id % 5 == 0 else "gateway",
                "status": (TopUpStatus.succeeded if entry_id else TopUpStatus.failed).value,
                "note": None,
                "actor_id": event.user_id,
                "settled_by_id": None,
                "provider_event_id": f"msg_demo_{top_up_id}",
                "wallet_entry_id": entry_id,
                "created_at": asked,
                "expires_at": asked + timedelta(hours=1),
                "settled_at": event.moment,
            },
        )

    async def write(event: WalletEvent, kind: WalletEntryKind, amount: Decimal) -> None:
        nonlocal entries
        balances[event.user_id] += amount
        entries += 1
        # Orders' payments and refunds name their order and the customer who made them;
        # top-ups name the payment behind them.
        for_order = kind in (WalletEntryKind.payment, WalletEntryKind.refund)
        entry_id = next(entry_ids)
        reference = event.reference if for_order else None
        top_up_id = next(top_up_ids) if kind is WalletEntryKind.top_up else None
        if top_up_id is not None:
            reference = top_up_reference(top_up_id)
        await store.writer.add(
            table_of(WalletEntry),
            {
                "id": entry_id,
                "user_id": event.user_id,
                "kind": kind.value,
                "amount": amount,
                "balance_after": balances[event.user_id],
                "reference": reference,
                "actor_id": event.user_id if for_order else None,
                "note": event.note if for_order else "demo data",
                "created_at": event.moment,
            },
        )
        if top_up_id is not None:
            await paid_for(event, amount, entry_id, top_up_id)

    # A stable sort: events of one moment keep the order they were generated in.
    for event in sorted(store.wallet_events, key=lambda e: e.moment):
        balance = balances[event.user_id]
        if event.kind is WalletEntryKind.payment:
            short = -event.amount - balance
            if short > 0:
                top_up = Decimal(math.ceil(short / 50) * 50)
                await write(event, WalletEntryKind.top_up, top_up)
            await write(event, event.kind, event.amount)
        elif event.debit_share and balance >= 20:
            share = (balance * event.debit_share / 100).quantize(CENT)
            await write(event, WalletEntryKind.debit, -share)
        else:
            if event.kind is WalletEntryKind.top_up and event.user_id % 7 == 0:
                # The card was declined first; the customer paid on the second try.
                await paid_for(event, event.amount, None, next(top_up_ids))
            await write(event, event.kind, event.amount)
    await store.writer.flush()
    if balances:
        await store.connection.execute(
            update(table_of(UserAccount))
            .where(table_of(UserAccount).c.id == bindparam("user_id"))
            .values(wallet_balance=bindparam("balance")),
            [{"user_id": user, "balance": amount} for user, amount in balances.items()],
        )
    store.summary.wallet_entries = entries
    store.summary.wallet_total = sum(balances.values(), Decimal("0.00"))
    store.progress.update()
