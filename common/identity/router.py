"""`/auth/*`: mounted at the root of both services, so either one's Swagger UI can sign in."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from common.db.types import utcnow
from common.identity.access import CurrentUser, Public
from common.identity.accounts import (
    InvalidRefreshToken,
    change_password,
    get_account,
    login,
    revoke_all_refresh_tokens,
    revoke_refresh_token,
    rotate_refresh_token,
)
from common.identity.schemas import AccountRead, PasswordChange, RefreshRequest, TokenResponse
from common.web.dependencies import SessionDep, SettingsDep, UnitOfWorkDep
from common.web.openapi import problem_responses

router = APIRouter(prefix="/auth", tags=["auth"])
AUTH_TAG = {
    "name": "auth",
    "description": "Sign in with e-mail and password, refresh and revoke tokens. Use the "
    "**Authorize** button with your e-mail as username.",
}


def client_address(request: Request) -> str:
    """The client's address: the peer's, or what X-Forwarded-For says when the peer is one
    of `TRUSTED_PROXIES` (resolved by the app's outermost middleware, and by uvicorn started
    with `--forwarded-allow-ips` from the same setting). Never a header from anyone else."""
    return request.client.host if request.client else "unknown"


@router.post(
    "/token",
    response_model=TokenResponse,
    summary="Sign in (OAuth2 password flow)",
    responses=problem_responses(401, 422, 429),
    openapi_extra={
        "requestBody": {
            "content": {
                "application/x-www-form-urlencoded": {
                    "example": {"username": "ada@example.com", "password": "correct horse battery"}
                }
            }
        }
    },
)
async def issue_token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    _public: Public,
    request: Request,
    uow: UnitOfWorkDep,
    settings: SettingsDep,
) -> TokenResponse:
    """A form (`username` = e-mail, `password`), as OAuth2's password flow sends it. Returns
    a short-lived access token (send it as `Authorization: Bearer <token>`) and a single-use
    refresh token. Wrong credentials are 401; repeated failures are throttled (429)."""
    return await login(
        uow,
        email=form.username,
        password=form.password,
        address=client_address(request),
        settings=settings,
    )


@router.post(
    "/refresh",
    response_model=TokenResponse,
    summary="Exchange a refresh token for new tokens (the old one stops working)",
    responses=problem_responses(401, 422),
)
async def refresh(
    body: RefreshRequest, _public: Public, uow: UnitOfWorkDep, settings: SettingsDep
) -> TokenResponse:
    now = utcnow()
    tokens = await uow.run(
        lambda session: rotate_refresh_token(
            session, secret=body.refresh_token, settings=settings, now=now
        )
    )
    # Raised only after the unit committed: a detected reuse must stay revoked.
    if tokens is None:
        raise InvalidRefreshToken("The refresh token is not valid; sign in again.")
    return tokens


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    response_model=None,
    summary="Revoke a refresh token and every token rotated from the same sign-in",
    responses=problem_responses(422),
)
async def logout(body: RefreshRequest, _public: Public, session: SessionDep) -> None:
    await revoke_refresh_token(session, secret=body.refresh_token, now=utcnow())


@router.get(
    "/me",
    response_model=AccountRead,
    summary="The signed-in account",
    responses=problem_responses(401),
)
async def me(principal: CurrentUser, session: SessionDep) -> AccountRead:
    return AccountRead.model_validate(await get_account(session, principal.id))


@router.post(
    "/password",
    response_model=TokenResponse,
    summary="Change the password (the current one required); every other session ends",
    description="Answers new tokens for the caller; every refresh and access token issued "
    "to the account before is revoked. A wrong current password is 403 `wrong_password`, "
    "counted like a failed sign-in (429 beyond); a common or repetitive new password is 422.",
    responses=problem_responses(401, 403, 422, 429),
)
async def change_own_password(
    body: PasswordChange,
    principal: CurrentUser,
    request: Request,
    uow: UnitOfWorkDep,
    settings: SettingsDep,
) -> TokenResponse:
    return await change_password(
        uow,
        user_id=principal.id,
        current_password=body.current_password,
        new_password=body.new_password,
        address=client_address(request),
        settings=settings,
    )


@router.post(
    "/logout-all",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    response_model=None,
    summary="Sign out everywhere: revoke every refresh and access token of the account",
    responses=problem_responses(401),
)
async def logout_all(principal: CurrentUser, session: SessionDep) -> None:
    await revoke_all_refresh_tokens(session, user_id=principal.id, now=utcnow())
