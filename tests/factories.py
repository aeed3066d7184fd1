"""Plain async factories for accounts and tokens, shared by the identity and wallet tests."""

from __future__ import annotations

import uuid
from decimal import Decimal

from common.config import Settings
from common.db import Database, utcnow
from common.identity.accounts import create_account, issue_tokens
from common.identity.tokens import create_access_token
from common.models.identity import Role, UserAccount, WalletEntryKind
from common.wallet.service import apply_wallet_change

PASSWORD = "correct horse battery"


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.test"


async def make_account(
    database: Database,
    settings: Settings,
    *,
    role: Role = Role.customer,
    email: str | None = None,
    balance: Decimal = Decimal("0.00"),
    is_active: bool = True,
) -> UserAccount:
    """A committed account; `balance` arrives through a real top-up entry, so the ledger of
    every factory-made wallet reconciles."""
    async with database.session_factory() as session:
        account = await create_account(
            session,
            email=email or unique_email(role.value),
            password=PASSWORD,
            full_name=f"Test {role.value.title()}",
            phone=None,
            role=role,
            settings=settings,
        )
        if balance:
            await apply_wallet_change(
                session,
                user_id=account.id,
                amount=balance,
                kind=WalletEntryKind.top_up,
                actor_id=None,
                note="opening balance",
            )
        account.is_active = is_active
        await session.commit()
    return account


def bearer(account: UserAccount, settings: Settings) -> dict[str, str]:
    token = create_access_token(user_id=account.id, role=account.role, settings=settings)
    return {"Authorization": f"Bearer {token.token}"}


async def refresh_token_for(database: Database, settings: Settings, account: UserAccount) -> str:
    async with database.session_factory() as session:
        tokens, _ = await issue_tokens(session, account=account, settings=settings, now=utcnow())
        await session.commit()
    return tokens.refresh_token
