"""The demo store's catalog: categories, products with prices and costs, their opening stock.

Categories and products come from `common.ops.demo.catalog`; each product's reorder point is
planned from its expected demand. Stock is tracked in Python during the run and written to
`product.stock_on_hand` once at the end (`store_levels`).
"""

from __future__ import annotations

import math
import random
from decimal import Decimal

from sqlalchemy import bindparam, update

from common.models.catalog import Category, Product, ProductStatus
from common.models.inventory import MovementKind
from common.ops.demo.catalog import CATEGORIES, CategorySpec
from common.ops.demo.ledger import move
from common.ops.demo.options import CENT, MEAN_QUANTITY, NEGLECTED_SHARE
from common.ops.demo.state import DemoProduct, DemoStore, allocate
from common.ops.demo.writer import next_id, table_of


async def seed_catalog(store: DemoStore) -> None:
    store.stage("catalog")
    options = store.options
    specs = CATEGORIES[: min(len(CATEGORIES), options.products)]
    first_category = await next_id(store.connection, table_of(Category))
    per_category = allocate(options.products, [spec.catalog_share for spec in specs])
    category_ids = range(first_category, first_category + len(specs))
    for category_id, spec in zip(category_ids, specs, strict=True):
        await store.writer.add(
            table_of(Category),
            {
                "id": category_id,
                "name": spec.name,
                "name_key": spec.name.casefold(),
                "slug": spec.slug,
                "description": spec.description,
                "created_at": store.opened_at,
                "updated_at": store.opened_at,
            },
        )
    store.summary.categories = len(specs)
    store.category_specs = dict(zip(category_ids, specs, strict=True))
    next_product = await next_id(store.connection, table_of(Product))
    for category_id, spec, count in zip(category_ids, specs, per_category, strict=True):
        for number in range(1, count + 1):
            await _add_product(store, next_product, category_id, spec, number)
            next_product += 1
    _plan_stock(store)
    for product in store.products:
        await move(store, product, MovementKind.INITIAL, product.order_up_to, store.opened_at)
    store.progress.update()


async def _add_product(
    store: DemoStore, product_id: int, category_id: int, spec: CategorySpec, number: int
) -> None:
    rng = store.rng
    item = spec.items[(number - 1) % len(spec.items)]
    brand = rng.choice(spec.brands)
    variant = rng.choice(spec.variants)
    price = _price(rng, item.min_price, item.max_price)
    margin = Decimal(str(round(rng.uniform(*spec.margin), 2)))
    cost = (price * (1 - margin)).quantize(CENT)
    # A few best sellers and a long tail; cheaper items sell more often.
    weight = spec.demand * rng.lognormvariate(0, 0.9) / float(price) ** 0.35
    store.products.append(
        DemoProduct(
            id=product_id,
            category_id=category_id,
            price=price,
            cost=cost,
            weight=weight,
            discount_rate=spec.discount_rate,
            reorder_at=0,
            order_up_to=0,
            neglected=False,
        )
    )
    await store.writer.add(
        table_of(Product),
        {
            "id": product_id,
            "sku": f"{spec.sku_prefix}-{product_id:06d}",
            "name": f"{brand} {item.noun}, {variant}",
            "description": f"{item.noun} by {brand} ({variant}). {spec.description}",
            "category_id": category_id,
            "price": price,
            "cost_price": cost,
            "image_url": None,
            "status": ProductStatus.ACTIVE.value,
            "low_stock_threshold": 10,
            "stock_on_hand": 0,
            "created_at": store.opened_at,
            "updated_at": store.opened_at,
        },
    )


def _price(rng: random.Random, low: float, high: float) -> Decimal:
    """A shelf price ending in .99."""
    return Decimal(max(1, round(rng.uniform(low, high)))) - CENT


def _plan_stock(store: DemoStore) -> None:
    """Reorder points from each product's expected demand: about 10 days of cover
    triggers a restock up to about 45 days."""
    total_weight = sum(product.weight for product in store.products)
    daily_units = store.options.sales * MEAN_QUANTITY / store.options.days
    best_per_category: dict[int, DemoProduct] = {}
    for product in store.products:
        best = best_per_category.get(product.category_id)
        if best is None or product.weight > best.weight:
            best_per_category[product.category_id] = product
    for product in store.products:
        daily = daily_units * product.weight / total_weight
        product.reorder_at = max(5, math.ceil(daily * 10))
        product.order_up_to = max(20, math.ceil(daily * 45))
        product.neglected = (
            best_per_category[product.category_id] is not product
            and store.rng.random() < NEGLECTED_SHARE
        )
    store.fallback = best_per_category


async def store_levels(store: DemoStore) -> None:
    """The cached level of each product: what its ledger adds up to."""
    table = table_of(Product)
    await store.connection.execute(
        update(table)
        .where(table.c.id == bindparam("product_id"))
        .values(
            stock_on_hand=bindparam("level"),
            low_stock_threshold=bindparam("threshold"),
        ),
        [
            {
                "product_id": product.id,
                "level": product.level,
                "threshold": product.reorder_at,
            }
            for product in store.products
        ],
    )
    store.summary.products = len(store.products)
    store.summary.stock_on_hand = sum(product.level for product in store.products)
