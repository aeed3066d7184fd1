"""The demo store's customers: their accounts, their own top-ups and debits, their wallet ledgers.

Wallet entries are resolved last, in time order, because order payments and the customers'
own top-ups and debits interleave on one balance; `reconcile_wallets` agrees with the result.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import bindparam, update

from common.models.identity import Role, UserAccount, WalletEntry, WalletEntryKind
from common.ops.demo.catalog import FIRST_NAMES, LAST_NAMES
from common.ops.demo.options import CENT
from common.ops.demo.state import DemoStore, WalletEvent
from common.ops.demo.writer import next_id, table_of


async def seed_customers(store: DemoStore, password_hash: str) -> None:
    store.stage("customers")
    rng = store.rng
    first_id = await next_id(store.connection, table_of(UserAccount))
    first_history = store.opened_at - timedelta(days=30)
    span = (store.history_end - first_history).total_seconds()
    for user_id in range(first_id, first_id + store.options.customers):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        joined = first_history + timedelta(seconds=rng.uniform(0, span * 0.8))
        await store.writer.add(
            table_of(UserAccount),
            {
                "id": user_id,
                "email": f"{first}.{last}.{user_id}@example.com".lower(),
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
    entries = 0

    async def write(event: WalletEvent, kind: WalletEntryKind, amount: Decimal) -> None:
        nonlocal entries
        balances[event.user_id] += amount
        entries += 1
        # Orders' payments and refunds name their order and the customer who made them.
        for_order = kind in (WalletEntryKind.payment, WalletEntryKind.refund)
        await store.writer.add(
            table_of(WalletEntry),
            {
                "id": next(entry_ids),
                "user_id": event.user_id,
                "kind": kind.value,
                "amount": amount,
                "balance_after": balances[event.user_id],
                "reference": event.reference if for_order else None,
                "actor_id": event.user_id if for_order else None,
                "note": event.note if for_order else "demo data",
                "created_at": event.moment,
            },
        )

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
