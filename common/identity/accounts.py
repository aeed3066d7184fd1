"""Accounts and sign-in: creating accounts, logging in, rotating and revoking refresh tokens.

Used by the `/auth` routes of both services, the sales service's customer routes and the
`create-admin` command.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from common.config import Settings
from common.db.types import utcnow
from common.db.unit_of_work import UnitOfWork
from common.errors import AppError, Conflict, Forbidden, NotFound, Unauthenticated
from common.identity.access import AccountDisabled
from common.identity.passwords import hash_password, verify_password
from common.identity.schemas import TokenResponse, email_key, normalize_email
from common.identity.throttle import (
    LoginKeys,
    count_attempt,
    forgive_attempt,
    login_keys,
    registration_key,
)
from common.identity.tokens import create_access_token, hash_refresh_token, new_refresh_token
from common.models.identity import RefreshToken, Role, UserAccount

logger = logging.getLogger(__name__)


class EmailExists(Conflict):
    code = "email_exists"
    title = "E-mail already registered"


class AccountNotFound(NotFound):
    code = "account_not_found"
    title = "Account not found"


class InvalidCredentials(Unauthenticated):
    code = "invalid_credentials"
    title = "Invalid e-mail or password"


class InvalidRefreshToken(Unauthenticated):
    code = "invalid_refresh_token"
    title = "Invalid refresh token"


class TooManyLoginAttempts(AppError):
    status_code = 429
    code = "too_many_login_attempts"
    title = "Too many failed logins"


class WrongPassword(Forbidden):
    code = "wrong_password"
    title = "The current password is not right"


class TooManyRegistrations(AppError):
    status_code = 429
    code = "too_many_registrations"
    title = "Too many registrations from this address"


def too_many_attempts(error: type[AppError], what: str, wait: int) -> AppError:
    return error(
        f"Too many {what}; try again in {wait} seconds.",
        headers={"Retry-After": str(wait)},
        retry_after=wait,
    )


# --- accounts ----------------------------------------------------------------------------------


async def get_account(
    session: AsyncSession, user_id: int, *, for_update: bool = False
) -> UserAccount:
    statement = select(UserAccount).where(UserAccount.id == user_id)
    if for_update:
        statement = statement.with_for_update()
    account = await session.scalar(statement)
    if account is None:
        raise AccountNotFound(f"No account with id {user_id}.")
    return account


async def find_account_by_email(session: AsyncSession, email: str) -> UserAccount | None:
    """The account of this address, found by its binary canonical key (never by the
    accent-insensitive `email` column)."""
    account: UserAccount | None = await session.scalar(
        select(UserAccount).where(UserAccount.email_key == email_key(email))
    )
    return account


def set_email(account: UserAccount, email: str) -> None:
    """The one place an account's address is written: its key goes with it."""
    account.email = normalize_email(email)
    account.email_key = email_key(email)


async def create_account(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    full_name: str,
    phone: str | None,
    role: Role,
    settings: Settings,
) -> UserAccount:
    # Hashed before the session's first query, so no connection waits on Argon2.
    password_hash = await hash_password(password, settings)
    return await add_account(
        session,
        email=email,
        password_hash=password_hash,
        full_name=full_name,
        phone=phone,
        role=role,
    )


async def add_account(
    session: AsyncSession,
    *,
    email: str,
    password_hash: str,
    full_name: str,
    phone: str | None,
    role: Role,
) -> UserAccount:
    """`create_account` with the password already hashed (outside any transaction).

    Written first, not looked up first: the unique `email_key` decides (a taken address is
    409 from `flush_account`). On SQLite a transaction that reads before it writes cannot
    write once another has committed since its read (an immediate "database is locked", no
    waiting): 50 concurrent registrations hit that and answered 503."""
    email = normalize_email(email)
    account = UserAccount(
        full_name=full_name, phone=phone, password_hash=password_hash, role=role.value
    )
    set_email(account, email)
    session.add(account)
    await flush_account(session, email)
    return account


async def flush_account(session: AsyncSession, email: str) -> None:
    """Flush a new or changed account; a concurrent insert of the same e-mail is 409."""
    try:
        await session.flush()
    except IntegrityError as error:
        raise EmailExists(f"An account with {email} already exists.") from error


async def create_or_promote_admin(
    session: AsyncSession, *, email: str, password: str, settings: Settings
) -> tuple[UserAccount, bool]:
    """The admin with this e-mail, created if new; an existing account is promoted,
    re-activated and given this password. Returns the account and whether it was created."""
    account = await find_account_by_email(session, email)
    if account is None:
        account = await create_account(
            session,
            email=email,
            password=password,
            full_name=normalize_email(email).split("@", 1)[0],
            phone=None,
            role=Role.admin,
            settings=settings,
        )
        return account, True
    account.role = Role.admin.value
    account.is_active = True
    account.password_hash = await hash_password(password, settings)
    await session.flush()
    return account, False


async def register_account(
    uow: UnitOfWork,
    *,
    email: str,
    password: str,
    full_name: str,
    phone: str | None,
    role: Role,
    address: str,
    settings: Settings,
) -> UserAccount:
    """Self-registration: counted per client address first (each attempt costs an Argon2
    hash, so its own committed transaction charges it before any hashing), then hashed with
    no transaction open, then written."""
    now = utcnow()
    wait = await uow.run(
        lambda session: count_attempt(
            session,
            (registration_key(address=address, settings=settings),),
            window_seconds=settings.register_window_seconds,
            now=now,
        )
    )
    if wait is not None:
        raise too_many_attempts(TooManyRegistrations, "registrations from this address", wait)
    password_hash = await hash_password(password, settings)
    return await uow.run(
        lambda session: add_account(
            session,
            email=email,
            password_hash=password_hash,
            full_name=full_name,
            phone=phone,
            role=role,
        )
    )


# --- tokens ------------------------------------------------------------------------------------


async def issue_tokens(
    session: AsyncSession,
    *,
    account: UserAccount,
    settings: Settings,
    now: datetime,
    family_id: str | None = None,
) -> tuple[TokenResponse, RefreshToken]:
    """An access token and a new refresh token (a new family unless `family_id` is given)."""
    secret, token_hash = new_refresh_token()
    refresh_ttl = timedelta(days=settings.refresh_token_ttl_days)
    refresh = RefreshToken(
        user_id=account.id,
        family_id=family_id or uuid.uuid4().hex,
        token_hash=token_hash,
        created_at=now,
        expires_at=now + refresh_ttl,
    )
    session.add(refresh)
    await session.flush()
    access = create_access_token(user_id=account.id, role=account.role, settings=settings, now=now)
    response = TokenResponse(
        access_token=access.token,
        expires_in=access.expires_in,
        refresh_token=secret,
        refresh_expires_in=int(refresh_ttl.total_seconds()),
    )
    return response, refresh


async def login(
    uow: UnitOfWork, *, email: str, password: str, address: str, settings: Settings
) -> TokenResponse:
    """Tokens for valid credentials. Every failure looks the same (`invalid_credentials`,
    and an unknown e-mail still pays for one Argon2 verification), so the answer never tells
    whether an account exists. The password is checked outside any transaction: no row lock
    is held while Argon2 runs."""
    now = utcnow()
    keys = login_keys(key=email_key(email), address=address, settings=settings)

    async def count(session: AsyncSession) -> tuple[int | None, UserAccount | None]:
        wait = await count_attempt(
            session,
            keys.in_charge_order(),
            window_seconds=settings.login_failure_window_seconds,
            now=now,
        )
        return wait, None if wait else await find_account_by_email(session, email)

    wait, account = await uow.run(count)
    if wait is not None:
        raise too_many_attempts(TooManyLoginAttempts, "failed logins", wait)
    check = await verify_password(account.password_hash if account else None, password, settings)
    if account is None or not check.valid:
        raise InvalidCredentials("The e-mail or the password is wrong.")
    if not account.is_active:
        raise AccountDisabled("This account has been disabled.")
    signed_in = account

    async def finish(session: AsyncSession) -> TokenResponse:
        await forgive_attempt(session, keys)
        if check.upgraded_hash is not None:
            await session.execute(
                update(UserAccount)
                .where(UserAccount.id == signed_in.id)
                .values(password_hash=check.upgraded_hash)
            )
        response, _ = await issue_tokens(session, account=signed_in, settings=settings, now=now)
        return response

    return await uow.run(finish)


async def check_own_password(
    uow: UnitOfWork, *, user_id: int, password: str, address: str, settings: Settings
) -> UserAccount:
    """The signed-in caller's password, asked again before a change that needs it (a new
    password, a new e-mail). Charged to the sign-in throttle exactly like a sign-in, so a
    stolen access token is no faster a password oracle than `/auth/token`; `WrongPassword`
    (403, not 401: the token itself is fine) when it is not right."""
    now = utcnow()

    async def charge(session: AsyncSession) -> tuple[int | None, UserAccount, LoginKeys]:
        account = await get_account(session, user_id)
        keys = login_keys(key=account.email_key, address=address, settings=settings)
        wait = await count_attempt(
            session,
            keys.in_charge_order(),
            window_seconds=settings.login_failure_window_seconds,
            now=now,
        )
        return wait, account, keys

    wait, account, keys = await uow.run(charge)
    if wait is not None:
        raise too_many_attempts(TooManyLoginAttempts, "wrong passwords", wait)
    if not (await verify_password(account.password_hash, password, settings)).valid:
        raise WrongPassword("The current password is not right.")
    await uow.run(lambda session: forgive_attempt(session, keys))
    return account


async def change_password(
    uow: UnitOfWork,
    *,
    user_id: int,
    current_password: str,
    new_password: str,
    address: str,
    settings: Settings,
) -> TokenResponse:
    """A new password, proved by the current one. Every session of the account ends (its
    refresh tokens are revoked, its access tokens refused from now on); the caller gets new
    tokens, issued at that same instant, so theirs goes on."""
    await check_own_password(
        uow, user_id=user_id, password=current_password, address=address, settings=settings
    )
    password_hash = await hash_password(new_password, settings)
    now = utcnow()

    async def change(session: AsyncSession) -> TokenResponse:
        account = await get_account(session, user_id, for_update=True)
        await session.execute(
            update(UserAccount)
            .where(UserAccount.id == user_id)
            .values(password_hash=password_hash)
            .execution_options(synchronize_session=False)
        )
        await revoke_all_refresh_tokens(session, user_id=user_id, now=now)
        response, _ = await issue_tokens(session, account=account, settings=settings, now=now)
        return response

    return await uow.run(change)


async def rotate_refresh_token(
    session: AsyncSession, *, secret: str, settings: Settings, now: datetime
) -> TokenResponse | None:
    """New tokens for a valid refresh token, which stops working. `None` when it is not
    valid: the caller answers 401 after this transaction commits, because presenting an
    already rotated token revokes its whole family (someone holds a copy: a thief or the
    victim, and we cannot tell which), and that revocation must stick."""
    token = await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == hash_refresh_token(secret))
    )
    if token is None:
        return None
    if token.revoked_at is not None:
        if token.replaced_by_id is not None:
            await _revoke_family(session, token, now=now, reason="reuse")
        return None
    if token.expires_at <= now:
        return None
    account = await session.get(UserAccount, token.user_id)
    if account is None or not account.is_active:
        return None
    response, successor = await issue_tokens(
        session, account=account, settings=settings, now=now, family_id=token.family_id
    )
    # Guarded in SQL: of two concurrent rotations of one token exactly one wins; the other
    # is a reuse of a rotated token and is treated as such.
    result = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == token.id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now, replaced_by_id=successor.id)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        await _revoke_family(session, token, now=now, reason="concurrent reuse")
        return None
    return response


async def revoke_refresh_token(session: AsyncSession, *, secret: str, now: datetime) -> None:
    """Log out: revoke the token's family (every token of that sign-in) and the account's
    access tokens issued until now. Unknown tokens are ignored, so logging out twice is
    harmless."""
    token = await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == hash_refresh_token(secret))
    )
    if token is not None:
        await _revoke_family(session, token, now=now, reason=None)


async def revoke_access_tokens(session: AsyncSession, *, user_id: int, now: datetime) -> None:
    """Access tokens of the account issued before `now` stop working at once: the instant
    is read by the account lookup every authenticated request makes. An access token names
    no sign-in, so this ends those of every session of the account; the others get new ones
    with their refresh tokens. Never moved back: a slower concurrent revocation keeps the
    later instant."""
    await session.execute(
        update(UserAccount)
        .where(
            UserAccount.id == user_id,
            or_(UserAccount.tokens_valid_after.is_(None), UserAccount.tokens_valid_after < now),
        )
        .values(tokens_valid_after=now)
        .execution_options(synchronize_session=False)
    )


async def revoke_all_refresh_tokens(session: AsyncSession, *, user_id: int, now: datetime) -> None:
    """Sign out everywhere: every refresh token of the account, and its access tokens."""
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    await revoke_access_tokens(session, user_id=user_id, now=now)


async def _revoke_family(
    session: AsyncSession, token: RefreshToken, *, now: datetime, reason: str | None
) -> None:
    if reason is not None:
        logger.warning(
            "refresh token %s: revoking its family", reason, extra={"family": token.family_id}
        )
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == token.family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    await revoke_access_tokens(session, user_id=token.user_id, now=now)
