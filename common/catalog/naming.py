"""Category naming rules, shared by the catalog API and the bulk import (which `common`
runs for the command line too, so the rules cannot live in the products service)."""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.models.catalog import CATEGORY_SLUG_MAX, Category


def name_key(name: str) -> str:
    """What makes two names the same name: case and inner spacing do not count."""
    return " ".join(name.split()).casefold()


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    # Leave room for a "-NN" suffix; a name of only non-Latin letters still gets a slug.
    return slug[: CATEGORY_SLUG_MAX - 8].rstrip("-") or "category"


async def unique_slug(session: AsyncSession, name: str, *, category_id: int | None) -> str:
    base = slugify(name)
    taken = set(
        (
            await session.scalars(
                select(Category.slug).where(
                    or_(Category.slug == base, Category.slug.like(f"{base}-%")),
                    Category.id != (category_id or 0),
                )
            )
        ).all()
    )
    if base not in taken:
        return base
    suffix = 2
    while f"{base}-{suffix}" in taken:
        suffix += 1
    return f"{base}-{suffix}"
