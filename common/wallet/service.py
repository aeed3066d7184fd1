"""The wallet ledger: every balance change is one guarded UPDATE plus one appended entry.

`apply_wallet_change` is the only way money enters or leaves a wallet: top-ups and debits
now, order payments and refunds later. It must run inside the caller's transaction (a unit
of work that is retried on deadlock), so the entry commits together with whatever caused it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from common.db.types import Money, utcnow
from common.errors import Conflict
from common.events.outbox import emit, entity
from common.events.types import EventType
from common.identity.accounts import AccountNotFound
from common.models.identity import MAX_WALLET_BALANCE, UserAccount, WalletEntry, WalletEntryKind

# The most one top-up, debit or adjustment may move; larger amounts are typing mistakes.
MAX_WALLET_AMOUNT = Decimal("100000.00")


class InsufficientFunds(Conflict):
    code = "insufficient_funds"
    title = "Insufficient funds"


class BalanceLimitExceeded(Conflict):
    code = "balance_limit_exceeded"
    title = "Wallet balance limit exceeded"


class AccountInactive(Conflict):
    code = "account_inactive"
    title = "Account is deactivated"


async def apply_wallet_change(
    session: AsyncSession,
    *,
    user_id: int,
    amount: Decimal,
    kind: WalletEntryKind,
    actor_id: int | None,
    reference: str | None = None,
    note: str | None = None,
) -> WalletEntry:
    """Add `amount` (negative to take money) to an active account's wallet and append the
    matching entry. The balance is guarded in SQL, so concurrent changes can never take it
    below zero; `balance_after` is read back while this transaction holds the row lock.

    Raises `InsufficientFunds`, `BalanceLimitExceeded`, `AccountInactive`, `AccountNotFound`.
    """
    if amount == 0:
        raise ValueError("a wallet entry moves money; amount must not be zero")
    # ROUND keeps SQLite's binary floats on whole cents (e.g. 0.3 - 0.1 - 0.2 is not 0 there);
    # on MySQL the DECIMAL sum is exact already and ROUND changes nothing.
    new_balance = func.round(UserAccount.wallet_balance + amount, 2, type_=Money())
    result = await session.execute(
        update(UserAccount)
        .where(
            UserAccount.id == user_id,
            UserAccount.is_active.is_(True),
            new_balance >= Decimal("0"),
            new_balance <= MAX_WALLET_BALANCE,
        )
        .values(wallet_balance=new_balance)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        await _explain_refusal(session, user_id=user_id, amount=amount)
    balance_after = await session.scalar(
        select(UserAccount.wallet_balance).where(UserAccount.id == user_id)
    )
    assert balance_after is not None  # the row was updated above, in this transaction
    entry = WalletEntry(
        user_id=user_id,
        kind=kind.value,
        amount=amount,
        balance_after=balance_after,
        reference=reference,
        actor_id=actor_id,
        note=note,
        created_at=utcnow(),
    )
    session.add(entry)
    await session.flush()
    emit(
        session,
        EventType.WALLET_CREDITED if amount > 0 else EventType.WALLET_DEBITED,
        entity(entry),
    )
    return entry


async def _explain_refusal(session: AsyncSession, *, user_id: int, amount: Decimal) -> None:
    row = (
        await session.execute(
            select(UserAccount.wallet_balance, UserAccount.is_active).where(
                UserAccount.id == user_id
            )
        )
    ).one_or_none()
    if row is None:
        raise AccountNotFound(f"No account with id {user_id}.")
    if not row.is_active:
        raise AccountInactive("The account is deactivated; its wallet cannot change.")
    if amount < 0:
        raise InsufficientFunds(
            f"The wallet holds {row.wallet_balance}, less than {-amount}.",
            balance=str(row.wallet_balance),
            requested=str(-amount),
        )
    raise BalanceLimitExceeded(
        f"The balance may not exceed {MAX_WALLET_BALANCE}.", limit=str(MAX_WALLET_BALANCE)
    )


@dataclass(frozen=True)
class WalletDiscrepancy:
    user_id: int
    cached_balance: Decimal
    ledger_balance: Decimal


async def reconcile_wallets(
    session: AsyncSession, *, user_ids: Sequence[int] | None = None
) -> list[WalletDiscrepancy]:
    """Every account whose cached `wallet_balance` differs from the sum of its entries; an
    empty list proves the ledger and the balances agree."""
    totals = (
        select(WalletEntry.user_id, func.sum(WalletEntry.amount).label("total"))
        .group_by(WalletEntry.user_id)
        .subquery()
    )
    ledger_balance = func.coalesce(totals.c.total, 0, type_=Money())
    statement = (
        select(UserAccount.id, UserAccount.wallet_balance, ledger_balance)
        .outerjoin(totals, totals.c.user_id == UserAccount.id)
        .where(func.round(UserAccount.wallet_balance - ledger_balance, 2) != 0)
        .order_by(UserAccount.id)
    )
    if user_ids is not None:
        statement = statement.where(UserAccount.id.in_(user_ids))
    return [
        WalletDiscrepancy(user_id=user_id, cached_balance=cached, ledger_balance=ledger)
        for user_id, cached, ledger in (await session.execute(statement)).all()
    ]
