"""Customer administration: search, create, update, deactivate."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Select, Table, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.config import Settings
from common.db.dialect import begin_writing
from common.db.types import UTCDateTime, utcnow
from common.db.unit_of_work import UnitOfWork
from common.errors import Conflict, Forbidden, InvalidInput
from common.identity.access import Principal
from common.identity.accounts import (
    EmailExists,
    check_own_password,
    create_account,
    find_account_by_email,
    flush_account,
    get_account,
    revoke_all_refresh_tokens,
    set_email,
)
from common.identity.schemas import email_key
from common.models.identity import Role, UserAccount
from common.models.orders import CustomerOrder
from common.orders.status import order_is_open
from sales_microservice.customers.schemas import CustomerCreate, CustomerSort, CustomerUpdate

ADMIN_ONLY_FIELDS = frozenset({"role", "is_active"})
# Sorts an account with no order before any that has one.
NEVER = datetime(1970, 1, 1, tzinfo=UTC)


class BalanceNotZero(Conflict):
    code = "balance_not_zero"
    title = "Wallet balance is not zero"


class OpenOrdersExist(Conflict):
    code = "open_orders"
    title = "Customer has open orders"


class LastAdmin(Conflict):
    code = "last_admin"
    title = "The last active admin cannot be removed"


class FieldNotAllowed(Forbidden):
    code = "field_not_allowed"
    title = "Field may only be changed by an admin"


class CurrentPasswordRequired(InvalidInput):
    code = "current_password_required"
    title = "Changing your own e-mail needs your current password"


def customer_search(
    *,
    q: str | None,
    role: Role | None,
    is_active: bool | None,
    sort: CustomerSort = CustomerSort.id,
    descending: bool = False,
) -> Select[tuple[UserAccount]]:
    """The accounts that match, in `sort` order, ties by id; each sort column has an index."""
    column = getattr(UserAccount, sort.value)
    if sort is CustomerSort.last_order_at:
        # NULLs first ascending and last descending on every backend, as MySQL does.
        column = func.coalesce(column, literal(NEVER, UTCDateTime()))
    ordering = [column.desc(), UserAccount.id.desc()] if descending else [column, UserAccount.id]
    statement = select(UserAccount).order_by(*ordering)
    if q:
        statement = statement.where(
            or_(
                UserAccount.email.contains(q.lower(), autoescape=True),
                UserAccount.full_name.contains(q, autoescape=True),
                UserAccount.phone.contains(q, autoescape=True),
            )
        )
    if role is not None:
        statement = statement.where(UserAccount.role == role.value)
    if is_active is not None:
        statement = statement.where(UserAccount.is_active.is_(is_active))
    return statement


async def has_open_orders(session: AsyncSession, customer_id: int) -> bool:
    """Whether the customer has an order that is not finished yet: pending (and not
    expired), paid or shipped. Deactivation asks while holding the account row lock, and
    placing an order refuses a deactivated account."""
    open_order = await session.scalar(
        select(CustomerOrder.id)
        .where(CustomerOrder.customer_id == customer_id, order_is_open())
        .limit(1)
    )
    return open_order is not None


async def get_customer(session: AsyncSession, customer_id: int) -> UserAccount:
    return await get_account(session, customer_id)


async def create_customer(
    session: AsyncSession, request: CustomerCreate, *, settings: Settings
) -> UserAccount:
    """An account of any role, made by an admin (customers register at `/auth/register`)."""
    return await create_account(session, **request.model_dump(), settings=settings)


async def _keep_an_admin(session: AsyncSession, account_id: int) -> None:
    """Refuse to demote or deactivate the last active admin: nobody could manage the shop.

    Every such change first locks the rows of all active admins, in id order, so two admins
    removing each other at once are serialized (the second sees one admin left) and never
    wait on each other in a cycle."""
    await begin_writing(session, cast(Table, UserAccount.__table__), [account_id])
    admins = (
        await session.scalars(
            select(UserAccount.id)
            .where(UserAccount.role == Role.admin.value, UserAccount.is_active.is_(True))
            .order_by(UserAccount.id)
            .with_for_update()
        )
    ).all()
    if list(admins) == [account_id]:
        raise LastAdmin("This is the last active admin; make another admin first.")


async def confirm_own_email_change(
    uow: UnitOfWork,
    *,
    customer_id: int,
    changes: CustomerUpdate,
    actor: Principal,
    address: str,
    settings: Settings,
) -> None:
    """Whoever holds an access token must not be able to move the account to an address of
    their own (and then reset or take it over): changing one's own e-mail to another
    address needs the current password, checked (and throttled) like a sign-in. An admin
    changing another account's e-mail needs none."""
    if changes.email is None or actor.id != customer_id:
        return
    if email_key(changes.email) == email_key(actor.email):
        return
    if changes.current_password is None:
        raise CurrentPasswordRequired(
            "Send current_password to change your e-mail.", fields=["current_password"]
        )
    await check_own_password(
        uow, user_id=actor.id, password=changes.current_password, address=address, settings=settings
    )


async def update_customer(
    session: AsyncSession, *, customer_id: int, changes: CustomerUpdate, actor: Principal
) -> UserAccount:
    """The changes sent; an e-mail change of one's own was confirmed first
    (`confirm_own_email_change`)."""
    fields: dict[str, Any] = changes.model_dump(exclude_unset=True)
    fields.pop("current_password", None)
    forbidden = sorted(ADMIN_ONLY_FIELDS & fields.keys())
    if forbidden and not actor.is_admin:
        raise FieldNotAllowed(f"Only an admin may change {', '.join(forbidden)}.", fields=forbidden)
    is_active = fields.pop("is_active", None)
    if fields.get("role") == Role.customer:
        await _keep_an_admin(session, customer_id)
    if is_active is False:
        account = await deactivate_customer(session, customer_id=customer_id)
    else:
        account = await get_account(session, customer_id, for_update=True)
        if is_active:
            account.is_active = True
    email = fields.pop("email", None)
    if email is not None:
        found = await find_account_by_email(session, email)
        if found is not None and found.id != account.id:
            raise EmailExists(f"An account with {email} already exists.")
        set_email(account, email)
    for name, value in fields.items():
        setattr(account, name, value.value if isinstance(value, Role) else value)
    await flush_account(session, account.email)
    return account


async def deactivate_customer(session: AsyncSession, *, customer_id: int) -> UserAccount:
    """Disable sign-in; history and money records stay. The account row is locked first, so
    a concurrent top-up either lands before (and this sees the balance) or is refused after."""
    await _keep_an_admin(session, customer_id)
    account = await get_account(session, customer_id, for_update=True)
    if not account.is_active:
        return account
    if account.wallet_balance != 0:
        raise BalanceNotZero(
            f"The wallet still holds {account.wallet_balance}; refund or debit it first.",
            balance=str(account.wallet_balance),
        )
    if await has_open_orders(session, customer_id):
        raise OpenOrdersExist("The customer has orders that are not finished yet.")
    account.is_active = False
    await revoke_all_refresh_tokens(session, user_id=customer_id, now=utcnow())
    await session.flush()
    return account
