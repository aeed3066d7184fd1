"""Password hashing, access and refresh tokens, and the principal and role dependencies.

Routers of both services declare who may call them with the `Annotated` aliases below:

- `CurrentUser`: any signed-in, active account (else 401).
- `AdminUser`: an active admin (401 without a valid token, 403 for a customer).
- `OptionalUser`: the principal when a valid token is sent, `None` when none is sent.
- `RequireUser` / `RequireAdmin`: the same checks for `dependencies=[...]` on a route or a
  whole router, when the endpoint does not need the principal itself, e.g.
  `@router.post("", dependencies=[RequireAdmin])`.

The token only proves who the caller is; the role and the active flag are read from the
database on every request (one primary-key read), so demoting or disabling an account takes
effect on its very next request instead of when its access token expires.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Annotated, Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import Integer, bindparam, select
from starlette.concurrency import run_in_threadpool

from common.config import Settings
from common.db.types import utcnow
from common.errors import Forbidden, Unauthenticated
from common.models.identity import Role, UserAccount
from common.web.dependencies import database_of, settings_of

JWT_ALGORITHM = "HS256"
# Names, not secrets (ruff's S105 matches the word "token").
ACCESS_TOKEN_TYPE = "access"  # noqa: S105
TOKEN_URL = "/auth/token"  # noqa: S105
# Longer passwords are refused before hashing: Argon2 would happily spend CPU on megabytes.
PASSWORD_MAX_LENGTH = 128
PASSWORD_MIN_LENGTH = 8


class InvalidToken(Unauthenticated):
    code = "invalid_token"
    title = "Invalid or expired token"


class AccountDisabled(Unauthenticated):
    code = "account_disabled"
    title = "Account disabled"


# --- passwords ---------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _hasher(time_cost: int, memory_cost: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)


def password_hasher(settings: Settings) -> PasswordHasher:
    return _hasher(
        settings.password_hash_time_cost,
        settings.password_hash_memory_cost_kib,
        settings.password_hash_parallelism,
    )


@lru_cache(maxsize=4)
def _dummy_hash(hasher: PasswordHasher) -> str:
    return hasher.hash(secrets.token_urlsafe(16))


async def hash_password(password: str, settings: Settings) -> str:
    # Argon2 is deliberately slow and CPU-bound: keep it off the event loop.
    return await run_in_threadpool(password_hasher(settings).hash, password)


@dataclass(frozen=True)
class PasswordCheck:
    valid: bool
    # A fresh hash when the stored one was made with other parameters than today's.
    upgraded_hash: str | None = None


def _verify(hasher: PasswordHasher, stored_hash: str, password: str) -> PasswordCheck:
    try:
        hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return PasswordCheck(valid=False)
    if hasher.check_needs_rehash(stored_hash):
        return PasswordCheck(valid=True, upgraded_hash=hasher.hash(password))
    return PasswordCheck(valid=True)


async def verify_password(
    stored_hash: str | None, password: str, settings: Settings
) -> PasswordCheck:
    """Check `password`; with no account (`stored_hash=None`) verify against a dummy hash
    anyway, so an unknown e-mail costs the same time as a wrong password."""
    hasher = password_hasher(settings)
    if len(password) > PASSWORD_MAX_LENGTH:
        return PasswordCheck(valid=False)
    if stored_hash is None:
        await run_in_threadpool(_verify, hasher, _dummy_hash(hasher), password)
        return PasswordCheck(valid=False)
    return await run_in_threadpool(_verify, hasher, stored_hash, password)


# --- access tokens -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AccessToken:
    token: str
    expires_in: int
    expires_at: datetime


def create_access_token(
    *, user_id: int, role: str, settings: Settings, now: datetime | None = None
) -> AccessToken:
    """A signed HS256 JWT. `now` exists so tests can mint an already expired token with the
    real encoder instead of faking the clock."""
    issued_at = now or utcnow()
    ttl = settings.access_token_ttl_seconds
    expires_at = issued_at + timedelta(seconds=ttl)
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "role": role,
        "type": ACCESS_TOKEN_TYPE,
        "iat": int(issued_at.timestamp()),
        "exp": int(expires_at.timestamp()),
        "jti": uuid.uuid4().hex,
    }
    token = jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm=JWT_ALGORITHM)
    return AccessToken(token=token, expires_in=ttl, expires_at=expires_at)


def decode_access_token(token: str, settings: Settings) -> int:
    """The user id an access token was issued to; `InvalidToken` for anything else.

    Only HS256 is accepted (never `none`, never an algorithm the token names itself), and
    every claim we rely on must be present."""
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret.get_secret_value(),
            algorithms=[JWT_ALGORITHM],
            options={"require": ["sub", "type", "iat", "exp", "jti"]},
        )
    except jwt.ExpiredSignatureError as error:
        raise _invalid_token("The access token has expired.") from error
    except jwt.InvalidTokenError as error:
        raise _invalid_token("The access token is not valid.") from error
    if claims.get("type") != ACCESS_TOKEN_TYPE:
        raise _invalid_token("This is not an access token.")
    subject = claims["sub"]
    if not (isinstance(subject, str) and subject.isdigit()):
        raise _invalid_token("The access token is not valid.")
    return int(subject)


def _invalid_token(detail: str) -> InvalidToken:
    return InvalidToken(detail, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


# --- refresh tokens ----------------------------------------------------------------------------


def new_refresh_token() -> tuple[str, str]:
    """A fresh refresh token and the hash under which it is stored.

    256 random bits need no slow hash: nobody can brute-force them, and SHA-256 lets the
    server find the row by an indexed lookup."""
    secret = secrets.token_urlsafe(32)
    return secret, hash_refresh_token(secret)


def hash_refresh_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# --- principal and role dependencies -----------------------------------------------------------

bearer_scheme = OAuth2PasswordBearer(
    tokenUrl=TOKEN_URL,
    auto_error=False,
    description="Sign in at `POST /auth/token` (username = e-mail) to get an access token.",
)


@dataclass(frozen=True)
class Principal:
    """The caller, as the database knows it at the start of this request."""

    id: int
    email: str
    role: str

    @property
    def actor(self) -> str:
        """How ledgers (stock movements, sales) name who made a change."""
        return f"user:{self.id}"

    @property
    def is_admin(self) -> bool:
        return self.role == Role.admin

    def can_act_for(self, user_id: int) -> bool:
        return self.is_admin or self.id == user_id


# Every authenticated request runs this: built once, so its cache key is worked out once.
_ACCOUNT_OF_TOKEN = select(UserAccount.email, UserAccount.role, UserAccount.is_active).where(
    UserAccount.id == bindparam("user_id", type_=Integer())
)


async def get_optional_user(
    request: Request, token: Annotated[str | None, Depends(bearer_scheme)]
) -> Principal | None:
    """`None` without a bearer token; a token that is sent must be valid (never ignored)."""
    if token is None:
        return None
    settings = settings_of(request)
    user_id = decode_access_token(token, settings)
    # A short session of its own: the endpoint may run its work in a unit of work on another
    # connection, and this one should not stay checked out meanwhile.
    async with database_of(request).session_factory() as session:
        row = (await session.execute(_ACCOUNT_OF_TOKEN, {"user_id": user_id})).one_or_none()
    if row is None:
        raise _invalid_token("The account of this token no longer exists.")
    if not row.is_active:
        raise AccountDisabled(
            "This account has been disabled.",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    return Principal(id=user_id, email=row.email, role=row.role)


async def get_current_user(
    principal: Annotated[Principal | None, Depends(get_optional_user)],
) -> Principal:
    if principal is None:
        raise Unauthenticated("Send an access token: Authorization: Bearer <token>.")
    return principal


async def get_admin_user(principal: Annotated[Principal, Depends(get_current_user)]) -> Principal:
    if not principal.is_admin:
        raise Forbidden("Only an admin may do this.")
    return principal


OptionalUser = Annotated[Principal | None, Depends(get_optional_user)]
CurrentUser = Annotated[Principal, Depends(get_current_user)]
AdminUser = Annotated[Principal, Depends(get_admin_user)]
RequireUser = Depends(get_current_user)
RequireAdmin = Depends(get_admin_user)
