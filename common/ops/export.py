"""`python -m common.ops export`: download an export from a running service to a file.

The files are the services' own (`GET /api/v1/exports/...`), so the CLI writes exactly what
the API answers, with the same filters, neutralization and bounded memory. The command signs
in as an active admin of the configured database by minting a short-lived access token with
the configured `JWT_SECRET` (no password on the command line), and streams the response to
disk in chunks while a progress bar counts the bytes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import select

from common.config import Settings
from common.identity.schemas import email_key
from common.identity.tokens import create_access_token
from common.models.identity import Role, UserAccount
from common.ops.database import open_bulk_database

# Which service serves which export.
EXPORTS: dict[str, str] = {
    "products": "products",
    "inventory-movements": "products",
    "orders": "sales",
    "customers": "sales",
    "sales": "sales",
    "wallet-entries": "sales",
}
DEFAULT_URLS = {"products": "http://127.0.0.1:8000", "sales": "http://127.0.0.1:8001"}
_FILENAME = re.compile(r'filename="([^"/\\]+)"')


class ExportFailed(Exception):
    """The service refused the export (its problem detail is the message) or is not there."""


@dataclass(frozen=True)
class Downloaded:
    path: Path
    bytes: int


async def admin_token(settings: Settings, email: str | None) -> str:
    """An access token of the admin with this e-mail, or of the first active admin."""
    async with open_bulk_database(settings) as database, database.session_factory() as session:
        statement = select(UserAccount).where(
            UserAccount.role == Role.admin.value, UserAccount.is_active.is_(True)
        )
        if email is not None:
            statement = statement.where(UserAccount.email_key == email_key(email))
        admin = await session.scalar(statement.order_by(UserAccount.id).limit(1))
    if admin is None:
        raise ExportFailed(
            f"no active admin {email or ''} in the database; create one with create-admin"
        )
    return create_access_token(user_id=admin.id, role=admin.role, settings=settings).token


async def download(
    client: httpx.AsyncClient,
    name: str,
    *,
    token: str,
    params: Mapping[str, str],
    output: Path | None,
    on_bytes: Callable[[int], None] | None = None,
) -> Downloaded:
    """Stream `GET /api/v1/exports/{name}` into `output` (default: the file name the service
    gives, in the working directory)."""
    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with client.stream(
            "GET", f"/api/v1/exports/{name}", params=params, headers=headers
        ) as response:
            if response.status_code != 200:
                await response.aread()
                detail = response.json().get("detail") if response.content else None
                raise ExportFailed(f"{response.status_code}: {detail or response.text[:200]}")
            match = _FILENAME.search(response.headers.get("content-disposition", ""))
            path = output or Path(match.group(1) if match else f"{name}.csv")
            written = 0
            with path.open("wb") as file:
                async for chunk in response.aiter_bytes():
                    file.write(chunk)
                    written += len(chunk)
                    if on_bytes is not None:
                        on_bytes(len(chunk))
    except httpx.TransportError as error:
        raise ExportFailed(f"cannot reach {client.base_url}: {error}") from error
    return Downloaded(path=path, bytes=written)
