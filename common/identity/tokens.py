"""Access tokens (HS256 JWTs) and refresh tokens: pure functions, no web framework."""

from __future__ import annotations

import hashlib
import math
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from common.config import Settings
from common.db.types import utcnow
from common.errors import Unauthenticated
from common.schemas.fields import MAX_ID

JWT_ALGORITHM = "HS256"
# A name, not a secret (ruff's S105 matches the word "token").
ACCESS_TOKEN_TYPE = "access"  # noqa: S105
# An account id as a token names it: ASCII digits, no sign, no leading zero (`str.isdigit`
# also takes other scripts' digits, which `int` then reads as an id).
_SUBJECT = re.compile(r"[1-9][0-9]{0,9}")


class InvalidToken(Unauthenticated):
    code = "invalid_token"
    title = "Invalid or expired token"


# --- access tokens -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AccessToken:
    token: str
    expires_in: int
    expires_at: datetime


@dataclass(frozen=True)
class AccessClaims:
    """What a valid access token says: whose it is and when it was issued (to the
    microsecond, compared with the account's `tokens_valid_after`)."""

    user_id: int
    issued_at: datetime


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
        # A NumericDate may have a fraction (RFC 7519, 2): microseconds, so a token issued in
        # the same second as a sign-out is still told apart from one issued after it.
        "iat": round(issued_at.timestamp(), 6),
        "exp": int(expires_at.timestamp()),
        "jti": uuid.uuid4().hex,
    }
    token = jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm=JWT_ALGORITHM)
    return AccessToken(token=token, expires_in=ttl, expires_at=expires_at)


def decode_access_token(token: str, settings: Settings) -> AccessClaims:
    """Whose an access token is and when it was issued; `InvalidToken` for anything else.

    Only HS256 is accepted (never `none`, never an algorithm the token names itself), every
    claim we rely on must be present, and `sub` must be an id that can exist (ASCII digits,
    1..2^31-1)."""
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret.get_secret_value(),
            algorithms=[JWT_ALGORITHM],
            options={"require": ["sub", "type", "iat", "exp", "jti"]},
        )
    except jwt.ExpiredSignatureError as error:
        raise invalid_token("The access token has expired.") from error
    except jwt.InvalidTokenError as error:
        raise invalid_token("The access token is not valid.") from error
    if claims.get("type") != ACCESS_TOKEN_TYPE:
        raise invalid_token("This is not an access token.")
    subject, issued = claims["sub"], claims["iat"]
    if not (isinstance(subject, str) and _SUBJECT.fullmatch(subject) and int(subject) <= MAX_ID):
        raise invalid_token("The access token is not valid.")
    if isinstance(issued, bool) or not isinstance(issued, int | float) or not math.isfinite(issued):
        raise invalid_token("The access token is not valid.")
    return AccessClaims(user_id=int(subject), issued_at=datetime.fromtimestamp(issued, UTC))


def invalid_token(detail: str) -> InvalidToken:
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
