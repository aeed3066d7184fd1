"""Top-ups: every credit of a wallet names who pays for it.

Two kinds of credit reach a wallet, both recorded as a `wallet_top_up` row:

- store credit: an admin gives it (with a note saying why); it succeeds at once.
- a payment: the customer asks, the top-up waits `pending` with an expiry and changes no
  balance until its provider settles it: `succeeded` credits the wallet exactly once,
  `failed` or expiry end it without credit.

`settle_top_up` is the one way a pending top-up ends by a provider's word (an admin's
confirmation for `manual`, a signed callback for `gateway`); `expire_top_ups` is the
sweeper's. Lock order: the top-up row, then the account (inside `apply_wallet_change`), the
same as everywhere a wallet changes for a reason held in another row. Store credit takes the
account first (the guarded UPDATE) and only then inserts rows that point at it, so no
transaction ever holds a shared lock on the account it later needs to update.

Settling is idempotent by state: the top-up row is locked, and a repeat of the outcome it
already has changes nothing, however many times and however concurrently it is delivered.
The unique `wallet_top_up.wallet_entry_id` makes a second credit impossible in SQL too.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import Select, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from common.db.types import utcnow
from common.errors import Conflict, InvalidInput, NotFound
from common.models.identity import TopUpStatus, WalletEntry, WalletEntryKind, WalletTopUp
from common.wallet.service import apply_wallet_change

STORE_CREDIT = "store_credit"


class TopUpNotFound(NotFound):
    code = "top_up_not_found"
    title = "Top-up not found"


class TopUpNotPending(Conflict):
    code = "top_up_not_pending"
    title = "Top-up is no longer pending"


class TopUpAmountMismatch(Conflict):
    code = "top_up_amount_mismatch"
    title = "The payment's amount differs from the top-up's"


class NoteRequired(InvalidInput):
    code = "note_required"
    title = "Store credit needs a note"


def top_up_reference(top_up_id: int) -> str:
    """How the wallet entry of a top-up names it."""
    return f"top_up:{top_up_id}"


def effective_top_up_status(top_up: WalletTopUp, now: datetime | None = None) -> str:
    """A pending top-up past its expiry is expired, whether or not the sweeper wrote it down."""
    if (
        top_up.status == TopUpStatus.pending
        and top_up.expires_at is not None
        and top_up.expires_at <= (now or utcnow())
    ):
        return TopUpStatus.expired.value
    return top_up.status


async def give_store_credit(
    session: AsyncSession, *, user_id: int, amount: Decimal, note: str | None, admin_id: int
) -> WalletTopUp:
    """An admin credits a customer: the balance changes now, and the top-up row says who
    gave it and why. Raises `NoteRequired` and whatever `apply_wallet_change` raises."""
    if note is None:
        raise NoteRequired("Store credit needs a `note` saying why it is given.")
    # The account's row lock first (the guarded UPDATE), then the rows that point at it.
    entry = await apply_wallet_change(
        session,
        user_id=user_id,
        amount=amount,
        kind=WalletEntryKind.top_up,
        actor_id=admin_id,
        note=note,
    )
    now = utcnow()
    top_up = WalletTopUp(
        user_id=user_id,
        amount=amount,
        provider=STORE_CREDIT,
        status=TopUpStatus.succeeded.value,
        note=note,
        actor_id=admin_id,
        settled_by_id=admin_id,
        wallet_entry_id=entry.id,
        created_at=now,
        settled_at=now,
    )
    session.add(top_up)
    await session.flush()
    entry.reference = top_up_reference(top_up.id)
    await session.flush()
    return top_up


async def request_top_up(
    session: AsyncSession,
    *,
    user_id: int,
    amount: Decimal,
    provider: str,
    note: str | None,
    actor_id: int,
    ttl: timedelta,
) -> WalletTopUp:
    """A payment the customer asks for: pending until its provider settles it; no balance
    changes here."""
    now = utcnow()
    top_up = WalletTopUp(
        user_id=user_id,
        amount=amount,
        provider=provider,
        status=TopUpStatus.pending.value,
        note=note,
        actor_id=actor_id,
        created_at=now,
        expires_at=now + ttl,
    )
    session.add(top_up)
    await session.flush()
    return top_up


def _locked(top_up_id: int) -> Select[tuple[WalletTopUp]]:
    return (
        select(WalletTopUp)
        .where(WalletTopUp.id == top_up_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def settle_top_up(
    session: AsyncSession,
    top_up_id: int,
    *,
    provider: str,
    succeeded: bool,
    amount: Decimal | None = None,
    user_id: int | None = None,
    settled_by_id: int | None = None,
    event_id: str | None = None,
) -> WalletTopUp:
    """End a pending top-up of `provider` as its provider says: `succeeded` appends the one
    credit, otherwise it is `failed`. Saying again what it already is changes nothing.

    `amount` (a provider's own figure) and `user_id` (the path a request came by), when
    given, must match the top-up. Raises `TopUpNotFound` (also for another provider's or
    another customer's top-up), `TopUpAmountMismatch`, `TopUpNotPending` (it ended the other
    way, or expired), and whatever `apply_wallet_change` raises.
    """
    top_up = await session.scalar(_locked(top_up_id))
    if (
        top_up is None
        or top_up.provider != provider
        or (user_id is not None and top_up.user_id != user_id)
    ):
        raise TopUpNotFound(f"No {provider} top-up with id {top_up_id}.")
    if amount is not None and amount != top_up.amount:
        raise TopUpAmountMismatch(
            f"Top-up {top_up.id} is for {top_up.amount}, the payment says {amount}.",
            expected=str(top_up.amount),
            received=str(amount),
        )
    wanted = TopUpStatus.succeeded if succeeded else TopUpStatus.failed
    status = effective_top_up_status(top_up)
    if status == wanted:
        return top_up  # a repeated delivery: already done, nothing more to do
    if status != TopUpStatus.pending:
        raise TopUpNotPending(
            f"Top-up {top_up.id} is {status}; it cannot become {wanted.value}.",
            top_up_status=status,
        )
    if succeeded:
        entry = await apply_wallet_change(
            session,
            user_id=top_up.user_id,
            amount=top_up.amount,
            kind=WalletEntryKind.top_up,
            actor_id=settled_by_id,
            reference=top_up_reference(top_up.id),
            note=top_up.note,
        )
        top_up.wallet_entry_id = entry.id
    top_up.status = wanted.value
    top_up.settled_at = utcnow()
    top_up.settled_by_id = settled_by_id
    top_up.provider_event_id = event_id
    await session.flush()
    return top_up


async def expire_top_ups(session: AsyncSession, top_up_ids: Sequence[int]) -> None:
    """Write down that these (locked, pending, past expiry) top-ups ran out: no credit."""
    if not top_up_ids:
        return
    await session.execute(
        update(WalletTopUp)
        .where(WalletTopUp.id.in_(top_up_ids), WalletTopUp.status == TopUpStatus.pending.value)
        .values(status=TopUpStatus.expired.value, settled_at=utcnow())
        .execution_options(synchronize_session=False)
    )


async def reconcile_top_ups(session: AsyncSession) -> list[str]:
    """The references (`top_up:<id>`) of every top-up whose credit is not exactly what its
    status says: a succeeded one without its one matching entry, another one with an entry,
    or an entry naming a top-up that does not point back at it. Empty: every credit of a
    top-up was paid for, once."""
    succeeded = WalletTopUp.status == TopUpStatus.succeeded.value
    mismatched = (
        select(WalletTopUp.id)
        .outerjoin(WalletEntry, WalletEntry.id == WalletTopUp.wallet_entry_id)
        .where(
            or_(
                and_(
                    succeeded,
                    or_(
                        WalletEntry.id.is_(None),
                        WalletEntry.amount != WalletTopUp.amount,
                        WalletEntry.user_id != WalletTopUp.user_id,
                    ),
                ),
                and_(~succeeded, WalletTopUp.wallet_entry_id.is_not(None)),
            )
        )
    )
    problems = [top_up_reference(top_up_id) for top_up_id in await session.scalars(mismatched)]
    linked = select(WalletTopUp.wallet_entry_id).where(WalletTopUp.wallet_entry_id.is_not(None))
    stray = select(WalletEntry.reference).where(
        WalletEntry.reference.like("top_up:%"), WalletEntry.id.not_in(linked)
    )
    problems += [reference for reference in await session.scalars(stray) if reference]
    return sorted(problems)
