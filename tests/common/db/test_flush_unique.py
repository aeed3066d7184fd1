"""`flush_unique`: a unique key lost to another writer becomes the domain's own 409."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from common.db.transaction import flush_unique
from common.errors import Conflict
from common.models import Category, Product
from tests.fixtures.factories import make_product


class Taken(Conflict):
    code = "taken"


async def test_duplicate_becomes_the_given_error(
    session: AsyncSession,
) -> None:
    product_id = await make_product(session, sku="UNIQUE-1")
    category_id = await session.scalar(select(Product.category_id).where(Product.id == product_id))
    # What a concurrent writer's row looks like: the pre-check never saw it.
    session.add(Product(sku="UNIQUE-1", name="Twin", category_id=category_id, price=Decimal(1)))
    with pytest.raises(Taken):
        await flush_unique(session, "product", {"sku": Taken})


async def test_other_integrity_errors_are_not_disguised(session: AsyncSession) -> None:
    session.add(Category(name="A", name_key="a", slug="same"))
    session.add(Category(name="B", name_key="b", slug="same"))
    with pytest.raises(IntegrityError, match=r"(?i)duplicate|unique"):
        await flush_unique(session, "category", {"name_key": Taken})
