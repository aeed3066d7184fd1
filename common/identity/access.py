"""Who is calling: the principal and the access dependencies every route declares.

Routers of both services declare who may call them with the `Annotated` aliases below:

- `CurrentUser`: any signed-in, active account (else 401).
- `AdminUser`: an active admin (401 without a valid token, 403 for a customer).
- `SelfOrAdmin`: on `/customers/{customer_id}/...`, that customer or an admin (else 403).
- `OptionalUser`: the principal when a valid token is sent, `None` when none is sent.
- `Public`: anyone, signed in or not; the route says so explicitly.

Every route takes exactly one of them as a parameter, so its access is visible where it is
declared (`tests/common/test_route_access.py` walks both apps to keep it that way); no router
and no `dependencies=[...]` carries a guard.

The token only proves who the caller is; the role, the active flag and `tokens_valid_after`
are read from the database on every request (one primary-key read, the same one), so
demoting or disabling an account, signing out or changing the password takes effect on its
very next request instead of when its access token expires.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import Integer, bindparam, select

from common.errors import Forbidden, Unauthenticated
from common.identity.schemas import CustomerId
from common.identity.tokens import decode_access_token, invalid_token
from common.models.identity import Role, UserAccount
from common.web.dependencies import database_of, settings_of
from common.web.openapi import documents_problems

# A path, not a secret (ruff's S105 matches the word "token"). Relative, so Swagger UI signs in
# at the service's own `/auth/token` wherever the service is mounted (a path prefix included).
TOKEN_URL = "auth/token"  # noqa: S105


class AccountDisabled(Unauthenticated):
    code = "account_disabled"
    title = "Account disabled"


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
_ACCOUNT_OF_TOKEN = select(
    UserAccount.email, UserAccount.role, UserAccount.is_active, UserAccount.tokens_valid_after
).where(UserAccount.id == bindparam("user_id", type_=Integer()))


@documents_problems(401)
async def get_optional_user(
    request: Request, token: Annotated[str | None, Depends(bearer_scheme)]
) -> Principal | None:
    """`None` without a bearer token; a token that is sent must be valid (never ignored)."""
    if token is None:
        return None
    settings = settings_of(request)
    claims = decode_access_token(token, settings)
    user_id = claims.user_id
    # A short session of its own: the endpoint may run its work in a unit of work on another
    # connection, and this one should not stay checked out meanwhile.
    async with database_of(request).session_factory() as session:
        row = (await session.execute(_ACCOUNT_OF_TOKEN, {"user_id": user_id})).one_or_none()
    if row is None:
        raise invalid_token("The account of this token no longer exists.")
    if not row.is_active:
        raise AccountDisabled(
            "This account has been disabled.",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    if row.tokens_valid_after is not None and claims.issued_at < row.tokens_valid_after:
        raise invalid_token("This access token was revoked (signed out or password changed).")
    return Principal(id=user_id, email=row.email, role=row.role)


@documents_problems(401)
async def get_current_user(
    principal: Annotated[Principal | None, Depends(get_optional_user)],
) -> Principal:
    if principal is None:
        raise Unauthenticated("Send an access token: Authorization: Bearer <token>.")
    return principal


@documents_problems(403)
async def get_admin_user(principal: Annotated[Principal, Depends(get_current_user)]) -> Principal:
    if not principal.is_admin:
        raise Forbidden("Only an admin may do this.")
    return principal


OptionalUser = Annotated[Principal | None, Depends(get_optional_user)]
CurrentUser = Annotated[Principal, Depends(get_current_user)]
AdminUser = Annotated[Principal, Depends(get_admin_user)]


async def public() -> None:
    """Anyone may call the route: it declares so, rather than declaring nothing."""


Public = Annotated[None, Depends(public)]


@documents_problems(403)
async def get_self_or_admin(customer_id: CustomerId, principal: CurrentUser) -> Principal:
    """Who may act on `/customers/{customer_id}/...`: that customer, or an admin."""
    if not principal.can_act_for(customer_id):
        raise Forbidden("Customers may only act on their own account.")
    return principal


SelfOrAdmin = Annotated[Principal, Depends(get_self_or_admin)]
