"""What `./docker-manager.sh dev` prepares so a newcomer can sign in at once: the demo store in
an empty catalog, and a development admin with a generated password when there is no admin.

The password is shown once, when it is made, and kept in a file of its own (mode 0600) under
the untracked `var/`; later runs point at that file instead of printing it again.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.config import Settings
from common.db import run_in_transaction
from common.identity.accounts import create_or_promote_admin
from common.models.identity import Role, UserAccount
from common.ops.database import open_bulk_database
from common.ops.demo.options import CatalogNotEmpty, DemoOptions, DemoSummary
from common.ops.demo.seed import seed_demo_data

DEV_ADMIN_EMAIL = "admin@example.com"


@dataclass(frozen=True)
class DevStore:
    """What `prepare_dev_store` did. `admin_password` is set only when the admin was made now."""

    demo: DemoSummary | None
    admin_email: str | None
    admin_password: str | None


async def prepare_dev_store(
    settings: Settings, *, credentials: Path, demo: DemoOptions | None
) -> DevStore:
    """Seed `demo` when the catalog is empty (None: never), then create the development admin
    when no admin exists, writing its e-mail and password to `credentials` (mode 0600)."""
    summary: DemoSummary | None = None
    if demo is not None:
        try:
            summary = await seed_demo_data(settings, demo)
        except CatalogNotEmpty:
            summary = None
    async with open_bulk_database(settings) as database:
        async with database.session_factory() as session:
            has_admin = await session.scalar(
                select(exists().where(UserAccount.role == Role.admin.value))
            )
        if has_admin:
            return DevStore(demo=summary, admin_email=None, admin_password=None)
        password = secrets.token_urlsafe(18)

        async def work(session: AsyncSession) -> None:
            await create_or_promote_admin(
                session, email=DEV_ADMIN_EMAIL, password=password, settings=settings
            )

        # Written before the commit: an admin nobody can sign in as would be worse than a
        # file naming an admin that a failed commit never made (the next run overwrites it).
        write_private_file(credentials, f"email: {DEV_ADMIN_EMAIL}\npassword: {password}\n")
        await run_in_transaction(database.session_factory, work)
    return DevStore(demo=summary, admin_email=DEV_ADMIN_EMAIL, admin_password=password)


def write_private_file(path: Path, text: str) -> None:
    """Replace `path` with `text`, readable by its owner only (0600 from the first byte)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
